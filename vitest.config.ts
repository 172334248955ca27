import { defineConfig } from 'vitest/config';

// Tests mirror the source tree under test/. The suffix says which suite a file belongs to:
//   *.test.ts      unit: pure, fast, no processes or sockets
//   *.int.test.ts  integration: against the real services started by test/harness
//   *.e2e.test.ts  end to end: through the UI in Debian's Chromium
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
          exclude: ['test/**/*.int.test.ts', 'test/**/*.e2e.test.ts', 'node_modules/**'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.int.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // Real daemons share a 2-core machine: run integration files one at a time.
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/**/*.e2e.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
