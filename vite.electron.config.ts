import { builtinModules } from 'node:module';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * Bundles the Electron shell into dist/electron/ (`npm run build:electron`), one entry per run:
 *   --mode main     → main.js (ESM). Electron, Node built-ins and the app's npm dependencies stay
 *                     external: they ship in node_modules next to it.
 *   --mode preload  → preload.cjs (CommonJS, self-contained). A sandboxed preload may `require`
 *                     only 'electron' and a few built-ins, so the API table and zod are inlined.
 */
const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as {
  dependencies: Record<string, string>;
};
const nodeBuiltins = builtinModules.flatMap((m) => [m, `node:${m}`]);
const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig(({ mode }) => {
  if (mode !== 'main' && mode !== 'preload')
    throw new Error('vite.electron.config.ts: use --mode main or --mode preload');
  const preload = mode === 'preload';
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
        input: here(preload ? './electron/preload.ts' : './electron/main.ts'),
        external: (id: string) => external.some((e) => id === e || id.startsWith(`${e}/`)),
        output: preload
          ? { format: 'cjs', entryFileNames: 'preload.cjs', codeSplitting: false }
          : { format: 'es', entryFileNames: 'main.js', codeSplitting: false },
      },
    },
    ssr: { noExternal: preload ? true : [] },
  };
});
