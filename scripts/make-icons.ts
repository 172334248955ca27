/** Writes build/icon.svg and build/icons/<n>x<n>.png from scripts/icon.ts (electron-builder's Linux icon set). */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO } from './electron-binary';
import { ICON_SIZES, drawIcon, encodePng, iconSvg } from './icon';

const dir = join(REPO, 'build', 'icons');
await mkdir(dir, { recursive: true });
await writeFile(join(REPO, 'build', 'icon.svg'), iconSvg());
for (const size of ICON_SIZES) await writeFile(join(dir, `${size}x${size}.png`), encodePng(size, drawIcon(size)));
console.log(`icons written: build/icon.svg, build/icons/{${ICON_SIZES.map((s) => `${s}x${s}`).join(',')}}.png`);
