import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXPOSED_GLOBAL, METHOD_PATHS, ipcChannel, type PreloadBridge } from '../../api';

/**
 * The bundled Electron shell (`npm run build:electron`). The Electron binary is absent, so the
 * preload bundle is run the way a sandboxed preload runs: in a fresh JS context whose `require`
 * knows only 'electron' — any other require (zod, ../api, node:fs) would throw here as it would
 * in Electron's sandbox.
 */
describe('the Electron bundles', () => {
  let outDir: string;
  beforeAll(async () => {
    outDir = await mkdtemp(join(tmpdir(), 'ssmax-electron-build-'));
    for (const mode of ['main', 'preload']) {
      const r = spawnSync(
        'npx',
        ['vite', 'build', '--config', 'vite.electron.config.ts', '--mode', mode, '--outDir', outDir],
        { encoding: 'utf8' },
      );
      if (r.status !== 0) throw new Error(`build --mode ${mode} failed:\n${r.stdout}\n${r.stderr}`);
    }
  });
  afterAll(async () => {
    await rm(outDir, { recursive: true, force: true });
  });

  it('preload.cjs runs with only `electron` available and exposes one function per channel on window.ssmax', async () => {
    const code = await readFile(join(outDir, 'preload.cjs'), 'utf8');
    const exposed = new Map<string, unknown>();
    const invoked: unknown[][] = [];
    const electron = {
      contextBridge: { exposeInMainWorld: (key: string, api: unknown) => exposed.set(key, api) },
      ipcRenderer: {
        invoke: async (...args: unknown[]) => {
          invoked.push(args);
          return { ok: true, value: 'answer' };
        },
        on: () => undefined,
        removeListener: () => undefined,
      },
    };
    const required: string[] = [];
    const sandboxRequire = (id: string): unknown => {
      required.push(id);
      if (id === 'electron') return electron;
      throw new Error(`module not found in the preload sandbox: ${id}`);
    };
    const module = { exports: {} };
    runInNewContext(code, { require: sandboxRequire, module, exports: module.exports, console });

    expect(required).toEqual(['electron']);
    expect([...exposed.keys()]).toEqual([EXPOSED_GLOBAL]);
    const bridge = exposed.get(EXPOSED_GLOBAL) as PreloadBridge;
    const names = Object.entries(bridge.methods).flatMap(([ns, m]) =>
      Object.keys(m as object).map((n) => `${ns}.${n}`),
    );
    expect(names.sort()).toEqual([...METHOD_PATHS].sort());
    expect(await bridge.methods.settings.update({ language: 'ja' })).toEqual({ ok: true, value: 'answer' });
    expect(invoked).toEqual([[ipcChannel('settings.update'), { language: 'ja' }]]);
  });

  it('main.js imports only Electron, Node built-ins and declared dependencies', async () => {
    const code = await readFile(join(outDir, 'main.js'), 'utf8');
    const pkg = JSON.parse(await readFile('package.json', 'utf8')) as {
      dependencies: Record<string, string>;
    };
    const allowed = new Set([
      'electron',
      ...builtinModules,
      ...builtinModules.map((m) => `node:${m}`),
      ...Object.keys(pkg.dependencies),
    ]);
    const imports = [...code.matchAll(/^import .* from "([^"]+)";$/gm)].map((m) => m[1] as string);
    expect(imports).toContain('electron');
    expect(imports.filter((i) => !allowed.has(i) && !allowed.has(i.split('/')[0] as string))).toEqual([]);
    // Relative imports would mean an unbundled app file.
    expect(imports.filter((i) => i.startsWith('.'))).toEqual([]);
  });
});
