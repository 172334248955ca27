import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

/**
 * The dependency direction (README "Layout") is a lint rule, not a convention: these cases prove
 * that the rule fires for each forbidden import and stays quiet for allowed ones.
 */
const eslint = new ESLint({ cwd: process.cwd() });

async function ruleIdsFor(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).map((m) => m.ruleId ?? m.message);
}

describe('layering rules', () => {
  const forbidden: Array<[string, string, string]> = [
    ['smime/x.ts', "import { connect } from 'node:net';\nexport const c = connect;\n", 'no-restricted-imports'],
    ['smime/x.ts', "import { readFileSync } from 'node:fs';\nexport const r = readFileSync;\n", 'no-restricted-imports'],
    ['smime/x.ts', "import { app } from 'electron';\nexport const a = app;\n", 'no-restricted-imports'],
    ['smime/x.ts', "import { useState } from 'react';\nexport const u = useState;\n", 'no-restricted-imports'],
    ['renderer/x.ts', "import { readFileSync } from 'node:fs';\nexport const r = readFileSync;\n", 'import-x/no-nodejs-modules'],
    ['renderer/x.ts', "import path from 'path';\nexport const p = path;\n", 'import-x/no-nodejs-modules'],
    ['renderer/x.ts', "import { ipcRenderer } from 'electron';\nexport const i = ipcRenderer;\n", 'no-restricted-imports'],
    ['api/x.ts', "import { EventEmitter } from 'node:events';\nexport const e = EventEmitter;\n", 'import-x/no-nodejs-modules'],
    ['native/x.ts', "import { app } from 'electron';\nexport const a = app;\n", 'no-restricted-imports'],
  ];
  it.each(forbidden)('%s: forbids %j', async (file, code, rule) => {
    expect(await ruleIdsFor(file, code)).toContain(rule);
  });

  const allowed: Array<[string, string]> = [
    ['smime/x.ts', "import { createHash } from 'node:crypto';\nexport const h = createHash;\n"],
    ['native/x.ts', "import { EventEmitter } from 'node:events';\nexport const e = EventEmitter;\n"],
    ['org-node/x.ts', "import { createServer } from 'node:net';\nexport const s = createServer;\n"],
  ];
  it.each(allowed)('%s: allows %j', async (file, code) => {
    expect(await ruleIdsFor(file, code)).toEqual([]);
  });
});
