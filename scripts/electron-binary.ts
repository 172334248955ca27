import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/**
 * Finds the Electron binary the `electron` npm package installed (`node_modules/electron/path.txt`
 * names it inside `dist/`), without requiring the package: its index throws when the binary was
 * never downloaded, which is the normal state here (`ELECTRON_SKIP_BINARY_DOWNLOAD=1`).
 */
export const REPO = resolve(dirname(new URL(import.meta.url).pathname), '..');

export type ElectronBinary = { found: true; binary: string; distDir: string } | { found: false; reason: string };

export function findElectronBinary(packageDir = join(REPO, 'node_modules', 'electron')): ElectronBinary {
  if (!existsSync(join(packageDir, 'package.json'))) return { found: false, reason: `the electron package is not installed (${packageDir}); run npm ci` };
  const pathFile = join(packageDir, 'path.txt');
  if (!existsSync(pathFile))
    return { found: false, reason: 'the electron package is installed without its binary (npm ci ran with ELECTRON_SKIP_BINARY_DOWNLOAD=1, or the download failed)' };
  const distDir = join(packageDir, 'dist');
  const binary = join(distDir, readFileSync(pathFile, 'utf8').trim());
  if (!existsSync(binary)) return { found: false, reason: `the Electron binary named by ${pathFile} is missing (${binary})` };
  return { found: true, binary, distDir };
}

/** What to do without the binary, for `npm start` and `npm run dist`. */
export function electronMissingMessage(command: 'start' | 'dist', reason: string): string {
  const install = [
    'To install the Electron binary, on a machine that can reach the Electron release downloads:',
    '  node node_modules/electron/install.js',
    '(or `npm ci` without ELECTRON_SKIP_BINARY_DOWNLOAD=1).',
  ];
  const browser = [
    'Without Electron, the same client runs in a browser on this machine (loopback bridge):',
    '  npm run build:renderer && npm run bridge -- --data-dir ~/.ssmax',
    'and open the printed address; IT\'s provisioning file goes to <data dir>/provisioning.json.',
  ];
  return [
    `npm ${command === 'start' ? 'start' : 'run dist'}: the Electron binary is not available: ${reason}.`,
    '',
    ...install,
    '',
    ...(command === 'start' ? browser : ['electron-builder also downloads its packaging tools (AppImage, fpm) on first use: run `npm run dist` where the network allows it.']),
  ].join('\n');
}
