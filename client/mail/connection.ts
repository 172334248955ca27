import { ImapFlow } from 'imapflow';

/**
 * One account's IMAP connection (imapflow): logs in (plain on loopback, STARTTLS or implicit TLS
 * with an optional pinned CA certificate), keeps itself connected with exponential backoff and
 * jitter, and reports typed states. Operations run one at a time through `run()`, so a sync, a
 * search and a flag change never interleave on the selected mailbox. Between operations imapflow
 * IDLEs in the selected mailbox; its `exists`/`expunge`/`flags` notifications are passed on as
 * `mailbox` events. An authentication failure stops the reconnect loop (retrying a wrong password
 * only locks the account). The password is never logged or put in a state or error message.
 */

export type ImapSecurity = 'starttls' | 'tls' | 'none';

export interface ImapSettings {
  host: string;
  port: number;
  security: ImapSecurity;
  username: string;
  password: string;
  /** PEM certificate(s) to trust instead of the system CAs (a private or self-signed server). */
  caCertPem?: string;
}

export type ConnectionState =
  | { state: 'connecting'; attempt: number }
  | { state: 'online' }
  /** Not connected; the next attempt is in `retryInMs`. */
  | { state: 'offline'; attempt: number; retryInMs: number; error: string }
  /** The server refused the login: no more attempts until the settings change. */
  | { state: 'auth-failed'; error: string }
  | { state: 'closed' };

export interface MailboxChange {
  path: string;
  kind: 'exists' | 'expunge' | 'flags';
}

export interface BackoffOptions {
  /** First retry delay before jitter. Default 500 ms. */
  baseMs: number;
  /** Ceiling before jitter. Default 60 s. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, maxMs: 60_000 };

/**
 * Delay before attempt `attempt + 1` (attempt ≥ 1 failed so far): base·2^(attempt−1) capped at max,
 * with "equal jitter" (a uniformly random point in the upper half), so clients that lost the same
 * server do not come back in lockstep and the delay never collapses to zero.
 */
export function backoffDelay(
  attempt: number,
  opts: BackoffOptions,
  random: () => number = Math.random,
): number {
  const exp = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
  return Math.round(exp / 2 + random() * (exp / 2));
}

export class ImapOffline extends Error {
  constructor(message = 'The mail server is not connected.') {
    super(message);
    this.name = 'ImapOffline';
  }
}

export class ImapAuthFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImapAuthFailed';
  }
}

export interface ImapConnectionOptions {
  backoff?: BackoffOptions;
  random?: () => number;
  /** Connection and greeting timeout, ms. Default 15 s. */
  connectTimeoutMs?: number;
}

type Listener<T> = (value: T) => void;

/**
 * imapflow enters IDLE after this much inactivity in the selected mailbox (its default, 15 s, would
 * leave new mail unseen that long after each sync). Our operations come in bursts, so 1 s rarely
 * costs an extra IDLE/DONE round trip.
 */
export const AUTO_IDLE_DELAY_MS = 1_000;

export function imapClientOptions(
  s: ImapSettings,
  connectTimeoutMs = 15_000,
): ConstructorParameters<typeof ImapFlow>[0] {
  const tls = s.caCertPem ? { ca: [s.caCertPem], rejectUnauthorized: true } : { rejectUnauthorized: true };
  return {
    host: s.host,
    port: s.port,
    secure: s.security === 'tls',
    doSTARTTLS: s.security === 'starttls' ? true : false,
    tls: s.security === 'none' ? undefined : tls,
    auth: { user: s.username, pass: s.password },
    logger: false,
    autoIdleDelay: AUTO_IDLE_DELAY_MS,
    connectionTimeout: connectTimeoutMs,
    greetingTimeout: connectTimeoutMs,
  };
}

/** A one-shot login check (accounts.add): resolves when the server accepts the settings. */
export async function checkLogin(s: ImapSettings, timeoutMs = 15_000): Promise<void> {
  const client = new ImapFlow(imapClientOptions(s, timeoutMs));
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    client.close();
    throw describeConnectError(err, s);
  }
  await client.logout().catch(() => client.close());
}

/** An English sentence for a failed connect; never contains the password. */
export function describeConnectError(err: unknown, s: Pick<ImapSettings, 'host' | 'port'>): Error {
  const e = err as { authenticationFailed?: boolean; code?: string; message?: string };
  if (e?.authenticationFailed)
    return new ImapAuthFailed(`The server ${s.host} refused the user name or password.`);
  const what = e?.code ? `${e.code}` : (e?.message ?? String(err));
  return new ImapOffline(`Cannot connect to ${s.host}:${s.port} (${what}).`);
}

export class ImapConnection {
  #settings: ImapSettings;
  readonly #backoff: BackoffOptions;
  readonly #random: () => number;
  readonly #connectTimeoutMs: number;
  #client: ImapFlow | undefined;
  #state: ConnectionState = { state: 'closed' };
  #stopped = true;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  readonly #stateListeners = new Set<Listener<ConnectionState>>();
  readonly #mailboxListeners = new Set<Listener<MailboxChange>>();
  /** Successful logins so far (a reconnect adds one); for tests and diagnostics. */
  connects = 0;

  constructor(settings: ImapSettings, opts: ImapConnectionOptions = {}) {
    this.#settings = settings;
    this.#backoff = opts.backoff ?? DEFAULT_BACKOFF;
    this.#random = opts.random ?? Math.random;
    this.#connectTimeoutMs = opts.connectTimeoutMs ?? 15_000;
  }

  get state(): ConnectionState {
    return this.#state;
  }

  /** True when the server advertises CONDSTORE (after login). */
  get condstore(): boolean {
    return this.#client?.capabilities.has('CONDSTORE') ?? false;
  }

  onState(listener: Listener<ConnectionState>): () => void {
    this.#stateListeners.add(listener);
    return () => this.#stateListeners.delete(listener);
  }

  onMailbox(listener: Listener<MailboxChange>): () => void {
    this.#mailboxListeners.add(listener);
    return () => this.#mailboxListeners.delete(listener);
  }

  /** Starts connecting (and reconnecting) in the background. */
  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#loop = this.#connectLoop();
  }

  /** Logs out and stops reconnecting. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    const client = this.#client;
    if (client) await client.logout().catch(() => client.close());
    await this.#loop;
    this.#loop = undefined;
    this.#setState({ state: 'closed' });
  }

  /**
   * Drops the connection now, as a network failure would (e.g. after the system resumed from
   * sleep); the loop reconnects with backoff. Operations in flight fail with a connection error.
   */
  disconnect(): void {
    this.#client?.close();
  }

  /** Skips the remaining backoff delay and tries now (network came back, user asked). */
  retryNow(): void {
    this.#wake?.();
  }

  /** Resolves once online; rejects on auth failure, stop, or after `timeoutMs`. */
  waitOnline(timeoutMs: number): Promise<void> {
    if (this.#state.state === 'online') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new ImapOffline(`Not connected to ${this.#settings.host} after ${timeoutMs} ms.`));
      }, timeoutMs);
      const off = this.onState((s) => {
        if (s.state === 'online') resolve();
        else if (s.state === 'auth-failed') reject(new ImapAuthFailed(s.error));
        else if (s.state === 'closed') reject(new ImapOffline('The connection was closed.'));
        else return;
        clearTimeout(timer);
        off();
      });
    });
  }

  /**
   * Runs `fn` with the connected client, after every operation queued before it. Rejects with
   * `ImapOffline` when not connected (the caller decides whether to wait or report).
   */
  run<T>(fn: (client: ImapFlow) => Promise<T>): Promise<T> {
    const next = this.#queue.then(async () => {
      const client = this.#client;
      if (!client || this.#state.state !== 'online' || !client.usable) throw new ImapOffline();
      return fn(client);
    });
    this.#queue = next.catch(() => undefined);
    return next;
  }

  #setState(s: ConnectionState): void {
    this.#state = s;
    for (const l of [...this.#stateListeners]) {
      try {
        l(s);
      } catch (err) {
        console.error('ssmax: an IMAP state listener failed:', err);
      }
    }
  }

  #emitMailbox(change: MailboxChange): void {
    for (const l of [...this.#mailboxListeners]) {
      try {
        l(change);
      } catch (err) {
        console.error('ssmax: an IMAP mailbox listener failed:', err);
      }
    }
  }

  async #sleep(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
    this.#wake = undefined;
  }

  async #connectLoop(): Promise<void> {
    let attempt = 0;
    while (!this.#stopped) {
      attempt++;
      this.#setState({ state: 'connecting', attempt });
      const client = new ImapFlow(imapClientOptions(this.#settings, this.#connectTimeoutMs));
      // imapflow emits 'error' on socket failures; without a listener Node would throw it.
      client.on('error', () => undefined);
      try {
        await client.connect();
      } catch (err) {
        client.close();
        const error = describeConnectError(err, this.#settings);
        if (error instanceof ImapAuthFailed) {
          this.#stopped = true;
          this.#setState({ state: 'auth-failed', error: error.message });
          return;
        }
        if (this.#stopped) break;
        const retryInMs = backoffDelay(attempt, this.#backoff, this.#random);
        this.#setState({ state: 'offline', attempt, retryInMs, error: error.message });
        await this.#sleep(retryInMs);
        continue;
      }
      if (this.#stopped) {
        await client.logout().catch(() => client.close());
        break;
      }
      attempt = 0;
      const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
      client.on('exists', (d: { path: string }) => this.#emitMailbox({ path: d.path, kind: 'exists' }));
      client.on('expunge', (d: { path: string }) => this.#emitMailbox({ path: d.path, kind: 'expunge' }));
      client.on('flags', (d: { path: string }) => this.#emitMailbox({ path: d.path, kind: 'flags' }));
      this.#client = client;
      this.connects++;
      this.#setState({ state: 'online' });
      await closed;
      this.#client = undefined;
      if (this.#stopped) break;
      // Lost: the first retry already waits a (short) backoff, so a server that drops every
      // connection at once is not hammered.
      attempt = 1;
      const retryInMs = backoffDelay(attempt, this.#backoff, this.#random);
      this.#setState({
        state: 'offline',
        attempt,
        retryInMs,
        error: `The connection to ${this.#settings.host} was lost.`,
      });
      await this.#sleep(retryInMs);
    }
  }
}
