#!/usr/bin/env node
// The `ssmax` command. Runs the TypeScript sources through tsx's loader so that IT tools and tests
// use exactly the code in the tree; a packaged build replaces this with compiled JavaScript.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../main.ts');
process.exitCode = await main(process.argv.slice(2));
