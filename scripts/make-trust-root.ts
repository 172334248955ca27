/**
 * (Re)generates `build/trust/ssmax-root.pem`, the SSMAX root the packaged client trusts for org
 * bundles when IT's provisioning file names none (SPEC §3, §6). Run by the release engineer or by
 * the SSMAX authority's operator — never by the tests (they make their own roots):
 *
 *   npx tsx scripts/make-trust-root.ts --from <authority dir | root.pem>
 *       copies the authority's existing root certificate (the authority keeps its key)
 *   npx tsx scripts/make-trust-root.ts --init <new authority dir> [--name "SSMAX Root CA"] [--algorithm P-256|RSA-2048]
 *       creates a new authority with the real CLI (`ssmax authority init`; the key passphrase in
 *       SSMAX_KEY_PASSPHRASE, or a PKCS#11 token: --pkcs11-module/--token, PIN in SSMAX_TOKEN_PIN)
 *       and copies its root
 *   [--out <file>]   default build/trust/ssmax-root.pem
 *
 * Either way the certificate is checked first (scripts/trust-root.ts: self-signed SSMAX root policy,
 * CA, valid for at least a year) and its SHA-256 fingerprint printed, to be compared with the one
 * the authority publishes. The file is not in git: each build gets it from the authority.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { TrustRootInvalid, checkTrustRoot } from './trust-root';

const repo = resolve(dirname(new URL(import.meta.url).pathname), '..');

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      from: { type: 'string' },
      init: { type: 'string' },
      name: { type: 'string' },
      algorithm: { type: 'string' },
      'pkcs11-module': { type: 'string' },
      token: { type: 'string' },
      out: { type: 'string', default: join(repo, 'build', 'trust', 'ssmax-root.pem') },
    },
  });
  if ((values.from === undefined) === (values.init === undefined)) {
    console.error('usage: make-trust-root --from <authority dir | root.pem> | --init <new authority dir> [--name N] [--algorithm P-256|RSA-2048] [--out FILE]');
    return 2;
  }
  let rootFile: string;
  if (values.init !== undefined) {
    const args = ['cli/bin/ssmax.mjs', 'authority', 'init', '--dir', values.init];
    for (const k of ['name', 'algorithm', 'pkcs11-module', 'token'] as const) if (values[k] !== undefined) args.push(`--${k}`, values[k]);
    const r = spawnSync(process.execPath, args, { cwd: repo, stdio: 'inherit' });
    if (r.status !== 0) {
      console.error('make-trust-root: `ssmax authority init` failed (see above); nothing written.');
      return 1;
    }
    rootFile = join(values.init, 'root.pem');
  } else {
    const from = values.from!;
    rootFile = (await stat(from)).isDirectory() ? join(from, 'root.pem') : from;
  }
  const pem = await readFile(rootFile, 'utf8');
  try {
    const root = await checkTrustRoot(pem);
    await mkdir(dirname(values.out), { recursive: true });
    await writeFile(values.out, pem.endsWith('\n') ? pem : `${pem}\n`, { mode: 0o644 });
    console.log(`SSMAX root written to ${values.out}\n  subject  ${root.subject}\n  SHA-256  ${root.sha256}\n  expires  ${root.notAfter.toISOString()}\nCompare the fingerprint with the one the SSMAX authority publishes before you ship.`);
    return 0;
  } catch (err) {
    if (err instanceof TrustRootInvalid) {
      console.error(`make-trust-root: ${rootFile} cannot be shipped as the SSMAX root: ${err.message}. Nothing written.`);
      return 1;
    }
    throw err;
  }
}

process.exitCode = await main();
