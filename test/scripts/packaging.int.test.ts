import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findElectronBinary } from '../../scripts/electron-binary';
import { checkTrustRoot } from '../../scripts/trust-root';

/** The release scripts as a person runs them: scripts/make-trust-root.ts with the real CLI, `npm start` and `npm run dist` without Electron. */
const tsx = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync('npx', ['tsx', ...args], { encoding: 'utf8', env: { ...process.env, ...env } });

describe('release scripts', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ssmax-packaging-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('make-trust-root --init creates an authority with `ssmax authority init` and writes its root; --from a file that is not a root writes nothing', async () => {
    const out = join(dir, 'ssmax-root.pem');
    const made = tsx(['scripts/make-trust-root.ts', '--init', join(dir, 'authority'), '--name', 'SSMAX Release Root', '--out', out], { SSMAX_KEY_PASSPHRASE: 'release passphrase' });
    expect(made.status, made.stderr).toBe(0);
    const root = await checkTrustRoot(await readFile(out, 'utf8'));
    expect(root.subject).toContain('SSMAX Release Root');
    expect(made.stdout).toContain(root.sha256);
    expect(await readFile(out, 'utf8')).toBe(await readFile(join(dir, 'authority', 'root.pem'), 'utf8'));

    // The same root copied from the authority folder; a file that is not a root is refused.
    const copy = join(dir, 'copy.pem');
    expect(tsx(['scripts/make-trust-root.ts', '--from', join(dir, 'authority'), '--out', copy]).status).toBe(0);
    const notRoot = join(dir, 'not-root.pem');
    await writeFile(notRoot, 'hello');
    const refused = tsx(['scripts/make-trust-root.ts', '--from', notRoot, '--out', join(dir, 'never.pem')]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('cannot be shipped as the SSMAX root');
    await expect(readFile(join(dir, 'never.pem'))).rejects.toThrow();
  });

  it.skipIf(findElectronBinary().found)('without the Electron binary, npm start points to browser mode and npm run dist says what is missing; both exit 1', async () => {
    const start = tsx(['scripts/start.ts', '--no-build']);
    expect(start.status).toBe(1);
    expect(start.stderr).toContain('the Electron binary is not available');
    expect(start.stderr).toContain('npm run bridge');
    const dist = tsx(['scripts/dist.ts']);
    expect(dist.status).toBe(1);
    expect(dist.stderr).toContain('the Electron binary is not available');
    expect(dist.stderr).toContain('node node_modules/electron/install.js');

    const bad = join(dir, 'provisioning.json');
    await mkdir(dir, { recursive: true });
    await writeFile(bad, JSON.stringify({ format: 'ssmax-provisioning/1', address: 'not an address' }));
    const invalid = tsx(['scripts/start.ts', '--no-build', '--provisioning', bad]);
    expect(invalid.status).toBe(1);
    expect(invalid.stderr).toMatch(/provisioning file is not valid: address/);
  });
});
