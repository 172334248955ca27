/**
 * Runs the project's checks in order (typecheck, lint, unit, integration, e2e) and prints one
 * summary line `N passed, N failed`. Static checks count as one each; test suites count their tests.
 * Every stage runs even when an earlier one failed, so one red run shows everything that is wrong.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

interface StageResult {
  stage: string;
  passed: number;
  failed: number;
  seconds: number;
}

const reportDir = join(process.cwd(), '.tmp', 'reports');
rmSync(reportDir, { recursive: true, force: true });
mkdirSync(reportDir, { recursive: true });

function run(cmd: string, args: string[]): { ok: boolean; seconds: number } {
  const started = Date.now();
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: process.env });
  return { ok: r.status === 0, seconds: (Date.now() - started) / 1000 };
}

function staticCheck(stage: string, cmd: string, args: string[]): StageResult {
  console.log(`\n=== ${stage}: ${cmd} ${args.join(' ')}`);
  const { ok, seconds } = run(cmd, args);
  return { stage, passed: ok ? 1 : 0, failed: ok ? 0 : 1, seconds };
}

interface VitestJson {
  numPassedTests: number;
  numFailedTests: number;
  numTotalTestSuites: number;
  numFailedTestSuites: number;
}

function vitestSuite(project: string): StageResult {
  const out = join(reportDir, `vitest-${project}.json`);
  console.log(`\n=== ${project} tests`);
  const { ok, seconds } = run('npx', [
    'vitest',
    'run',
    '--project',
    project,
    '--passWithNoTests',
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${out}`,
  ]);
  if (!existsSync(out)) return { stage: project, passed: 0, failed: 1, seconds };
  const r = JSON.parse(readFileSync(out, 'utf8')) as VitestJson;
  // A suite that fails to load (syntax error, failing beforeAll) has no failed *tests*: count it.
  const failed = r.numFailedTests + (r.numFailedTests === 0 && !ok ? Math.max(1, r.numFailedTestSuites) : 0);
  return { stage: project, passed: r.numPassedTests, failed, seconds };
}

const only = process.argv.slice(2);
const want = (s: string): boolean => only.length === 0 || only.includes(s);

const results: StageResult[] = [];
if (want('typecheck')) {
  results.push(staticCheck('typecheck (node)', 'npx', ['tsc', '-p', 'tsconfig.json']));
  results.push(staticCheck('typecheck (renderer)', 'npx', ['tsc', '-p', 'renderer/tsconfig.json']));
  // Component tests run in jsdom: DOM types, no Node (a `/// <reference lib="dom">` in the node
  // project once let Node code pass Uint8Array where only the DOM's BodyInit fits).
  results.push(staticCheck('typecheck (renderer tests)', 'npx', ['tsc', '-p', 'test/renderer/tsconfig.json']));
}
if (want('lint')) results.push(staticCheck('lint', 'npx', ['eslint', '--max-warnings', '0', '.']));
for (const project of ['unit', 'integration', 'e2e']) {
  if (want(project)) results.push(vitestSuite(project));
}

console.log('\n=== summary');
for (const r of results) {
  console.log(`${r.stage.padEnd(28)} ${String(r.passed).padStart(5)} passed ${String(r.failed).padStart(4)} failed  ${r.seconds.toFixed(1)} s`);
}
const passed = results.reduce((n, r) => n + r.passed, 0);
const failed = results.reduce((n, r) => n + r.failed, 0);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
