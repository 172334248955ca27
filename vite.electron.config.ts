import { builtinModules } from 'node:module';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * Bundles the Electron shell into dist/electron/ (`npm run build:electron`), one entry per run:
 *   --mode main     → main.js (ESM). Electron, Node built-ins and the app's npm dependencies stay
 *                     external: they ship in node_modules next to it.
 *   --mode card-service → card-service.js (ESM): the card service worker, run by
 *                     `utilityProcess.fork` (electron/card-service.ts); externals as for main.
 *   --mode preload  → preload.cjs (CommonJS, self-contained). A sandboxed preload may `require`
 *                     only 'electron' and a few built-ins, so the API table and zod are inlined.
 */
const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as {
  dependencies: Record<string, string>;
};
const nodeBuiltins = builtinModules.flatMap((m) => [m, `node:${m}`]);
const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig(({ mode }) => {
  if (mode !== 'main' && mode !== 'preload' && mode !== 'card-service')
    throw new Error('vite.electron.config.ts: use --mode main, preload or card-service');
  const preload = mode === 'preload';
  const input = preload ? './electron/preload.ts' : mode === 'card-service' ? './native/card-service/worker.ts' : './electron/main.ts';
  const external = preload ? ['electron'] : ['electron', ...nodeBuiltins, ...Object.keys(pkg.dependencies)];
  return {
    logLevel: 'warn',
    build: {
      outDir: here('./dist/electron'),
      // The two runs write into one directory; neither may delete the other's output.
      emptyOutDir: false,
      target: 'node22',
      minify: false,
      sourcemap: false,
      ssr: true,
      ssrEmitAssets: false,
      rollupOptions: {
        input: here(input),
        external: (id: string) => external.some((e) => id === e || id.startsWith(`${e}/`)),
        output: preload
          ? { format: 'cjs', entryFileNames: 'preload.cjs', codeSplitting: false }
          : { format: 'es', entryFileNames: `${mode}.js`, codeSplitting: false },
      },
    },
    ssr: { noExternal: preload ? true : [] },
  };
});
