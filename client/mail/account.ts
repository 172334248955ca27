import type { SyncProgress } from '../../api';
import type { MailCache, MessageFlags } from './cache';
import {
  ImapConnection,
  ImapOffline,
  type BackoffOptions,
  type ConnectionState,
  type ImapSettings,
  type MailboxChange,
} from './connection';
import { syncFolder, syncFolderList, toFlags, type FolderSyncResult } from './sync';

/**
 * One mail account at work: its connection, and the sync scheduler on top of it. With `autoSync`
 * (the default) every (re)connection runs a full sync (folder list, then every folder, INBOX
 * first), the INBOX stays selected so imapflow IDLEs in it, and each IDLE notification (new mail,
 * expunge, flag change) syncs that folder again; a timer re-syncs all folders every `pollMs`
 * (other folders have no IDLE). Syncs never overlap: requests made while one runs are coalesced.
 * Progress and connection states go out as `SyncProgress` (the API's `sync.progress` event).
 */

export interface MailAccountOptions {
  autoSync?: boolean;
  /** Full re-sync interval while online. Default 5 minutes. */
  pollMs?: number;
  backoff?: BackoffOptions;
  random?: () => number;
  connectTimeoutMs?: number;
  onProgress?: (p: SyncProgress) => void;
}

export class MailAccount {
  readonly connection: ImapConnection;
  /** Totals since start, for diagnostics and tests. */
  readonly stats = { syncs: 0, fetchedUids: 0 };
  readonly #opts: MailAccountOptions;
  readonly #pending = new Set<string>();
  #full = false;
  #running: Promise<void> | undefined;
  #poll: NodeJS.Timeout | undefined;
  readonly #syncedListeners = new Set<(r: FolderSyncResult) => void>();
  readonly #unsubscribe: (() => void)[] = [];

  constructor(
    readonly id: string,
    settings: ImapSettings,
    private readonly cache: MailCache,
    opts: MailAccountOptions = {},
  ) {
    this.#opts = opts;
    this.connection = new ImapConnection(settings, {
      ...(opts.backoff ? { backoff: opts.backoff } : {}),
      ...(opts.random ? { random: opts.random } : {}),
      ...(opts.connectTimeoutMs ? { connectTimeoutMs: opts.connectTimeoutMs } : {}),
    });
    this.#unsubscribe.push(
      this.connection.onState((s) => this.#onState(s)),
      this.connection.onMailbox((c) => this.#onMailbox(c)),
    );
  }

  start(): void {
    this.connection.start();
  }

  async stop(): Promise<void> {
    if (this.#poll) clearInterval(this.#poll);
    this.#poll = undefined;
    this.#pending.clear();
    this.#full = false;
    await this.connection.stop();
    await this.#running?.catch(() => undefined);
    for (const off of this.#unsubscribe.splice(0)) off();
  }

  /** Called after each folder sync with what it did. */
  onSynced(listener: (r: FolderSyncResult) => void): () => void {
    this.#syncedListeners.add(listener);
    return () => this.#syncedListeners.delete(listener);
  }

  /** Syncs the folder list and every folder now (INBOX first), then selects INBOX for IDLE. */
  async syncAll(): Promise<FolderSyncResult[]> {
    const folders = await this.connection.run((c) => syncFolderList(c, this.cache, this.id));
    const results: FolderSyncResult[] = [];
    for (const f of folders) results.push(await this.syncFolder(f.path));
    this.#progress({ state: 'idle', done: 0, total: 0 });
    return results;
  }

  /** Syncs one folder now. */
  async syncFolder(path: string): Promise<FolderSyncResult> {
    const result = await this.connection.run(async (c) => {
      if (!this.cache.folder(this.id, path)) await syncFolderList(c, this.cache, this.id);
      const r = await syncFolder(c, this.cache, this.id, path, (p) =>
        this.#progress({ state: 'syncing', folder: p.folder, done: p.done, total: p.total }),
      );
      // Stay in (or go back to) INBOX: that is where imapflow IDLEs between operations. Mail that
      // arrived since INBOX was synced shows only in this SELECT's answer (no IDLE event for it).
      if (path !== 'INBOX') {
        const box = await c.mailboxOpen('INBOX').catch(() => undefined);
        const inbox = this.cache.folder(this.id, 'INBOX');
        const changed =
          box !== undefined &&
          inbox !== undefined &&
          (box.uidValidity.toString() !== inbox.uidValidity ||
            box.uidNext !== inbox.uidNext ||
            box.exists !== inbox.serverTotal ||
            (box.highestModseq !== undefined && box.highestModseq.toString() !== inbox.highestModseq));
        if (changed && this.#opts.autoSync !== false) this.requestSync('INBOX');
      }
      return r;
    });
    this.stats.syncs++;
    this.stats.fetchedUids += result.fetchedUids.length;
    for (const l of [...this.#syncedListeners]) l(result);
    return result;
  }

  /** Server-side IMAP SEARCH (TEXT, or per field) in one folder; returns UIDs. */
  async search(path: string, query: { text?: string; from?: string; subject?: string }): Promise<number[]> {
    return this.connection.run(async (c) => {
      const lock = await c.getMailboxLock(path);
      try {
        const criteria: Record<string, string> = {};
        if (query.text) criteria.text = query.text;
        if (query.from) criteria.from = query.from;
        if (query.subject) criteria.subject = query.subject;
        const found = await c.search(criteria, { uid: true });
        return Array.isArray(found) ? found : [];
      } finally {
        lock.release();
      }
    });
  }

  /** STORE on the server, then the cache from the server's answer. Returns the new flags. */
  async setFlags(
    path: string,
    uid: number,
    flags: { seen?: boolean; flagged?: boolean },
  ): Promise<MessageFlags> {
    const folder = this.cache.folder(this.id, path);
    if (!folder) throw new Error(`Folder ${path} is not in the cache.`);
    return this.connection.run(async (c) => {
      const lock = await c.getMailboxLock(path);
      try {
        const add: string[] = [];
        const remove: string[] = [];
        if (flags.seen !== undefined) (flags.seen ? add : remove).push('\\Seen');
        if (flags.flagged !== undefined) (flags.flagged ? add : remove).push('\\Flagged');
        if (add.length) await c.messageFlagsAdd(String(uid), add, { uid: true });
        if (remove.length) await c.messageFlagsRemove(String(uid), remove, { uid: true });
        const msg = await c.fetchOne(String(uid), { uid: true, flags: true }, { uid: true });
        if (!msg) throw new Error(`Message ${uid} is no longer in ${path}.`);
        const now = toFlags(msg.flags);
        this.cache.updateFlags(folder.id, [{ uid, flags: now }]);
        return now;
      } finally {
        lock.release();
      }
    });
  }

  /** Runs scheduled syncs until none is pending; resolves when the scheduler is idle. */
  whenIdle(): Promise<void> {
    return this.#running ?? Promise.resolve();
  }

  requestFullSync(): void {
    this.#full = true;
    this.#kick();
  }

  requestSync(path: string): void {
    this.#pending.add(path);
    this.#kick();
  }

  #kick(): void {
    if (this.#running) return;
    this.#running = (async () => {
      try {
        while (this.#full || this.#pending.size > 0) {
          if (this.connection.state.state !== 'online') return;
          if (this.#full) {
            this.#full = false;
            this.#pending.clear();
            await this.syncAll();
          } else {
            const path = this.#pending.values().next().value as string;
            this.#pending.delete(path);
            await this.syncFolder(path);
            this.#progress({ state: 'idle', done: 0, total: 0 });
          }
        }
      } catch (err) {
        // Offline: the next 'online' runs a full sync. Anything else is reported, not thrown.
        if (!(err instanceof ImapOffline) && this.connection.state.state === 'online') {
          const message = err instanceof Error ? err.message : String(err);
          console.error(`ssmax: mail sync of account ${this.id} failed: ${message}`);
          this.#progress({ state: 'error', done: 0, total: 0, message });
        }
      } finally {
        this.#running = undefined;
      }
    })();
  }

  #onState(s: ConnectionState): void {
    switch (s.state) {
      case 'online':
        this.#progress({ state: 'syncing', done: 0, total: 0 });
        if (this.#opts.autoSync !== false) {
          this.requestFullSync();
          if (!this.#poll) {
            this.#poll = setInterval(() => this.requestFullSync(), this.#opts.pollMs ?? 300_000);
            this.#poll.unref();
          }
        }
        return;
      case 'offline':
        this.#progress({
          state: 'offline',
          done: 0,
          total: 0,
          message: `${s.error} Retrying in ${Math.ceil(s.retryInMs / 1000)} s.`,
        });
        return;
      case 'auth-failed':
        this.#progress({ state: 'error', done: 0, total: 0, message: s.error });
        return;
      default:
        return;
    }
  }

  #onMailbox(c: MailboxChange): void {
    if (this.#opts.autoSync !== false) this.requestSync(c.path);
  }

  #progress(p: Omit<SyncProgress, 'accountId'>): void {
    this.#opts.onProgress?.({ accountId: this.id, ...p });
  }
}
