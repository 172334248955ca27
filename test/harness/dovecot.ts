import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  Daemon,
  HarnessError,
  disposeWorkDir,
  freePorts,
  makeWorkDir,
  waitFor,
  waitForListening,
  type ServiceHandle,
  type StopOptions,
} from './process';
import { findProcesses } from './procfs';

const run = promisify(execFile);
const SERVICE = 'dovecot';
const HOST = '127.0.0.1';

export interface Endpoint {
  host: string;
  port: number;
}

export interface MailUser {
  /** Login name and LMTP recipient, lower case. */
  address: string;
  password: string;
}

export interface DovecotOptions {
  /** Users created before start; more can be added with `addUser`. */
  users?: readonly MailUser[];
  /**
   * Offer STARTTLS on IMAP with a self-signed certificate made at start (`tls.certPem` on the
   * handle is the certificate to trust). Plaintext login stays allowed either way: it is loopback.
   */
  starttls?: boolean;
  /**
   * Where the maildirs live (default: inside the instance's temp dir, removed at stop). The demo
   * world keeps mail across runs by passing a folder of its state dir; it is chowned to `mail`.
   */
  mailRoot?: string;
  /**
   * Make the auth-client socket usable by Postfix's smtpd (user postfix) for SASL
   * (`smtpd_sasl_type = dovecot`, `smtpd_sasl_path = <authSocket>`): mode 0666 instead of 0600.
   */
  saslForPostfix?: boolean;
}

export interface DovecotHandle extends ServiceHandle {
  /** Dovecot instance_name; its worker processes are titled "dovecot-<instance>/<service>". */
  readonly instance: string;
  readonly imap: Endpoint;
  readonly lmtp: Endpoint;
  /** Present when started with `starttls`: the server certificate (self-signed, SAN 127.0.0.1 and localhost). */
  readonly tls: { certPem: string } | undefined;
  /** Dovecot's auth-client socket (what Postfix SASL and the org node's dovecotAuthenticator talk to). */
  readonly authSocket: string;
  /** Users known to this instance, in the order they were added. */
  readonly users: readonly MailUser[];
  /** Adds a login/recipient; resolves once Dovecot's auth process accepts it for login and LMTP. */
  addUser(address: string, password: string): Promise<MailUser>;
  /** The user's Maildir on disk (exists after the first delivery or login). */
  maildirOf(address: string): string;
  /**
   * Stops the whole instance (every connection drops) and starts it again on the same ports with
   * the same mail, for reconnect tests. `downMs` keeps it down that long in between.
   */
  restart(opts?: { downMs?: number }): Promise<void>;
  /**
   * kill -9 of every process of the instance at once (master, lmtp, imap, auth …: a crash, nothing
   * is flushed), then the same instance again on the same ports and maildirs after `downMs`.
   */
  crash(opts?: { downMs?: number }): Promise<void>;
}

/** Special-use mailboxes every user gets, created and subscribed on first access. */
export const SPECIAL_USE_MAILBOXES = {
  Sent: '\\Sent',
  Drafts: '\\Drafts',
  Trash: '\\Trash',
  Junk: '\\Junk',
} as const;

/**
 * The uid/gid that owns the mail files. Dovecot refuses uid 0 in a passwd-file userdb, and running
 * mail as its own internal user would let a mail process touch Dovecot's state; Debian's system
 * user `mail` exists on every install and is meant for exactly this.
 */
function mailOwner(): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('mail:'));
  const fields = line?.split(':');
  if (!fields || fields.length < 4) {
    throw new HarnessError('system user "mail" not found in /etc/passwd; it owns the private maildirs', SERVICE);
  }
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
}

function checkField(what: string, value: string): void {
  // The passwd-file format is colon separated, one user per line.
  if (value.length === 0 || /[:\n\r]/.test(value)) {
    throw new HarnessError(`${what} must be non-empty and contain no ':' or line breaks: ${JSON.stringify(value)}`, SERVICE);
  }
}

function renderConfig(p: {
  dir: string;
  instance: string;
  imapPort: number;
  lmtpPort: number;
  firstValidUid: number;
  tls: { cert: string; key: string } | undefined;
  saslForPostfix?: boolean;
}): string {
  const mailboxes = Object.entries(SPECIAL_USE_MAILBOXES)
    .map(([name, flag]) => `  mailbox ${name} {\n    special_use = ${flag}\n    auto = subscribe\n  }`)
    .join('\n');
  return `# Private Dovecot instance of the SSMAX test harness; nothing here touches /etc/dovecot.
protocols = imap lmtp
listen = ${HOST}
# Own base_dir/state_dir/instance_name so that several instances run side by side.
base_dir = ${p.dir}/run
state_dir = ${p.dir}/state
instance_name = ${p.instance}
log_path = ${p.dir}/dovecot.log
auth_verbose = yes
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = ${p.firstValidUid}
# Loopback only: plaintext login is what the client tests use unless they ask for STARTTLS.
disable_plaintext_auth = no
auth_mechanisms = plain login
# The 2 s brute-force delay only slows tests down (and the addUser readiness probe) on loopback.
auth_failure_delay = 0
${p.tls ? `ssl = yes\nssl_cert = <${p.tls.cert}\nssl_key = <${p.tls.key}\nssl_min_protocol = TLSv1.2` : 'ssl = no'}
mail_location = maildir:~/Maildir
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%Lu ${p.dir}/users
}
userdb {
  driver = passwd-file
  args = username_format=%Lu ${p.dir}/users
}
service imap-login {
  inet_listener imap {
    address = ${HOST}
    port = ${p.imapPort}
  }
  inet_listener imaps {
    port = 0
  }
}
service lmtp {
  inet_listener lmtp {
    address = ${HOST}
    port = ${p.lmtpPort}
  }
}
# Anvil's auth penalty delays every login from an IP for 2..15 s after a failed one (tests that
# check a wrong password would slow down all later logins). The auth process (user dovecot) cannot
# connect to a socket of mode 0 and then runs without penalties.
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
${p.saslForPostfix ? 'service auth {\n  unix_listener auth-client {\n    mode = 0666\n  }\n}\n' : ''}namespace inbox {
  inbox = yes
  separator = /
${mailboxes}
}
`;
}

async function makeCertificate(dir: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, 'imap-cert.pem');
  const key = join(dir, 'imap-key.pem');
  try {
    await run('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ]);
  } catch (err) {
    throw new HarnessError('could not make the IMAP STARTTLS certificate with openssl', SERVICE, { cause: err });
  }
  return { cert, key };
}

/** Dovecot's processes are titled "dovecot-<instance_name>/<service>" (and the master names its -c file). */
function instanceProcesses(instance: string, configFile: string): number[] {
  return findProcesses((p) => p.cmdline.startsWith(`dovecot-${instance}/`) || p.cmdline.includes(configFile)).map((p) => p.pid);
}

/**
 * Starts a private Dovecot (IMAP + LMTP on random loopback ports, passwd-file users, maildir) in
 * its own temp dir with `dovecot -c <conf> -F`, so the master is our child and dies with us.
 */
export async function startDovecot(opts: DovecotOptions = {}): Promise<DovecotHandle> {
  if (userInfo().uid !== 0) {
    throw new HarnessError('the private Dovecot must be started as root (it switches to dovecot/dovenull/mail itself)', SERVICE);
  }
  const dir = await makeWorkDir(SERVICE);
  // Dovecot's unprivileged login and internal processes must be able to reach base_dir below it.
  chmodSync(dir, 0o755);
  const owner = mailOwner();
  const mailRoot = opts.mailRoot ?? join(dir, 'mail');
  mkdirSync(mailRoot, { recursive: true });
  chownSync(mailRoot, owner.uid, owner.gid);
  mkdirSync(join(dir, 'run'));
  mkdirSync(join(dir, 'state'));

  const users: MailUser[] = [];
  const usersFile = join(dir, 'users');
  const maildirOf = (address: string): string => join(mailRoot, address.toLowerCase(), 'Maildir');
  const writeUsers = (): void => {
    const lines = users.map((u) => `${u.address}:{PLAIN}${u.password}:${owner.uid}:${owner.gid}::${join(mailRoot, u.address)}::\n`);
    // Written whole and renamed so Dovecot never reads a half-written file.
    // World-readable is fine: test passwords, and Dovecot's auth process need not run as root.
    writeFileSync(`${usersFile}.new`, lines.join(''), { mode: 0o644 });
    renameSync(`${usersFile}.new`, usersFile);
  };
  const addToFile = (address: string, password: string): MailUser => {
    checkField('address', address);
    checkField('password', password);
    const user = { address: address.toLowerCase(), password };
    if (users.some((u) => u.address === user.address)) {
      throw new HarnessError(`user ${user.address} already exists`, SERVICE);
    }
    users.push(user);
    writeUsers();
    return user;
  };
  for (const u of opts.users ?? []) addToFile(u.address, u.password);
  writeUsers();

  const tls = opts.starttls ? await makeCertificate(dir) : undefined;
  const instance = `ssmax-${randomBytes(4).toString('hex')}`;
  const configFile = join(dir, 'dovecot.conf');
  const logFile = join(dir, 'dovecot.log');

  let daemon: Daemon | undefined;
  let imap: Endpoint | undefined;
  let lmtp: Endpoint | undefined;
  // A port from freePort() can be taken by someone else before Dovecot binds it; try fresh ports then.
  for (let attempt = 1; ; attempt++) {
    const [imapPort, lmtpPort] = await freePorts(2, HOST);
    imap = { host: HOST, port: imapPort ?? 0 };
    lmtp = { host: HOST, port: lmtpPort ?? 0 };
    writeFileSync(
      configFile,
      renderConfig({ dir, instance, imapPort: imap.port, lmtpPort: lmtp.port, firstValidUid: Math.min(owner.uid, 500), tls, ...(opts.saslForPostfix ? { saslForPostfix: true } : {}) }),
    );
    daemon = new Daemon({ name: SERVICE, command: 'dovecot', args: ['-c', configFile, '-F'], logFile, cwd: dir });
    try {
      await waitForListening(imap, daemon);
      await waitForListening(lmtp, daemon);
      break;
    } catch (err) {
      await daemon.stop();
      if (attempt < 3 && /Address already in use|duplicate listener/.test(daemon.logTail(50))) continue;
      await disposeWorkDir(SERVICE, dir, { keepDir: true });
      throw err instanceof HarnessError ? err : new HarnessError(`did not start:\n${daemon.logTail()}`, SERVICE, { cause: err });
    }
  }
  let started = daemon;
  const stopInstance = async (): Promise<void> => {
    await started.stop();
    // The log process outlives the master by a moment; wait until no worker of this instance is left.
    await waitFor(
      `all processes of dovecot instance ${instance} to exit`,
      () => (instanceProcesses(instance, configFile).length === 0 ? true : undefined),
      { timeoutMs: 10_000 },
    );
  };

  const doveadm = async (args: string[]): Promise<boolean> => {
    try {
      await run('doveadm', ['-c', configFile, ...args]);
      return true;
    } catch {
      return false;
    }
  };
  const addUser = async (address: string, password: string): Promise<MailUser> => {
    const user = addToFile(address, password);
    // Dovecot stats the passwd-file at most once per second (db-passwd-file.c, passwd_file_sync), so a
    // lookup in the same second as the write can still see the old file. Wait until both the passdb
    // (IMAP login) and the userdb (LMTP RCPT) answer for the new user.
    await waitFor(
      `dovecot auth to know ${user.address}`,
      async () =>
        (await doveadm(['user', user.address])) &&
        (await doveadm(['auth', 'test', '-x', 'service=imap', user.address, user.password]))
          ? true
          : undefined,
      { timeoutMs: 10_000, intervalMs: 200, daemon: started },
    );
    return user;
  };

  return {
    name: SERVICE,
    dir,
    instance,
    imap,
    lmtp,
    tls: tls ? { certPem: readFileSync(tls.cert, 'utf8') } : undefined,
    authSocket: join(dir, 'run', 'auth-client'),
    get users() {
      return [...users];
    },
    addUser,
    maildirOf,
    logTail: (lines?: number) => started.logTail(lines),
    async restart(restartOpts?: { downMs?: number }) {
      await started.stop();
      // An imap process whose client sits in IDLE can outlive the master (with log and stats
      // waiting for it); a restart is a crash for the clients anyway: kill this instance's leftovers.
      const gone = (): true | undefined => (instanceProcesses(instance, configFile).length === 0 ? true : undefined);
      try {
        await waitFor(`dovecot instance ${instance} to exit`, gone, { timeoutMs: 2_000 });
      } catch {
        for (const pid of instanceProcesses(instance, configFile)) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      }
      await stopInstance();
      if (restartOpts?.downMs) await new Promise((r) => setTimeout(r, restartOpts.downMs));
      started = new Daemon({ name: SERVICE, command: 'dovecot', args: ['-c', configFile, '-F'], logFile, cwd: dir });
      await waitForListening(imap!, started);
      await waitForListening(lmtp!, started);
    },
    async crash(crashOpts?: { downMs?: number }) {
      for (const pid of instanceProcesses(instance, configFile)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await stopInstance();
      if (crashOpts?.downMs) await new Promise((r) => setTimeout(r, crashOpts.downMs));
      started = new Daemon({ name: SERVICE, command: 'dovecot', args: ['-c', configFile, '-F'], logFile, cwd: dir });
      await waitForListening(imap!, started);
      await waitForListening(lmtp!, started);
    },
    async stop(stopOpts?: StopOptions) {
      await stopInstance();
      await disposeWorkDir(SERVICE, dir, stopOpts);
    },
  };
}
