import { execFile } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * A throwaway gpgsm home (integration tests only): trusts one root, no CRL checks, loopback
 * pinentry with a fixed passphrase. `stop()` ends the gpg-agent this home started (by its homedir).
 */
export interface GpgsmHome {
  readonly dir: string;
  run(args: readonly string[], input?: Uint8Array | string): Promise<{ code: number; stdout: Buffer; stderr: string }>;
  stop(): Promise<void>;
}

export const GPGSM_PASSPHRASE = 'ssmax-test';

function exec(cmd: string, args: readonly string[], input?: Uint8Array | string): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { encoding: 'buffer', timeout: 60_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error && typeof (error as { code?: unknown }).code !== 'number') return reject(error);
      resolve({ code: error ? Number((error as { code?: unknown }).code) : 0, stdout, stderr: stderr.toString('utf8') });
    });
    child.stdin?.end(input === undefined ? undefined : Buffer.from(input));
  });
}

export async function gpgsmHome(parent: string, rootSha1Fingerprint: string): Promise<GpgsmHome> {
  const dir = path.join(parent, 'gnupg');
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o700);
  await writeFile(path.join(dir, 'gpgsm.conf'), 'disable-crl-checks\n');
  await writeFile(path.join(dir, 'gpg-agent.conf'), 'allow-loopback-pinentry\n');
  await writeFile(path.join(dir, 'trustlist.txt'), `${rootSha1Fingerprint} S relax\n`);
  return {
    dir,
    run: (args, input) => exec('gpgsm', ['--homedir', dir, '--batch', '--pinentry-mode', 'loopback', '--passphrase-fd', '0', ...args], input ?? GPGSM_PASSPHRASE),
    stop: async () => {
      await exec('gpgconf', ['--homedir', dir, '--kill', 'gpg-agent']);
    },
  };
}
