import { join } from 'node:path';
import {
  ApiError,
  type Account,
  type Folder,
  type MessagePage,
  type MessagePageQuery,
  type MessageRef,
  type MessageSummary,
  type NewAccount,
  type StartupNotice,
  type SyncProgress,
  type TrustState,
} from '../../api';
import { MailAccount, type MailAccountOptions } from './account';
import { FileSecretStore, SecretUnavailable, type SecretStore } from '../secrets/secret-store';
import { AccountPasswordMissing, AccountStore, AccountsFileError, imapSettingsOf, type StoredAccount } from './accounts';
import { MailCache, type CachedMessage, type PageCursor } from './cache';
import { ImapAuthFailed, ImapOffline, checkLogin } from './connection';

/**
 * The mail side of the service host: accounts (accounts.json), one `MailAccount` per account, the
 * SQLite cache (`mail-cache.sqlite` in the data dir), and the API's accounts/folders/messages
 * methods mapped onto them. Lists are answered from the cache (fast, also offline); searches and
 * flag changes go to the server and say so with `ServerUnavailable` when it cannot be reached.
 */

export const MAIL_CACHE_FILE = 'mail-cache.sqlite';

export interface MailServiceOptions {
  dataDir: string;
  onProgress: (p: SyncProgress) => void;
  /** Passed to every account (tests: backoff, poll interval). */
  account?: Omit<MailAccountOptions, 'onProgress'>;
  /** Login check timeout for `accounts.add`. Default 15 s. */
  loginTimeoutMs?: number;
  /** Where account passwords live (client/secrets). Default: `secrets.json` in the data dir (0600, browser mode). */
  secrets?: SecretStore;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost', '[::1]']);

export class MailService {
  readonly #accounts = new Map<string, MailAccount>();

  private constructor(
    private readonly opts: MailServiceOptions,
    private readonly store: AccountStore,
    readonly cache: MailCache,
  ) {}

  /** Problems found when opening (a corrupt accounts file or cache), for `app.info().notices`. */
  readonly notices: StartupNotice[] = [];

  static async open(opts: MailServiceOptions): Promise<MailService> {
    const secrets = opts.secrets ?? (await FileSecretStore.open(opts.dataDir));
    const accounts = await AccountStore.openOrRecover(opts.dataDir, secrets);
    const cachePath = join(opts.dataDir, MAIL_CACHE_FILE);
    const { cache, rebuilt } = MailCache.openOrRebuild(cachePath);
    const service = new MailService(opts, accounts.store, cache);
    if (accounts.problem) {
      console.error(`ssmax: ${accounts.problem.message}`, accounts.problem.cause);
      service.notices.push({
        code: 'AccountsFileCorrupt',
        message: `${accounts.problem.message} It was kept as ${accounts.keptAs}; add the accounts again.`,
        ...(accounts.keptAs ? { keptAs: accounts.keptAs } : {}),
      });
    }
    if (rebuilt) {
      console.error(
        `ssmax: the mail cache ${cachePath} could not be opened; starting a new one.`,
        rebuilt.cause,
      );
      service.notices.push({
        code: 'MailCacheRebuilt',
        message: `The mail cache ${cachePath} could not be opened; it is being rebuilt from the server.`,
        keptAs: rebuilt.keptAs,
      });
    }
    for (const a of accounts.store.list()) {
      let password: string;
      try {
        password = await accounts.store.password(a.id);
      } catch (err) {
        if (!(err instanceof SecretUnavailable) && !(err instanceof AccountPasswordMissing)) throw err;
        // The account stays listed but is not connected: no login is tried with a guessed password.
        console.error(`ssmax: account ${a.email} not started: ${err.message}`);
        service.notices.push({ code: 'AccountPasswordUnavailable', message: `${a.email}: ${err.message}` });
        continue;
      }
      service.#startAccount(a, password);
    }
    return service;
  }

  /** The running account (tests reach its connection and scheduler through this). */
  account(id: string): MailAccount | undefined {
    return this.#accounts.get(id);
  }

  async close(): Promise<void> {
    await Promise.all([...this.#accounts.values()].map((a) => a.stop()));
    this.#accounts.clear();
    this.cache.close();
  }

  /**
   * Removes an account: its connection is stopped, then it leaves accounts.json (its password the
   * secret store) and its cached folders and messages are dropped. The mail on the server is untouched.
   */
  async removeAccount(id: string, method = 'accounts.remove'): Promise<void> {
    if (!this.store.get(id)) throw new ApiError('NotFound', `There is no account ${id}.`, { method });
    await this.#accounts.get(id)?.stop();
    this.#accounts.delete(id);
    try {
      await this.store.remove(id);
    } catch (cause) {
      throw new ApiError('StorageFailed', 'The account could not be removed from the accounts file.', { method, cause });
    }
    this.cache.removeAccount(id);
  }

  listAccounts(): Account[] {
    return this.store.list().map(toAccount);
  }

  async addAccount(input: NewAccount, method = 'accounts.add'): Promise<Account> {
    const email = input.email.trim();
    const host = input.imap.host.trim().toLowerCase();
    if (input.imap.security === 'none' && !LOOPBACK.has(host)) {
      // The password would cross the network in clear text.
      throw new ApiError(
        'Refused',
        `Unencrypted IMAP is only allowed to this computer (127.0.0.1); use STARTTLS or TLS for ${host}.`,
        { method },
      );
    }
    if (this.store.list().some((a) => a.email.toLowerCase() === email.toLowerCase())) {
      throw new ApiError('Refused', `An account for ${email} already exists.`, { method });
    }
    const imap = { ...input.imap, host };
    try {
      await checkLogin(imap, this.opts.loginTimeoutMs);
    } catch (err) {
      if (err instanceof ImapAuthFailed) throw new ApiError('LoginFailed', err.message, { method });
      throw new ApiError('ServerUnavailable', (err as Error).message, { method });
    }
    let stored: StoredAccount;
    try {
      stored = await this.store.add({ email, displayName: input.displayName?.trim() || email, imap });
    } catch (err) {
      throw new ApiError('StorageFailed', (err as Error).message, { method, cause: err });
    }
    this.#startAccount(stored, imap.password);
    return toAccount(stored);
  }

  listFolders(accountId: string, method = 'folders.list'): Folder[] {
    this.#require(accountId, method);
    return this.cache.folders(accountId).map((f) => {
      const counts = this.cache.counts(f.id);
      return {
        accountId,
        path: f.path,
        name: f.path.toUpperCase() === 'INBOX' ? 'INBOX' : f.name,
        role: f.role,
        unread: counts.unread,
        total: counts.total,
      };
    });
  }

  async page(query: MessagePageQuery, method = 'messages.page'): Promise<MessagePage> {
    const { accountId, path } = query.folder;
    const account = this.#require(accountId, method);
    const folder = this.cache.folder(accountId, path);
    if (!folder) throw new ApiError('NotFound', `There is no folder ${path} in this account.`, { method });
    const summary = (m: CachedMessage): MessageSummary => toSummary(accountId, path, m);

    const text = query.search?.trim();
    if (text) {
      if (query.cursor !== undefined)
        throw new ApiError('InvalidArguments', 'A search result is paged by offset, not by cursor.', {
          method,
        });
      let uids: number[];
      try {
        uids = await account.search(path, { text });
      } catch (err) {
        throw serverError(err, method);
      }
      const page = this.cache.pageOfUids(folder.id, uids, query.offset, query.limit);
      return { folder: query.folder, offset: query.offset, total: page.total, rows: page.rows.map(summary) };
    }
    const total = this.cache.counts(folder.id).total;
    const page =
      query.cursor !== undefined
        ? this.cache.page(folder.id, query.limit, parseCursor(query.cursor))
        : this.cache.pageAt(folder.id, query.offset, query.limit);
    return {
      folder: query.folder,
      offset: query.offset,
      total,
      rows: page.rows.map(summary),
      ...cursorOf(page.next),
    };
  }

  async setFlags(
    ref: MessageRef,
    flags: { seen?: boolean; flagged?: boolean },
    method = 'messages.setFlags',
  ): Promise<void> {
    const account = this.#require(ref.accountId, method);
    const folder = this.cache.folder(ref.accountId, ref.path);
    if (!folder || !this.cache.message(folder.id, ref.uid))
      throw new ApiError('NotFound', `Message ${ref.uid} is not in ${ref.path}.`, { method });
    if (flags.seen === undefined && flags.flagged === undefined) return;
    try {
      await account.setFlags(ref.path, ref.uid, flags);
    } catch (err) {
      throw serverError(err, method);
    }
  }

  #require(accountId: string, method: string): MailAccount {
    const a = this.#accounts.get(accountId);
    if (!a) throw new ApiError('NotFound', `There is no account ${accountId}.`, { method });
    return a;
  }

  /** The account's address and login for SMTP submission (same credentials as IMAP), password from the secret store. */
  async credentials(accountId: string, method = 'compose.send'): Promise<{ email: string; displayName: string; user: string; pass: string }> {
    const a = this.store.get(accountId);
    if (!a) throw new ApiError('NotFound', `No account ${accountId}.`, { method });
    try {
      return { email: a.email, displayName: a.displayName, user: a.imap.username, pass: await this.store.password(accountId) };
    } catch (err) {
      if (err instanceof SecretUnavailable || err instanceof AccountPasswordMissing)
        throw new ApiError('Refused', err.message, { method, cause: err });
      throw err;
    }
  }

  #startAccount(a: StoredAccount, password: string): void {
    const account = new MailAccount(a.id, imapSettingsOf(a, password), this.cache, {
      ...this.opts.account,
      onProgress: this.opts.onProgress,
    });
    this.#accounts.set(a.id, account);
    account.start();
  }
}

export { AccountsFileError };

function serverError(err: unknown, method: string): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof ImapOffline) return new ApiError('ServerUnavailable', err.message, { method });
  if (err instanceof ImapAuthFailed) return new ApiError('LoginFailed', err.message, { method });
  const e = err as { code?: string; message?: string };
  if (e?.code === 'NoConnection' || e?.code === 'EConnectionClosed')
    return new ApiError('ServerUnavailable', 'The connection to the mail server was lost; try again.', {
      method,
    });
  return new ApiError('Internal', `The mail server answered unexpectedly: ${e?.message ?? String(err)}`, {
    method,
    cause: err,
  });
}

function toAccount(a: StoredAccount): Account {
  return {
    id: a.id,
    email: a.email,
    displayName: a.displayName,
    imap: { host: a.imap.host, port: a.imap.port, security: a.imap.security, username: a.imap.username },
  };
}

export function encodeCursor(c: PageCursor): string {
  return `${c.received}:${c.uid}`;
}

function parseCursor(s: string): PageCursor {
  const [received, uid] = s.split(':').map(Number);
  return { received: received!, uid: uid! };
}

function cursorOf(next: PageCursor | undefined): { nextCursor?: string } {
  return next ? { nextCursor: encodeCursor(next) } : {};
}

const TRUST_STATES = new Set<TrustState>(['verified', 'signed', 'unsigned', 'failed']);

/** The cached verification (written by "open") as far as the list needs it. */
function verificationOf(json: string | null): { trust?: TrustState; external: boolean } {
  if (json === null) return { external: false };
  try {
    const v = JSON.parse(json) as { state?: unknown; external?: unknown };
    const trust = TRUST_STATES.has(v.state as TrustState) ? (v.state as TrustState) : undefined;
    return { ...(trust ? { trust } : {}), external: v.external === true };
  } catch {
    return { external: false };
  }
}

function toSummary(accountId: string, path: string, m: CachedMessage): MessageSummary {
  return {
    ref: { accountId, path, uid: m.uid },
    from: { name: m.from.name, email: m.from.address },
    subject: m.subject,
    date: new Date(m.date ?? m.received).toISOString(),
    unread: !m.flags.seen,
    flagged: m.flags.flagged,
    hasAttachments: m.hasAttachments,
    smime: m.smime,
    ...verificationOf(m.verification),
  };
}
