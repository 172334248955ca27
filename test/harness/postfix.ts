import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Endpoint } from './dovecot';
import {
  Daemon,
  HarnessError,
  disposeWorkDir,
  freePort,
  freePorts,
  makeWorkDir,
  tailOf,
  waitFor,
  waitForListening,
  type ServiceHandle,
  type StopOptions,
} from './process';
import { findProcesses } from './procfs';

const run = promisify(execFile);
const SERVICE = 'postfix';
const HOST = '127.0.0.1';
/** master.cf name of the smtp client that hands mail to the after-queue content filter. */
const FILTER_TRANSPORT = 'ssmax-filter';

/** Where Postfix delivers mail it has accepted (and, with a filter, got back from the filter). */
export interface NextHop {
  protocol: 'lmtp' | 'smtp';
  host: string;
  port: number;
}

export interface PostfixOptions {
  /**
   * Default route for every recipient. Without one, accepted mail stays queued (deferred), which
   * is what a test of "the filter got it" wants.
   */
  nextHop?: NextHop;
  /** Per-domain routes that override `nextHop` (e.g. two org domains on two different nodes). */
  routes?: Readonly<Record<string, NextHop>>;
  /**
   * After-queue content filter (the org node's production mode). By default on, at a port the
   * harness picks; pass the port of a filter that already listens, or `false` for a plain relay.
   */
  contentFilter?: false | { port?: number };
  /** Extra main.cf parameters, applied last. */
  mainCf?: Readonly<Record<string, string>>;
  myhostname?: string;
}

export interface QueueEntry {
  queue_name: string;
  queue_id: string;
  sender: string;
  recipients: { address: string; delay_reason?: string }[];
}

export interface PostfixHandle extends ServiceHandle {
  /** Public SMTP port: mail accepted here goes through the content filter (if any). */
  readonly smtp: Endpoint;
  /** Re-injection port for the filter: mail accepted here is not filtered again. */
  readonly reinject: Endpoint;
  /** Where Postfix hands mail to the content filter; undefined for a plain relay. */
  readonly filter: Endpoint | undefined;
  /** PID of the Postfix master; its workers are in its process group. */
  readonly masterPid: number;
  /** The private config directory (main.cf, master.cf), for `postfix -c` / `postconf -c`. */
  readonly configDir: string;
  /** Sets main.cf parameters and reloads the running instance. */
  postconf(params: Readonly<Record<string, string>>): Promise<void>;
  /** Routes all mail without a per-domain route to this next hop from now on (and retries the queue). */
  setNextHop(hop: NextHop): Promise<void>;
  /** Asks Postfix to retry deferred mail now. */
  flushQueue(): Promise<void>;
  /** Messages still in the queue (`postqueue -j`). */
  queue(): Promise<QueueEntry[]>;
}

function transportOf(hop: NextHop): string {
  // LMTP next hops are written inet:host:port; SMTP ones in brackets, which turns off MX lookups.
  return hop.protocol === 'lmtp' ? `lmtp:inet:${hop.host}:${hop.port}` : `smtp:[${hop.host}]:${hop.port}`;
}

function renderMainCf(p: {
  dir: string;
  myhostname: string;
  filterPort: number | undefined;
  nextHop: NextHop | undefined;
  hasRoutes: boolean;
  extra: Readonly<Record<string, string>>;
}): string {
  const params: Record<string, string> = {
    compatibility_level: '3.6',
    queue_directory: `${p.dir}/queue`,
    data_directory: `${p.dir}/data`,
    // We run as root; Postfix drops to its own unprivileged user created by the Debian package.
    mail_owner: 'postfix',
    setgid_group: 'postdrop',
    myhostname: p.myhostname,
    mydomain: p.myhostname.split('.').slice(1).join('.') || 'ssmax.test',
    myorigin: '$myhostname',
    // No local delivery at all: every recipient is routed by default_transport / transport_maps.
    mydestination: '',
    local_recipient_maps: '',
    alias_maps: '',
    alias_database: '',
    relay_domains: '',
    inet_interfaces: 'loopback-only',
    inet_protocols: 'ipv4',
    mynetworks: '127.0.0.0/8',
    smtpd_relay_restrictions: 'permit_mynetworks, reject',
    smtpd_peername_lookup: 'no',
    smtp_host_lookup: 'native',
    lmtp_host_lookup: 'native',
    biff: 'no',
    // Log to a file in our dir; postlogd refuses paths outside maillog_file_prefixes.
    maillog_file: `${p.dir}/maillog`,
    maillog_file_prefixes: p.dir,
    // Retry quickly: a filter or next hop that comes up a moment late must not cost minutes.
    minimal_backoff_time: '2s',
    maximal_backoff_time: '4s',
    queue_run_delay: '2s',
    content_filter: p.filterPort === undefined ? '' : `${FILTER_TRANSPORT}:[${HOST}]:${p.filterPort}`,
    // Until a next hop is set, mail is accepted and deferred by the retry service.
    default_transport: p.nextHop ? transportOf(p.nextHop) : 'retry:4.4.0 no next hop configured in this harness instance',
    // smtpd would otherwise refuse at RCPT time every recipient routed to "retry" (or "error").
    // Recipients are checked where mail ends up: the next hop (Dovecot LMTP refuses unknown users).
    smtpd_reject_unlisted_recipient: 'no',
    transport_maps: p.hasRoutes ? `texthash:${p.dir}/etc/transport` : '',
    ...p.extra,
  };
  return `# Private Postfix instance of the SSMAX test harness; nothing here touches /etc/postfix.\n${Object.entries(params)
    .map(([k, v]) => `${k} = ${v}`)
    .join('\n')}\n`;
}

function renderMasterCf(p: { smtpPort: number; reinjectPort: number }): string {
  // chroot is "n" everywhere: the private queue dir holds no copy of /etc files a chroot would need.
  return `# service type private unpriv chroot wakeup maxproc command
${HOST}:${p.smtpPort} inet n - n - - smtpd
# The content filter gives mail back here. No filter again (that would loop), no rewriting twice.
${HOST}:${p.reinjectPort} inet n - n - - smtpd
  -o content_filter=
  -o receive_override_options=no_unknown_recipient_checks,no_header_body_checks,no_milters,no_address_mappings
  -o smtpd_helo_restrictions=
  -o smtpd_client_restrictions=
  -o smtpd_sender_restrictions=
  -o smtpd_recipient_restrictions=permit_mynetworks,reject
  -o smtpd_relay_restrictions=permit_mynetworks,reject
  -o mynetworks=127.0.0.0/8
  -o smtpd_authorized_xforward_hosts=127.0.0.0/8
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
proxywrite unix - - n - 1 proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
lmtp      unix  - - n - - lmtp
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
${FILTER_TRANSPORT} unix - - n - 10 smtp
  -o smtp_send_xforward_command=yes
  -o smtp_tls_security_level=none
`;
}

function renderTransport(routes: Readonly<Record<string, NextHop>>): string {
  return Object.entries(routes)
    .map(([domain, hop]) => `${domain} ${transportOf(hop)}\n`)
    .join('');
}

/**
 * Starts a private Postfix (`postfix -c DIR start-fg`, so the master's parent is us) with its own
 * queue and data dirs, SMTP and re-injection ports on loopback and, by default, an after-queue
 * content filter: Postfix delivers to `filter`, the filter sends the (changed) mail to `reinject`.
 */
export async function startPostfix(opts: PostfixOptions = {}): Promise<PostfixHandle> {
  if (userInfo().uid !== 0) {
    throw new HarnessError('the private Postfix must be started as root (it drops to the postfix user itself)', SERVICE);
  }
  const dir = await makeWorkDir(SERVICE);
  // Postfix opens data_directory files after dropping to the postfix user, which must traverse dir.
  chmodSync(dir, 0o755);
  const configDir = join(dir, 'etc');
  const masterPidFile = join(dir, 'queue', 'pid', 'master.pid');
  mkdirSync(configDir);
  // Postfix only creates what is below queue_directory; the directory itself must exist, root-owned.
  mkdirSync(join(dir, 'queue'), { mode: 0o755 });
  const runLog = join(dir, 'postfix-start.log');
  const maillog = join(dir, 'maillog');
  const logTail = (lines = 30): string => `${tailOf(runLog, 10)}\n--- maillog ---\n${tailOf(maillog, lines)}`;

  const filterPort = opts.contentFilter === false ? undefined : (opts.contentFilter?.port ?? (await freePort(HOST)));
  const routes = opts.routes ?? {};
  const hasRoutes = Object.keys(routes).length > 0;
  writeFileSync(join(configDir, 'transport'), renderTransport(routes));
  writeFileSync(
    join(configDir, 'main.cf'),
    renderMainCf({ dir, myhostname: opts.myhostname ?? 'harness.ssmax.test', filterPort, nextHop: opts.nextHop, hasRoutes, extra: opts.mainCf ?? {} }),
  );

  const postfixCommand = async (args: string[]): Promise<string> => {
    try {
      const { stdout } = await run('postfix', ['-c', configDir, ...args]);
      return stdout;
    } catch (err) {
      throw new HarnessError(`postfix ${args.join(' ')} failed:\n${logTail()}`, SERVICE, { cause: err });
    }
  };

  let daemon: Daemon | undefined;
  let smtp: Endpoint | undefined;
  let reinject: Endpoint | undefined;
  // A port from freePort() can be taken before the master binds it; then try again with fresh ones.
  for (let attempt = 1; ; attempt++) {
    // Distinct from each other and from the filter port (the OS may hand a just-closed port out again).
    const ports = (await freePorts(3, HOST)).filter((p) => p !== filterPort);
    smtp = { host: HOST, port: ports[0] ?? 0 };
    reinject = { host: HOST, port: ports[1] ?? 0 };
    writeFileSync(join(configDir, 'master.cf'), renderMasterCf({ smtpPort: smtp.port, reinjectPort: reinject.port }));
    daemon = new Daemon({ name: SERVICE, command: 'postfix', args: ['-c', configDir, 'start-fg'], logFile: runLog, cwd: dir });
    try {
      await waitForListening(smtp, daemon, 30_000);
      await waitForListening(reinject, daemon, 30_000);
      break;
    } catch (err) {
      await stopMaster(daemon, masterPidFile);
      if (attempt < 3 && /Address already in use/.test(logTail(50))) continue;
      await disposeWorkDir(SERVICE, dir, { keepDir: true });
      throw new HarnessError(`did not start:\n${logTail()}`, SERVICE, { cause: err });
    }
  }
  const started = daemon;
  const masterPid = readMasterPid(masterPidFile);
  // Without a master pid we could not stop its workers; refuse rather than leak them.
  if (masterPid === undefined) {
    await stopMaster(started, masterPidFile);
    throw new HarnessError(`started but wrote no ${masterPidFile}:\n${logTail()}`, SERVICE);
  }
  // The generic exit hook and the parent-death signal reach only our direct child (the postfix-script
  // shell). The master runs in its own session (setsid), so it must be signalled by PID: here when
  // this process exits normally, by the watchdog when it is SIGKILLed and no exit hook runs.
  const onExit = (): void => {
    try {
      process.kill(masterPid, 'SIGTERM');
    } catch {
      /* already gone */
    }
  };
  process.once('exit', onExit);
  const watchdog = startMasterWatchdog(masterPid);

  const postconf = async (params: Readonly<Record<string, string>>): Promise<void> => {
    const assignments = Object.entries(params).map(([k, v]) => `${k}=${v}`);
    try {
      await run('postconf', ['-c', configDir, '-e', ...assignments]);
    } catch (err) {
      throw new HarnessError(`postconf ${assignments.join(' ')} failed`, SERVICE, { cause: err });
    }
    await postfixCommand(['reload']);
  };

  return {
    name: SERVICE,
    dir,
    configDir,
    masterPid,
    smtp,
    reinject,
    filter: filterPort === undefined ? undefined : { host: HOST, port: filterPort },
    logTail,
    postconf,
    async setNextHop(hop: NextHop) {
      await postconf({ default_transport: transportOf(hop) });
      await postfixCommand(['flush']);
    },
    async flushQueue() {
      await postfixCommand(['flush']);
    },
    async queue() {
      try {
        const { stdout } = await run('postqueue', ['-c', configDir, '-j']);
        return stdout
          .split('\n')
          .filter((l) => l.trim() !== '')
          .map((l) => JSON.parse(l) as QueueEntry);
      } catch (err) {
        throw new HarnessError(`postqueue -j failed:\n${logTail()}`, SERVICE, { cause: err });
      }
    },
    async stop(stopOpts?: StopOptions) {
      stopWatchdog(watchdog);
      await stopMaster(started, masterPidFile, masterPid);
      process.removeListener('exit', onExit);
      await disposeWorkDir(SERVICE, dir, stopOpts);
    },
  };
}

/**
 * A detached shell that polls for this Node process and SIGTERMs the master once it is gone. The
 * master then stops its workers. Detached, so a kill of our process group does not take it along.
 */
function startMasterWatchdog(masterPid: number): ChildProcess {
  const script = 'while kill -0 "$0" 2>/dev/null; do sleep 1; done; kill -TERM "$1" 2>/dev/null';
  const child = spawn('sh', ['-c', script, String(process.pid), String(masterPid)], { detached: true, stdio: 'ignore' });
  child.unref();
  return child;
}

function stopWatchdog(watchdog: ChildProcess): void {
  if (watchdog.pid === undefined) return;
  try {
    // Its own process group (detached): the shell and its current `sleep`.
    process.kill(-watchdog.pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

function readMasterPid(file: string): number | undefined {
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  return Number.isInteger(pid) && pid > 1 ? pid : undefined;
}

/**
 * SIGTERM to the master, which then terminates its whole process group (all Postfix workers);
 * the postfix-script shell we spawned exits with it. Waits until none of them is left.
 */
async function stopMaster(daemon: Daemon, masterPidFile: string, knownPid?: number): Promise<void> {
  const masterPid = knownPid ?? readMasterPid(masterPidFile);
  if (masterPid !== undefined) {
    try {
      process.kill(masterPid, 'SIGTERM');
    } catch {
      /* already gone */
    }
  }
  try {
    // The shell that runs the master in the foreground returns when the master has exited.
    await daemon.waitExit(masterPid === undefined ? 0 : 10_000);
  } catch {
    await daemon.stop(5_000);
  }
  if (masterPid === undefined) return;
  await waitFor(
    `postfix master ${masterPid} and its workers to exit`,
    () => (findProcesses((p) => p.pid === masterPid || p.pgrp === masterPid).length === 0 ? true : undefined),
    { timeoutMs: 15_000 },
  );
}
