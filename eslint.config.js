// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';

import { builtinModules } from 'node:module';

/*
 * One direction of dependency (see README "Layout"):
 *   renderer -> api <- electron -> client -> smime <- native ; org-node -> smime ; cli -> smime, native, org-node
 * ESLint's own no-restricted-imports does it on import strings, so no module resolver is needed
 * (the resolver packages pull platform binaries that this registry mirror does not fully carry).
 */
const socketsAndProcesses = ['net', 'tls', 'dgram', 'http', 'https', 'http2', 'child_process', 'cluster', 'worker_threads'];
const withNodePrefix = (names) => names.flatMap((n) => [n, `node:${n}`]);
const nodeBuiltins = [...new Set(builtinModules.filter((m) => !m.startsWith('_')).map((m) => m.replace(/^node:/, '')))];

/** Patterns that match a relative or rooted import of a top-level folder. */
const folder = (name) => [`**/${name}`, `**/${name}/**`, `${name}/**`];

/** One no-restricted-imports rule per folder: forbidden folders plus forbidden packages. */
function layer(message, folders, paths = []) {
  return [
    'error',
    {
      paths,
      patterns: [{ group: folders.flatMap(folder), message }],
    },
  ];
}

const electronPkg = { name: 'electron', message: 'Only electron/ may use Electron.' };
const reactPkgs = ['react', 'react-dom', 'react-dom/client'].map((name) => ({ name, message: 'Only renderer/ uses React.' }));
const nodeBuiltinPaths = (message) => withNodePrefix(nodeBuiltins).map((name) => ({ name, message }));

export default tseslint.config(
  {
    ignores: ['node_modules/**', 'dist/**', 'out/**', '.tmp/**', '.ssmax-demo/**', 'test-results/**'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { ...globals.node },
      ecmaVersion: 2023,
      sourceType: 'module',
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  {
    files: ['smime/**'],
    rules: {
      'no-restricted-imports': layer(
        'The S/MIME core depends on nothing of the app.',
        ['electron', 'renderer', 'native', 'org-node', 'cli', 'api', 'test', 'scripts'],
        [
          ...withNodePrefix([...socketsAndProcesses, 'fs', 'fs/promises']).map((name) => ({
            name,
            message: 'The S/MIME core does no I/O: take bytes as arguments.',
          })),
          { name: 'electron', message: 'The S/MIME core knows no Electron.' },
          ...reactPkgs,
        ],
      ),
    },
  },
  {
    files: ['api/**'],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      'no-restricted-imports': layer(
        'The typed API is a leaf: types and validators only.',
        ['electron', 'renderer', 'native', 'org-node', 'cli', 'smime', 'test', 'scripts'],
        [...nodeBuiltinPaths('The typed API is shared with the renderer: no Node modules.'), electronPkg, ...reactPkgs],
      ),
    },
  },
  {
    files: ['renderer/**'],
    languageOptions: { globals: { ...globals.browser } },
    plugins: { 'react-hooks': reactHooks },
    rules: {
      'no-restricted-imports': layer(
        'The renderer talks only to the typed API (api/).',
        ['electron', 'native', 'org-node', 'cli', 'smime', 'scripts'],
        [
          ...nodeBuiltinPaths('The renderer runs sandboxed: no Node modules.'),
          { name: 'electron', message: 'Use the typed API (window.ssmax), never Electron directly.' },
        ],
      ),
      'react-hooks/rules-of-hooks': 'error',
      'react-hooks/exhaustive-deps': 'error',
    },
  },
  {
    files: ['native/**'],
    rules: {
      'no-restricted-imports': layer(
        'native/ implements core interfaces; it knows no app layer.',
        ['electron', 'renderer', 'org-node', 'cli', 'api', 'test', 'scripts'],
        [{ name: 'electron', message: 'native/ runs in a utility process or plain Node; no Electron.' }, ...reactPkgs],
      ),
    },
  },
  {
    files: ['org-node/**'],
    rules: {
      'no-restricted-imports': layer(
        'The org node builds on the S/MIME core only.',
        ['electron', 'renderer', 'native', 'cli', 'api', 'test', 'scripts'],
        [electronPkg, ...reactPkgs],
      ),
    },
  },
  {
    files: ['client/**'],
    rules: {
      'no-restricted-imports': layer(
        'Client services run in plain Node as well as in Electron: no Electron, no UI.',
        ['electron', 'renderer', 'org-node', 'cli', 'test', 'scripts'],
        [electronPkg, ...reactPkgs],
      ),
    },
  },
  {
    files: ['electron/**'],
    rules: {
      'no-restricted-imports': layer(
        'The Electron main process uses api/, client/, smime/ and native/ only.',
        ['renderer', 'org-node', 'cli', 'test', 'scripts'],
        reactPkgs,
      ),
    },
  },
  {
    files: ['cli/**'],
    rules: {
      'no-restricted-imports': layer('The CLI never reaches into the desktop app.', ['electron', 'renderer', 'test', 'scripts'], [electronPkg, ...reactPkgs]),
    },
  },
  {
    // The demo world (npm run demo, the e2e tests) drives the product in plain Node with the test harness's daemons.
    files: ['demo/**'],
    rules: {
      'no-restricted-imports': layer('The demo world runs in plain Node: no Electron, no UI.', ['electron', 'renderer', 'scripts'], [electronPkg, ...reactPkgs]),
    },
  },
);
