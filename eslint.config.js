// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';
import importX from 'eslint-plugin-import-x';
import globals from 'globals';

/*
 * One direction of dependency (see README "Layout"):
 *   renderer -> api <- electron -> smime <- native ; org-node -> smime ; cli -> smime, native, org-node
 * The rules below make a wrong import a lint error rather than a review comment.
 */
const socketsAndProcesses = ['net', 'tls', 'dgram', 'http', 'https', 'http2', 'child_process', 'cluster', 'worker_threads'];
const withNodePrefix = (names) => names.flatMap((n) => [n, `node:${n}`]);

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
    plugins: { 'import-x': importX },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [
            { target: './smime', from: ['./electron', './renderer', './native', './org-node', './cli', './api'], message: 'The S/MIME core depends on nothing of the app.' },
            { target: './api', from: ['./electron', './renderer', './native', './org-node', './cli', './smime'], message: 'The typed API is a leaf: types and validators only.' },
            { target: './renderer', from: ['./electron', './native', './org-node', './cli', './smime', './scripts'], message: 'The renderer talks only to the typed API (api/).' },
            { target: './native', from: ['./electron', './renderer', './org-node', './cli', './api'], message: 'native/ implements core interfaces; it knows no app layer.' },
            { target: './org-node', from: ['./electron', './renderer', './native', './cli', './api'], message: 'The org node builds on the S/MIME core only.' },
            { target: './electron', from: ['./renderer', './org-node', './cli'], message: 'The Electron main process uses api/, smime/ and native/ only.' },
          ],
        },
      ],
    },
  },
  {
    files: ['smime/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            ...withNodePrefix([...socketsAndProcesses, 'fs', 'fs/promises']).map((name) => ({ name, message: 'The S/MIME core does no I/O: take bytes as arguments.' })),
            { name: 'electron', message: 'The S/MIME core knows no Electron.' },
            { name: 'react', message: 'The S/MIME core knows no React.' },
          ],
        },
      ],
    },
  },
  {
    files: ['api/**/*.ts', 'renderer/**/*.ts', 'renderer/**/*.tsx'],
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      'import-x/no-nodejs-modules': 'error',
      'no-restricted-imports': ['error', { paths: [{ name: 'electron', message: 'Use the typed API (window.ssmax), never Electron directly.' }] }],
    },
  },
  {
    files: ['native/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: [{ name: 'electron', message: 'native/ runs in a utility process or plain Node; no Electron.' }] }],
    },
  },
  {
    files: ['renderer/**/*.tsx', 'renderer/**/*.ts'],
    plugins: { 'react-hooks': reactHooks },
    rules: {
      'react-hooks/rules-of-hooks': 'error',
      'react-hooks/exhaustive-deps': 'error',
    },
  },
);
