import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The common shape of every service the harness starts: a private daemon in its own temp dir,
 * on loopback ports chosen at random, stopped by PID. Logs stay on disk when a test failed
 * (or SSMAX_KEEP_LOGS=1) so a red CI run can be read afterwards.
 */
export interface ServiceHandle {
  readonly name: string;
  /** Private working directory: configuration, state and logs of this instance. */
  readonly dir: string;
  /** Last lines of the service's log, for error messages. */
  logTail(lines?: number): string;
  stop(opts?: StopOptions): Promise<void>;
}

export interface StopOptions {
  /** Keep the working directory (and so the logs) instead of deleting it. */
  keepDir?: boolean;
}

export class HarnessError extends Error {
  constructor(
    message: string,
    readonly service: string,
    options?: { cause?: unknown },
  ) {
    super(`[${service}] ${message}`, options);
    this.name = 'HarnessError';
  }
}

const SETPRIV = '/usr/bin/setpriv';
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A test runner that dies must not leave daemons behind holding ports and sockets.
  const killAll = (): void => {
    for (const child of live) {
      try {
        if (child.pid) process.kill(child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  };
  process.once('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    // A program that handles the signal itself (the demo stops its services cleanly) keeps it.
    if (process.listenerCount(sig) > 0) continue;
    process.once(sig, () => {
      killAll();
      process.exit(130);
    });
  }
}

export function keepLogsRequested(): boolean {
  return process.env.SSMAX_KEEP_LOGS === '1';
}

export async function makeWorkDir(name: string): Promise<string> {
  const base = process.env.SSMAX_HARNESS_TMP ?? tmpdir();
  return mkdtemp(join(base, `ssmax-${name}-`));
}

/** Removes a working directory unless asked to keep it; says where it is when kept. */
export async function disposeWorkDir(name: string, dir: string, opts?: StopOptions): Promise<void> {
  if (opts?.keepDir || keepLogsRequested()) {
    console.error(`[harness] ${name}: kept ${dir}`);
    return;
  }
  await rm(dir, { recursive: true, force: true });
}

/** Asks the kernel for a free TCP port on the given loopback address. */
/**
 * `count` distinct free ports: all are held open until every one is known, so two calls in a row
 * cannot hand out the same port (the OS may reuse a just-closed ephemeral port).
 */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer());
  try {
    return await Promise.all(
      servers.map(
        (srv) =>
          new Promise<number>((resolve, reject) => {
            srv.unref();
            srv.on('error', reject);
            srv.listen(0, host, () => {
              const addr = srv.address();
              if (addr === null || typeof addr === 'string') reject(new Error('no port'));
              else resolve(addr.port);
            });
          }),
      ),
    );
  } finally {
    await Promise.all(servers.map((srv) => new Promise<void>((resolve) => (srv.listening ? srv.close(() => resolve()) : resolve()))));
  }
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error('no port'));
        return;
      }
      srv.close(() => resolve(addr.port));
    });
  });
}

export interface DaemonSpec {
  name: string;
  command: string;
  args: readonly string[];
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** A child process whose output goes to a log file and which is killed with the test process. */
export class Daemon {
  readonly child: ChildProcess;
  private exited: Promise<number | null>;
  private exitCode: number | null | undefined;

  constructor(readonly spec: DaemonSpec) {
    installExitHook();
    const log = createWriteStream(spec.logFile, { flags: 'a' });
    // setpriv (util-linux) sets PR_SET_PDEATHSIG and then execs the daemon, which keeps the PID:
    // if this process is SIGKILLed (a runner timeout, a second Ctrl-C) its exit hook never runs,
    // and without this the daemon would live on, orphaned, holding its ports.
    const [command, args] = existsSync(SETPRIV)
      ? [SETPRIV, ['--pdeathsig', 'KILL', '--', spec.command, ...spec.args]]
      : [spec.command, [...spec.args]];
    this.child = spawn(command, args, {
      cwd: spec.cwd,
      env: spec.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout?.pipe(log, { end: false });
    this.child.stderr?.pipe(log, { end: false });
    live.add(this.child);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        live.delete(this.child);
        this.exitCode = code ?? (signal ? -1 : null);
        log.end();
        resolve(this.exitCode);
      });
      this.child.once('error', (err) => {
        live.delete(this.child);
        this.exitCode = -1;
        log.write(`spawn error: ${err.message}\n`);
        log.end();
        resolve(-1);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  logTail(lines = 30): string {
    return tailOf(this.spec.logFile, lines);
  }

  /** Resolves when the process exits; rejects after the timeout. */
  async waitExit(timeoutMs: number): Promise<number | null> {
    return withTimeout(this.exited, timeoutMs, `${this.spec.name} did not exit`);
  }

  /** SIGTERM, then SIGKILL if it lingers. */
  async stop(graceMs = 5_000): Promise<void> {
    if (!this.running || this.child.pid === undefined) return;
    this.child.kill('SIGTERM');
    try {
      await this.waitExit(graceMs);
    } catch {
      this.child.kill('SIGKILL');
      await this.waitExit(graceMs);
    }
  }
}

export function tailOf(file: string, lines = 30): string {
  if (!existsSync(file)) return '(no log)';
  const text = readFileSync(file, 'utf8');
  return text.split('\n').slice(-lines).join('\n');
}

export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls until `probe` returns a value (not undefined) or throws the last error after the timeout. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  opts: { timeoutMs?: number; intervalMs?: number; daemon?: Daemon } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (opts.daemon && !opts.daemon.running) {
      throw new HarnessError(`exited while waiting for ${what}:\n${opts.daemon.logTail()}`, opts.daemon.spec.name);
    }
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 100));
  }
  const detail = opts.daemon ? `\n${opts.daemon.logTail()}` : '';
  throw new HarnessError(`timed out waiting for ${what}${detail}`, opts.daemon?.spec.name ?? 'harness', { cause: lastError });
}

/** Resolves true once something accepts TCP connections at host:port (or a unix socket path). */
export async function canConnect(target: { host: string; port: number } | { path: string }): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = 'path' in target ? connect(target.path) : connect(target.port, target.host);
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
    sock.setTimeout(1_000, () => done(false));
  });
}

export async function waitForListening(
  target: { host: string; port: number } | { path: string },
  daemon: Daemon,
  timeoutMs = 20_000,
): Promise<void> {
  const what = 'path' in target ? target.path : `${target.host}:${target.port}`;
  await waitFor(what, async () => ((await canConnect(target)) ? true : undefined), { timeoutMs, daemon });
}
