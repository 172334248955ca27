import { renameSync, rmSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { FolderRole } from '../../api';

/**
 * The local mail cache: one SQLite file (WAL, foreign keys on) in the data dir holding, per
 * account, the folders with their IMAP sync state (UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ) and the
 * message headers the list needs, plus the verification result once a message has been opened.
 * Bodies are not cached: mail is encrypted to the card, so the server copy is the one to open.
 *
 * Big integers of IMAP (UIDVALIDITY is 32-bit unsigned, MODSEQ up to 63-bit) are stored as decimal
 * TEXT so they never lose precision. Dates are milliseconds since the epoch. The list is ordered by
 * the server's arrival time (INTERNALDATE), newest first, then UID: a forged future `Date:` header
 * cannot pin a message to the top. Schema changes go through `PRAGMA user_version` migrations.
 */

const migrations: readonly string[] = [
  `CREATE TABLE folder (
     id            INTEGER PRIMARY KEY,
     account_id    TEXT NOT NULL,
     path          TEXT NOT NULL,
     name          TEXT NOT NULL,
     delimiter     TEXT,
     special_use   TEXT,
     role          TEXT NOT NULL,
     uidvalidity   TEXT,
     uidnext       INTEGER,
     highestmodseq TEXT,
     server_total  INTEGER,
     synced_at     INTEGER,
     UNIQUE (account_id, path)
   );
   CREATE TABLE message (
     folder_id       INTEGER NOT NULL REFERENCES folder(id) ON DELETE CASCADE,
     uid             INTEGER NOT NULL,
     message_id      TEXT,
     received        INTEGER NOT NULL,
     date            INTEGER,
     from_name       TEXT NOT NULL,
     from_address    TEXT NOT NULL,
     to_json         TEXT NOT NULL,
     subject         TEXT NOT NULL,
     seen            INTEGER NOT NULL,
     flagged         INTEGER NOT NULL,
     answered        INTEGER NOT NULL,
     other_flags     TEXT NOT NULL,
     size            INTEGER NOT NULL,
     has_attachments INTEGER NOT NULL,
     smime           TEXT NOT NULL CHECK (smime IN ('encrypted','signed','none')),
     modseq          TEXT,
     verification    TEXT,
     PRIMARY KEY (folder_id, uid)
   );
   CREATE INDEX message_by_received ON message(folder_id, received DESC, uid DESC);
   CREATE INDEX message_by_seen ON message(folder_id, seen);`,
];

export class MailCacheError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MailCacheError';
  }
}

/** What the S/MIME structure of a message looks like from its BODYSTRUCTURE, before opening it. */
export type SmimeHint = 'encrypted' | 'signed' | 'none';

export interface Address {
  name: string;
  address: string;
}

export interface CachedFolder {
  id: number;
  accountId: string;
  path: string;
  name: string;
  delimiter: string | null;
  specialUse: string | null;
  role: FolderRole;
  uidValidity: string | null;
  uidNext: number | null;
  highestModseq: string | null;
  /** Messages in the folder on the server at the last sync. */
  serverTotal: number | null;
  syncedAt: number | null;
}

export interface FolderListing {
  path: string;
  name: string;
  delimiter: string | null;
  specialUse: string | null;
  role: FolderRole;
}

export interface MessageFlags {
  seen: boolean;
  flagged: boolean;
  answered: boolean;
  /** Any other flag or keyword, as the server spells it. */
  other: string[];
}

export interface CachedMessage {
  uid: number;
  messageId: string | null;
  /** Server arrival time (INTERNALDATE), ms: the sort key. */
  received: number;
  /** The `Date:` header, ms, when it parsed. */
  date: number | null;
  from: Address;
  to: Address[];
  subject: string;
  flags: MessageFlags;
  size: number;
  hasAttachments: boolean;
  smime: SmimeHint;
  modseq: string | null;
  /** The cached verification result (JSON written by "open"), if the message was opened. */
  verification: string | null;
}

export type NewMessage = Omit<CachedMessage, 'verification'>;

/** Position after the last row of a page: keyset pagination on (received, uid), newest first. */
export interface PageCursor {
  received: number;
  uid: number;
}

export interface CachePage {
  rows: CachedMessage[];
  /** Where the next page starts; absent on the last page. */
  next?: PageCursor;
}

interface FolderRow {
  id: number;
  account_id: string;
  path: string;
  name: string;
  delimiter: string | null;
  special_use: string | null;
  role: FolderRole;
  uidvalidity: string | null;
  uidnext: number | null;
  highestmodseq: string | null;
  server_total: number | null;
  synced_at: number | null;
}

interface MessageRow {
  uid: number;
  message_id: string | null;
  received: number;
  date: number | null;
  from_name: string;
  from_address: string;
  to_json: string;
  subject: string;
  seen: number;
  flagged: number;
  answered: number;
  other_flags: string;
  size: number;
  has_attachments: number;
  smime: SmimeHint;
  modseq: string | null;
  verification: string | null;
}

const toFolder = (r: FolderRow): CachedFolder => ({
  id: r.id,
  accountId: r.account_id,
  path: r.path,
  name: r.name,
  delimiter: r.delimiter,
  specialUse: r.special_use,
  role: r.role,
  uidValidity: r.uidvalidity,
  uidNext: r.uidnext,
  highestModseq: r.highestmodseq,
  serverTotal: r.server_total,
  syncedAt: r.synced_at,
});

const toMessage = (r: MessageRow): CachedMessage => ({
  uid: r.uid,
  messageId: r.message_id,
  received: r.received,
  date: r.date,
  from: { name: r.from_name, address: r.from_address },
  to: JSON.parse(r.to_json) as Address[],
  subject: r.subject,
  flags: {
    seen: r.seen === 1,
    flagged: r.flagged === 1,
    answered: r.answered === 1,
    other: JSON.parse(r.other_flags) as string[],
  },
  size: r.size,
  hasAttachments: r.has_attachments === 1,
  smime: r.smime,
  modseq: r.modseq,
  verification: r.verification,
});

const MESSAGE_COLUMNS =
  'uid, message_id, received, date, from_name, from_address, to_json, subject, seen, flagged, answered, other_flags, size, has_attachments, smime, modseq, verification';

export class MailCache {
  readonly #db: Database.Database;

  private constructor(db: Database.Database) {
    this.#db = db;
  }

  /** Opens or creates the cache file (`:memory:` for tests). */
  static open(path: string): MailCache {
    let db: Database.Database | undefined;
    try {
      db = new Database(path);
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      db.pragma('busy_timeout = 5000');
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version > migrations.length)
        throw new MailCacheError(`The mail cache ${path} was written by a newer SSMAX (schema ${version}).`);
      for (let v = version; v < migrations.length; v++) {
        const conn = db;
        conn.transaction(() => {
          conn.exec(migrations[v]!);
          conn.pragma(`user_version = ${v + 1}`);
        })();
      }
    } catch (cause) {
      db?.close();
      if (cause instanceof MailCacheError) throw cause;
      throw new MailCacheError(`Cannot open the mail cache ${path}.`, { cause });
    }
    return new MailCache(db);
  }

  /**
   * Opens the cache; one that cannot be opened (not a database, damaged, newer schema) is moved to
   * `<path>.corrupt` and a new, empty one is made: it is only a cache, the next sync refills it.
   */
  static openOrRebuild(path: string): { cache: MailCache; rebuilt?: { keptAs: string; cause: unknown } } {
    try {
      return { cache: MailCache.open(path) };
    } catch (cause) {
      const keptAs = `${path}.corrupt`;
      renameSync(path, keptAs);
      for (const side of ['-wal', '-shm']) rmSync(`${path}${side}`, { force: true });
      return { cache: MailCache.open(path), rebuilt: { keptAs, cause } };
    }
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }

  // ------------------------------------------------------------ folders

  folders(accountId: string): CachedFolder[] {
    const rows = this.#db
      .prepare('SELECT * FROM folder WHERE account_id = ? ORDER BY path')
      .all(accountId) as FolderRow[];
    return rows.map(toFolder);
  }

  folder(accountId: string, path: string): CachedFolder | undefined {
    const row = this.#db
      .prepare('SELECT * FROM folder WHERE account_id = ? AND path = ?')
      .get(accountId, path) as FolderRow | undefined;
    return row ? toFolder(row) : undefined;
  }

  /**
   * Makes the cached folder list equal to the server's: adds new folders, updates names and roles,
   * and drops folders the server no longer lists (with their messages). Returns the dropped paths.
   */
  replaceFolders(accountId: string, listing: readonly FolderListing[]): string[] {
    return this.#db.transaction(() => {
      const upsert = this.#db.prepare(
        `INSERT INTO folder (account_id, path, name, delimiter, special_use, role) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT(account_id, path) DO UPDATE SET name = excluded.name, delimiter = excluded.delimiter,
           special_use = excluded.special_use, role = excluded.role`,
      );
      for (const f of listing) upsert.run(accountId, f.path, f.name, f.delimiter, f.specialUse, f.role);
      const keep = new Set(listing.map((f) => f.path));
      const gone = this.folders(accountId).filter((f) => !keep.has(f.path));
      const del = this.#db.prepare('DELETE FROM folder WHERE id = ?');
      for (const f of gone) del.run(f.id);
      return gone.map((f) => f.path);
    })();
  }

  /** A changed UIDVALIDITY: every cached UID of the folder is meaningless, so all of it goes. */
  resetFolder(folderId: number, uidValidity: string): void {
    this.#db.transaction(() => {
      this.#db.prepare('DELETE FROM message WHERE folder_id = ?').run(folderId);
      this.#db
        .prepare(
          'UPDATE folder SET uidvalidity = ?, uidnext = NULL, highestmodseq = NULL, server_total = NULL WHERE id = ?',
        )
        .run(uidValidity, folderId);
    })();
  }

  setFolderState(
    folderId: number,
    state: { uidValidity: string; uidNext: number; highestModseq: string | null; serverTotal: number },
    now: number = Date.now(),
  ): void {
    this.#db
      .prepare(
        'UPDATE folder SET uidvalidity = ?, uidnext = ?, highestmodseq = ?, server_total = ?, synced_at = ? WHERE id = ?',
      )
      .run(state.uidValidity, state.uidNext, state.highestModseq, state.serverTotal, now, folderId);
  }

  /** Cached message count and unread count of a folder. */
  counts(folderId: number): { total: number; unread: number } {
    // Two counts on the (folder, seen) index: no table row is read.
    const total = this.#db
      .prepare('SELECT count(*) FROM message WHERE folder_id = ?')
      .pluck()
      .get(folderId) as number;
    const unread = this.#db
      .prepare('SELECT count(*) FROM message WHERE folder_id = ? AND seen = 0')
      .pluck()
      .get(folderId) as number;
    return { total, unread };
  }

  // ------------------------------------------------------------ messages

  /** Inserts or replaces messages (one transaction); the verification result of a known UID is kept. */
  putMessages(folderId: number, messages: readonly NewMessage[]): void {
    const stmt = this.#db.prepare(
      `INSERT INTO message (folder_id, uid, message_id, received, date, from_name, from_address, to_json, subject,
         seen, flagged, answered, other_flags, size, has_attachments, smime, modseq)
       VALUES (@folder_id, @uid, @message_id, @received, @date, @from_name, @from_address, @to_json, @subject,
         @seen, @flagged, @answered, @other_flags, @size, @has_attachments, @smime, @modseq)
       ON CONFLICT(folder_id, uid) DO UPDATE SET message_id = excluded.message_id, received = excluded.received,
         date = excluded.date, from_name = excluded.from_name, from_address = excluded.from_address,
         to_json = excluded.to_json, subject = excluded.subject, seen = excluded.seen, flagged = excluded.flagged,
         answered = excluded.answered, other_flags = excluded.other_flags, size = excluded.size,
         has_attachments = excluded.has_attachments, smime = excluded.smime, modseq = excluded.modseq`,
    );
    this.#db.transaction(() => {
      for (const m of messages) {
        stmt.run({
          folder_id: folderId,
          uid: m.uid,
          message_id: m.messageId,
          received: m.received,
          date: m.date,
          from_name: m.from.name,
          from_address: m.from.address,
          to_json: JSON.stringify(m.to),
          subject: m.subject,
          seen: m.flags.seen ? 1 : 0,
          flagged: m.flags.flagged ? 1 : 0,
          answered: m.flags.answered ? 1 : 0,
          other_flags: JSON.stringify(m.flags.other),
          size: m.size,
          has_attachments: m.hasAttachments ? 1 : 0,
          smime: m.smime,
          modseq: m.modseq,
        });
      }
    })();
  }

  /** Applies flag changes (CONDSTORE answers, our own STORE); unknown UIDs are ignored. Returns rows changed. */
  updateFlags(
    folderId: number,
    changes: readonly { uid: number; flags: MessageFlags; modseq?: string | null }[],
  ): number {
    const stmt = this.#db.prepare(
      `UPDATE message SET seen = ?, flagged = ?, answered = ?, other_flags = ?, modseq = coalesce(?, modseq)
       WHERE folder_id = ? AND uid = ?`,
    );
    return this.#db.transaction(() => {
      let n = 0;
      for (const c of changes) {
        n += stmt.run(
          c.flags.seen ? 1 : 0,
          c.flags.flagged ? 1 : 0,
          c.flags.answered ? 1 : 0,
          JSON.stringify(c.flags.other),
          c.modseq ?? null,
          folderId,
          c.uid,
        ).changes;
      }
      return n;
    })();
  }

  /** Every cached UID of a folder, ascending. */
  uids(folderId: number): number[] {
    return (
      this.#db
        .prepare('SELECT uid FROM message WHERE folder_id = ? ORDER BY uid')
        .pluck()
        .all(folderId) as number[]
    ).slice();
  }

  /** The highest cached UID of a folder, 0 when empty. */
  maxUid(folderId: number): number {
    return this.#db
      .prepare('SELECT coalesce(max(uid), 0) FROM message WHERE folder_id = ?')
      .pluck()
      .get(folderId) as number;
  }

  /** Expunge: drops the given UIDs. Returns how many rows went. */
  removeMessages(folderId: number, uids: readonly number[]): number {
    const stmt = this.#db.prepare('DELETE FROM message WHERE folder_id = ? AND uid = ?');
    return this.#db.transaction(() => uids.reduce((n, uid) => n + stmt.run(folderId, uid).changes, 0))();
  }

  message(folderId: number, uid: number): CachedMessage | undefined {
    const row = this.#db
      .prepare(`SELECT ${MESSAGE_COLUMNS} FROM message WHERE folder_id = ? AND uid = ?`)
      .get(folderId, uid) as MessageRow | undefined;
    return row ? toMessage(row) : undefined;
  }

  /** Stores the verification result of an opened message (JSON, written by "open"). */
  setVerification(folderId: number, uid: number, verification: string | null): boolean {
    return (
      this.#db
        .prepare('UPDATE message SET verification = ? WHERE folder_id = ? AND uid = ?')
        .run(verification, folderId, uid).changes === 1
    );
  }

  /**
   * One page, newest first, by keyset: rows strictly after `after` (the `next` of the previous
   * page). Uses the (folder, received DESC, uid DESC) index, so the cost does not grow with depth.
   */
  page(folderId: number, limit: number, after?: PageCursor): CachePage {
    const rows = (
      after
        ? this.#db
            .prepare(
              `SELECT ${MESSAGE_COLUMNS} FROM message WHERE folder_id = ? AND (received, uid) < (?, ?)
               ORDER BY received DESC, uid DESC LIMIT ?`,
            )
            .all(folderId, after.received, after.uid, limit + 1)
        : this.#db
            .prepare(
              `SELECT ${MESSAGE_COLUMNS} FROM message WHERE folder_id = ? ORDER BY received DESC, uid DESC LIMIT ?`,
            )
            .all(folderId, limit + 1)
    ) as MessageRow[];
    return pageOf(rows, limit);
  }

  /** One page by position (for "rows 51–100 of N" and scroll bars); walks the index to the offset. */
  pageAt(folderId: number, offset: number, limit: number): CachePage {
    const rows = this.#db
      .prepare(
        `SELECT ${MESSAGE_COLUMNS} FROM message WHERE folder_id = ? ORDER BY received DESC, uid DESC LIMIT ? OFFSET ?`,
      )
      .all(folderId, limit + 1, offset) as MessageRow[];
    return pageOf(rows, limit);
  }

  /**
   * The cached rows among `uids` (a server SEARCH answer), newest first, by position; `total` is
   * how many of the UIDs are in the cache (UIDs not synced yet are left out).
   */
  pageOfUids(
    folderId: number,
    uids: readonly number[],
    offset: number,
    limit: number,
  ): CachePage & { total: number } {
    const list = JSON.stringify(uids);
    const total = (
      this.#db
        .prepare(
          'SELECT count(*) FROM message WHERE folder_id = ? AND uid IN (SELECT value FROM json_each(?))',
        )
        .pluck()
        .get(folderId, list) as number
    ).valueOf();
    const rows = this.#db
      .prepare(
        `SELECT ${MESSAGE_COLUMNS} FROM message WHERE folder_id = ? AND uid IN (SELECT value FROM json_each(?))
         ORDER BY received DESC, uid DESC LIMIT ? OFFSET ?`,
      )
      .all(folderId, list, limit + 1, offset) as MessageRow[];
    return { ...pageOf(rows, limit), total };
  }

  /**
   * Recipient completion: addresses seen as sender or recipient in the cache whose address or name
   * starts with `prefix` (or whose address has a word starting with it), most frequent first.
   */
  suggestAddresses(prefix: string, limit: number): Address[] {
    const p = prefix.trim().toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`);
    if (p === '') return [];
    const rows = this.#db
      .prepare(
        `WITH seen(name, address) AS (
           SELECT from_name, from_address FROM message
           UNION ALL
           SELECT json_extract(j.value, '$.name'), json_extract(j.value, '$.address') FROM message, json_each(message.to_json) AS j
         )
         SELECT max(name) AS name, lower(address) AS address, count(*) AS n FROM seen
         WHERE address LIKE '%@%' AND (lower(address) LIKE @p ESCAPE '\\' OR lower(name) LIKE @p ESCAPE '\\' OR lower(name) LIKE @w ESCAPE '\\' OR lower(address) LIKE @d ESCAPE '\\')
         GROUP BY lower(address) ORDER BY n DESC, address LIMIT @limit`,
      )
      .all({ p: `${p}%`, w: `% ${p}%`, d: `%.${p}%`, limit }) as { name: string | null; address: string }[];
    return rows.map((r) => ({ name: r.name ?? '', address: r.address }));
  }

  /** Drops everything cached for an account (account removed). */
  removeAccount(accountId: string): void {
    this.#db.prepare('DELETE FROM folder WHERE account_id = ?').run(accountId);
  }
}

function pageOf(rows: MessageRow[], limit: number): CachePage {
  const more = rows.length > limit;
  const page = (more ? rows.slice(0, limit) : rows).map(toMessage);
  const last = page[page.length - 1];
  return more && last ? { rows: page, next: { received: last.received, uid: last.uid } } : { rows: page };
}
