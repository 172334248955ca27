import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  Daemon,
  HarnessError,
  canConnect,
  disposeWorkDir,
  freePort,
  makeWorkDir,
  waitFor,
  type ServiceHandle,
  type StopOptions,
} from './process';

const run = promisify(execFile);

/** The Debian vsmartcard-vpcd reader driver. */
export const VPCD_DRIVER = '/usr/lib/pcsc/drivers/serial/libifdvpcd.so';
/** pcscd 1.9.9 always binds its client socket and pid file here; each instance gets a private mount of it. */
const PCSCD_RUN_DIR = '/run/pcscd';
/** Dedicated loopback address whose local route carries `quickack 1` (see README, "PC/SC"). */
export const QUICKACK_HOST = '127.0.0.2';
export const VPCD_FRIENDLY_NAME = 'Virtual PCD';

export interface PcscdOptions {
  /** Add (idempotently) the quickack local route for 127.0.0.2 and point the card there. Default true. */
  quickAck?: boolean;
  /** pcscd -d -a: log debug messages and every APDU into the instance log. */
  debug?: boolean;
}

export interface PcscdHandle extends ServiceHandle {
  /** Environment a PC/SC client process needs to reach this instance (libpcsclite reads it once per process). */
  readonly env: { PCSCLITE_CSOCK_NAME: string };
  readonly socketPath: string;
  /** Where a virtual card connects to be "inserted" into the first vpcd slot. */
  readonly vpcd: { host: string; port: number };
  /** PC/SC name of that slot's reader (vpcd 0.8 creates two slots per reader entry: "… 00 00" and "… 00 01"). */
  readonly readerName: string;
  /** Whether vpcd.host has the quickack route (false: expect ~40 ms of delayed ACK per APDU). */
  readonly quickAck: boolean;
  readonly pid: number | undefined;
  /** Kills pcscd and starts it again with the same socket, config and port (for recovery tests). */
  restart(): Promise<void>;
}

let quickAckRoute: Promise<boolean> | undefined;

/**
 * vpcd writes the 2-byte length and the frame body in two send() calls; Nagle holds the body until
 * the peer ACKs the length, and Linux delays that ACK by ~40 ms. A local route with `quickack 1`
 * makes both ends of connections to 127.0.0.2 ACK at once. Needs CAP_NET_ADMIN; idempotent.
 */
export function ensureQuickAckRoute(): Promise<boolean> {
  quickAckRoute ??= (async () => {
    try {
      await run('ip', [
        'route',
        'replace',
        'local',
        `${QUICKACK_HOST}/32`,
        'dev',
        'lo',
        'quickack',
        '1',
        'table',
        'local',
      ]);
      const { stdout } = await run('ip', ['route', 'show', 'table', 'local', `${QUICKACK_HOST}/32`]);
      return stdout.includes('quickack 1');
    } catch (err) {
      console.error(
        `[harness] pcscd: no quickack route for ${QUICKACK_HOST} (${String(err)}); APDUs will be ~40 ms slower`,
      );
      return false;
    }
  })();
  return quickAckRoute;
}

/** A port p such that p and p+1 are free on all interfaces (vpcd binds both slots on INADDR_ANY). */
async function freeVpcdPort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const p = await freePort('0.0.0.0');
    if (p < 65_535 && (await isFree(p + 1))) return p;
  }
  throw new HarnessError('no pair of free TCP ports for vpcd', 'pcscd');
}

/** True when some socket listens on TCP `port` (IPv4), from /proc/net/tcp (state 0A = LISTEN). */
async function isListening(port: number): Promise<boolean> {
  const table = await readFile('/proc/net/tcp', 'utf8');
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  return table.split('\n').some((line) => {
    const cols = line.trim().split(/\s+/);
    return cols[1]?.endsWith(`:${hexPort}`) === true && cols[3] === '0A';
  });
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '0.0.0.0', () => srv.close(() => resolve(true)));
  });
}

/**
 * Starts a private `pcscd -f` with one vpcd reader entry on a free port. pcscd 1.9.9 ignores
 * PCSCLITE_CSOCK_NAME for its own socket (only clients read it), writes /run/pcscd/pcscd.pid and
 * deletes /run/pcscd/* on exit, so two instances would remove each other's socket: each instance
 * runs in its own mount namespace (`unshare -m`) with a bind mount of its work dir over /run/pcscd.
 */
export async function startPcscd(opts: PcscdOptions = {}): Promise<PcscdHandle> {
  const name = 'pcscd';
  const dir = await makeWorkDir(name);
  const confDir = join(dir, 'reader.conf.d');
  const runDir = join(dir, 'run');
  await mkdir(confDir);
  await mkdir(runDir);
  // The bind mount needs an existing mount point; pcscd itself would create this directory.
  if (!existsSync(PCSCD_RUN_DIR)) await mkdir(PCSCD_RUN_DIR, { recursive: true });

  const quickAck = opts.quickAck !== false && (await ensureQuickAckRoute());
  const port = await freeVpcdPort();
  await writeFile(
    join(confDir, 'vpcd'),
    [
      `FRIENDLYNAME "${VPCD_FRIENDLY_NAME}"`,
      `DEVICENAME   /dev/null:${port}`,
      `LIBPATH      ${VPCD_DRIVER}`,
      `CHANNELID    ${port}`,
      '',
    ].join('\n'),
  );
  const socketPath = join(runDir, 'pcscd.comm');
  const logFile = join(dir, 'pcscd.log');
  const pcscdArgs = ['-f', '-c', confDir, ...(opts.debug ? ['-d', '-a'] : [])];

  let daemon: Daemon;
  const launch = async (): Promise<Daemon> => {
    const d = new Daemon({
      name,
      command: 'unshare',
      // unshare execs sh, sh execs pcscd: the PID we hold is pcscd's own.
      args: [
        '-m',
        '--propagation',
        'private',
        'sh',
        '-c',
        `mount --bind "$0" ${PCSCD_RUN_DIR} && exec pcscd "$@"`,
        runDir,
        ...pcscdArgs,
      ],
      logFile,
      env: { ...process.env, PCSCLITE_CSOCK_NAME: socketPath },
    });
    try {
      await waitFor(
        `${socketPath} accepting`,
        async () => ((await canConnect({ path: socketPath })) ? true : undefined),
        { daemon: d, timeoutMs: 15_000 },
      );
      // The vpcd slot listens independently of the client socket; a card that dials too early is
      // refused. Look for the listener in /proc rather than connecting (a connection is a card).
      await waitFor(`vpcd listening on ${port}`, async () => ((await isListening(port)) ? true : undefined), {
        daemon: d,
        timeoutMs: 15_000,
      });
    } catch (err) {
      await d.stop();
      throw err;
    }
    return d;
  };
  try {
    daemon = await launch();
  } catch (err) {
    await disposeWorkDir(name, dir, { keepDir: true });
    throw err;
  }

  const host = quickAck ? QUICKACK_HOST : '127.0.0.1';
  return {
    name,
    dir,
    env: { PCSCLITE_CSOCK_NAME: socketPath },
    socketPath,
    vpcd: { host, port },
    readerName: `${VPCD_FRIENDLY_NAME} 00 00`,
    quickAck,
    get pid() {
      return daemon.pid;
    },
    logTail: (lines?: number) => daemon.logTail(lines),
    async restart() {
      await daemon.stop();
      daemon = await launch();
    },
    async stop(stopOpts?: StopOptions) {
      await daemon.stop();
      await disposeWorkDir(name, dir, stopOpts);
    },
  };
}
