import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ping, type ClamdAddress } from '../../org-node/inspection/clamd-client';
import { writeTestSignatureDatabase } from './clamav-signatures';
import {
  Daemon,
  HarnessError,
  disposeWorkDir,
  freePort,
  makeWorkDir,
  waitFor,
  type ServiceHandle,
  type StopOptions,
} from './process';

/**
 * A private clamd: own config, own DatabaseDirectory holding only the project's test signatures
 * (see clamav-signatures.ts), listening on a random loopback TCP port and on a unix socket in its
 * temp dir. freshclam never runs; there is no official database and no network.
 */

export interface ClamdOptions {
  /** clamd's StreamMaxLength in bytes: INSTREAM refuses longer streams. Default 8 MiB. */
  streamMaxLength?: number;
  /** How long to wait for PONG on both sockets. Default 30 s (database load is near-instant with the test DB). */
  startTimeoutMs?: number;
}

export interface ClamdHandle extends ServiceHandle {
  readonly pid: number;
  readonly tcp: { readonly host: string; readonly port: number };
  readonly socketPath: string;
  readonly databaseDir: string;
  readonly streamMaxLength: number;
  /** The TCP address, for the clamd client. */
  readonly address: ClamdAddress;
}

const NAME = 'clamd';
const CLAMD = '/usr/sbin/clamd';

export async function startClamd(opts: ClamdOptions = {}): Promise<ClamdHandle> {
  const streamMaxLength = opts.streamMaxLength ?? 8 * 1024 * 1024;
  const dir = await makeWorkDir(NAME);
  const databaseDir = join(dir, 'db');
  const tmpDir = join(dir, 'tmp');
  await mkdir(databaseDir);
  await mkdir(tmpDir);
  await writeTestSignatureDatabase(databaseDir);

  const host = '127.0.0.1';
  const port = await freePort(host);
  const socketPath = join(dir, 'clamd.sock');
  const configFile = join(dir, 'clamd.conf');
  // Options from clamd.conf(5). No LogFile: with Foreground clamd logs to stderr, which the
  // Daemon writes to clamd.log. No User: we stay the invoking user, so the temp dir stays ours.
  const config = [
    'Foreground yes',
    `DatabaseDirectory ${databaseDir}`,
    `TemporaryDirectory ${tmpDir}`,
    `PidFile ${join(dir, 'clamd.pid')}`,
    `LocalSocket ${socketPath}`,
    'LocalSocketMode 600',
    `TCPSocket ${port}`,
    `TCPAddr ${host}`,
    `StreamMaxLength ${streamMaxLength}`,
    'LogTime yes',
    'LogVerbose yes',
    // The database never changes under a running test instance; skip the periodic reload check.
    'SelfCheck 0',
    '',
  ].join('\n');
  await writeFile(configFile, config);

  const daemon = new Daemon({
    name: NAME,
    command: CLAMD,
    args: ['--foreground', `--config-file=${configFile}`],
    logFile: join(dir, 'clamd.log'),
    cwd: dir,
  });

  const stop = async (stopOpts?: StopOptions): Promise<void> => {
    await daemon.stop();
    await disposeWorkDir(NAME, dir, stopOpts);
  };

  try {
    const timeoutMs = opts.startTimeoutMs ?? 30_000;
    const tcp = { host, port };
    // PONG on a socket means the database is loaded: clamd binds only after loading it.
    for (const address of [tcp, { path: socketPath }] satisfies ClamdAddress[]) {
      await waitFor(
        `PONG from ${'path' in address ? address.path : `${host}:${port}`}`,
        async () => {
          await ping(address, { idleTimeoutMs: 2_000 });
          return true;
        },
        { timeoutMs, daemon },
      );
    }
    const pid = daemon.pid;
    if (pid === undefined) throw new HarnessError('no PID after start', NAME);
    return {
      name: NAME,
      dir,
      pid,
      tcp,
      socketPath,
      databaseDir,
      streamMaxLength,
      address: tcp,
      logTail: (lines) => daemon.logTail(lines),
      stop,
    };
  } catch (err) {
    await stop({ keepDir: true });
    throw err;
  }
}
