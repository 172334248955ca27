import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * Builds renderer/ into dist/renderer/ (`npm run build:renderer`). Relative asset URLs (`base`)
 * so the same build loads from the bridge (http://127.0.0.1:PORT/) and from Electron's
 * ssmax://app/. No modulepreload polyfill: it would be code the CSP has to allow for nothing, as
 * Chromium supports modulepreload natively.
 */
export default defineConfig({
  root: fileURLToPath(new URL('./renderer', import.meta.url)),
  base: './',
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('./dist/renderer', import.meta.url)),
    emptyOutDir: true,
    modulePreload: { polyfill: false },
    target: 'chrome120',
    // Keep fonts/images as files: the CSP allows data: images, but files are easier to audit.
    assetsInlineLimit: 0,
  },
});
