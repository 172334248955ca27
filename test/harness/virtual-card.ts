import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import {
  Daemon,
  HarnessError,
  makeWorkDir,
  disposeWorkDir,
  tailOf,
  waitFor,
  type ServiceHandle,
  type StopOptions,
} from './process';
import type { PcscdHandle } from './pcsc';

const repo = resolve(import.meta.dirname, '../..');
const main = join(repo, 'native/virtual-card/main.ts');

export interface VirtualCardOptions {
  /** State file; default a fresh card in the handle's dir. Reuse it to "re-insert" the same card. */
  stateFile?: string;
  /** Fault injection for tests (hex INS). */
  delayIns?: number;
  delayMs?: number;
  silentIns?: number;
  verbose?: boolean;
  /** Address to dial instead of the pcscd handle's (e.g. 127.0.0.1 to measure without quickack). */
  host?: string;
}

export interface VirtualCardHandle extends ServiceHandle {
  readonly stateFile: string;
  readonly pid: number | undefined;
  /** Pulls the card out abruptly (SIGKILL), as a user yanking it mid-operation. */
  yank(): Promise<void>;
}

/** Runs the virtual PIV card process (native/virtual-card/main.ts) inserted into the pcscd's vpcd slot. */
export async function startVirtualCard(
  pcscd: PcscdHandle,
  opts: VirtualCardOptions = {},
): Promise<VirtualCardHandle> {
  const name = 'virtual-card';
  const dir = await makeWorkDir(name);
  const stateFile = opts.stateFile ?? join(dir, 'card.json');
  const logFile = join(dir, 'card.log');
  const hex = (n: number): string => n.toString(16);
  // node --import tsx (not the tsx wrapper, which forks): the PID we hold is the card itself, so
  // yank() really pulls the card at once.
  const args = [
    '--import',
    'tsx',
    main,
    '--state',
    stateFile,
    '--host',
    opts.host ?? pcscd.vpcd.host,
    '--port',
    String(pcscd.vpcd.port),
    ...(opts.delayIns !== undefined
      ? ['--delay-ins', hex(opts.delayIns), '--delay-ms', String(opts.delayMs ?? 5_000)]
      : []),
    ...(opts.silentIns !== undefined ? ['--silent-ins', hex(opts.silentIns)] : []),
    ...(opts.verbose ? ['--verbose'] : []),
  ];
  const daemon = new Daemon({ name, command: process.execPath, args, logFile, cwd: repo });
  try {
    // Present for PC/SC clients once pcscd has powered it up, not merely when the TCP link is up.
    // pcscd 1.9.9 stops polling a reader whose card it has powered down while no client is
    // connected, so it may not notice that card leaving and this one arriving; any PC/SC client
    // wakes it up. Nudge with a reader listing now and then while waiting.
    let lastNudge = Date.now();
    await waitFor(
      'virtual card powered up by pcscd',
      () => {
        if (/^control power-on$/m.test(tailOf(logFile, 400))) return true;
        if (Date.now() - lastNudge > 1_000) {
          lastNudge = Date.now();
          execFile(
            'opensc-tool',
            ['-l'],
            { env: { ...process.env, ...pcscd.env }, timeout: 5_000 },
            () => undefined,
          );
        }
        return undefined;
      },
      { daemon, timeoutMs: 30_000 },
    );
  } catch (err) {
    await daemon.stop();
    throw new HarnessError('virtual card did not start', name, { cause: err });
  }
  return {
    name,
    dir,
    stateFile,
    get pid() {
      return daemon.pid;
    },
    logTail: (lines?: number) => daemon.logTail(lines),
    async yank() {
      daemon.child.kill('SIGKILL');
      await daemon.waitExit(5_000);
    },
    async stop(stopOpts?: StopOptions) {
      await daemon.stop();
      await disposeWorkDir(name, dir, stopOpts);
    },
  };
}
