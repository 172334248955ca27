/**
 * `npm start [-- --data-dir DIR] [--provisioning FILE] [--no-build]`: the desktop client (Electron)
 * against a real organisation — IT's provisioning file, or the first-launch wizard asks for the
 * address and fetches the org bundle. Builds the renderer and the Electron bundles (unless
 * `--no-build`), then runs Electron on this checkout (package.json `main`). Without the Electron
 * binary it says how to run the same client in a browser (`npm run bridge`) and exits 1.
 *
 * The data folder defaults to Electron's (`~/.config/SSMAX`); passed on as SSMAX_DATA_DIR and
 * SSMAX_PROVISIONING_FILE (electron/launch.ts).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ProvisioningInvalid, parseProvisioning } from '../client/first-launch/provisioning';
import { REPO, electronMissingMessage, findElectronBinary } from './electron-binary';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      'data-dir': { type: 'string' },
      provisioning: { type: 'string' },
      'no-build': { type: 'boolean', default: false },
    },
  });
  const env: NodeJS.ProcessEnv = { ...process.env };
  let provisioningRoots = false;
  if (values.provisioning !== undefined) {
    const file = resolve(values.provisioning);
    try {
      provisioningRoots = parseProvisioning(await readFile(file, 'utf8')).trustAnchorsPem !== undefined;
    } catch (err) {
      if (err instanceof ProvisioningInvalid) {
        console.error(`npm start: ${file}: ${err.message}`);
        return 1;
      }
      console.error(`npm start: cannot read the provisioning file ${file}: ${(err as Error).message}`);
      return 1;
    }
    env.SSMAX_PROVISIONING_FILE = file;
  }
  if (values['data-dir'] !== undefined) env.SSMAX_DATA_DIR = resolve(values['data-dir']);

  const electron = findElectronBinary();
  if (!electron.found) {
    console.error(electronMissingMessage('start', electron.reason));
    return 1;
  }
  if (!provisioningRoots && !existsSync(join(REPO, 'build', 'trust', 'ssmax-root.pem')))
    console.warn(
      'npm start: no built-in SSMAX root (build/trust/ssmax-root.pem, scripts/make-trust-root.ts) and no provisioning file with trustAnchorsPem: first launch will refuse every org bundle until IT provides the root.',
    );
  if (!values['no-build']) {
    for (const script of ['build:renderer', 'build:electron']) {
      const r = spawnSync('npm', ['run', script], { cwd: REPO, stdio: 'inherit' });
      if (r.status !== 0) {
        console.error(`npm start: npm run ${script} failed.`);
        return 1;
      }
    }
  }
  const child = spawn(electron.binary, ['.'], { cwd: REPO, env, stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
  return new Promise((done) => child.on('exit', (code, signal) => done(code ?? (signal ? 1 : 0))));
}

process.exitCode = await main();
