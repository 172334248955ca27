/**
 * `npm run dist [-- <electron-builder args>]`: Linux packages (AppImage + deb, electron-builder.config.ts)
 * into out/dist/. Checks first, and stops with a message that says what is missing:
 *   1. the Electron binary (absent on machines that install with ELECTRON_SKIP_BINARY_DOWNLOAD=1);
 *   2. the SSMAX root to ship, build/trust/ssmax-root.pem (scripts/make-trust-root.ts);
 *   3. the icons (build/icons, scripts/make-icons.ts).
 * Then builds the renderer and the Electron bundles and runs electron-builder with the installed
 * Electron (no second download of Electron). Other platforms: `npm run dist -- --win` / `--mac`
 * on those systems, signing in build/README.md.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO, electronMissingMessage, findElectronBinary } from './electron-binary';
import { ICON_SIZES } from './icon';
import { TrustRootInvalid, checkTrustRoot } from './trust-root';

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { cwd: REPO, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`);
}

async function main(): Promise<number> {
  const electron = findElectronBinary();
  if (!electron.found) {
    console.error(electronMissingMessage('dist', electron.reason));
    return 1;
  }
  const rootFile = join(REPO, 'build', 'trust', 'ssmax-root.pem');
  if (!existsSync(rootFile)) {
    console.error(`npm run dist: ${rootFile} is missing. Every package ships the SSMAX root it trusts; make it from the authority:\n  npx tsx scripts/make-trust-root.ts --from <authority dir | root.pem>\n(see build/README.md).`);
    return 1;
  }
  try {
    const root = await checkTrustRoot(await readFile(rootFile, 'utf8'));
    console.log(`npm run dist: shipping the SSMAX root ${root.subject}, SHA-256 ${root.sha256}`);
  } catch (err) {
    if (!(err instanceof TrustRootInvalid)) throw err;
    console.error(`npm run dist: ${rootFile} cannot be shipped: ${err.message}.`);
    return 1;
  }
  const missingIcons = ICON_SIZES.map((s) => join(REPO, 'build', 'icons', `${s}x${s}.png`)).filter((f) => !existsSync(f));
  if (missingIcons.length > 0) {
    console.error(`npm run dist: icons missing (${missingIcons.join(', ')}); run npx tsx scripts/make-icons.ts`);
    return 1;
  }
  run('npm', ['run', 'build:renderer']);
  run('npm', ['run', 'build:electron']);
  const extra = process.argv.slice(2);
  const platform = extra.some((a) => a === '--win' || a === '--mac' || a === '--linux') ? [] : ['--linux'];
  run('npx', ['electron-builder', '--config', 'electron-builder.config.ts', ...platform, `-c.electronDist=${electron.distDir}`, ...extra]);
  console.log(`npm run dist: packages in ${join(REPO, 'out', 'dist')}`);
  return 0;
}

process.exitCode = await main().catch((err: unknown) => {
  console.error(`npm run dist: ${(err as Error).message}`);
  return 1;
});
