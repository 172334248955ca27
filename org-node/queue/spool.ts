import { createHash, randomBytes } from 'node:crypto';
import { promises as fs, constants as fsc } from 'node:fs';
import { join } from 'node:path';
import { OrgNodeError } from '../errors';

/**
 * The node's durable spool (SPEC §9), maildir-like, one file per message copy:
 *   tmp/    being written (deleted at open: never acknowledged)
 *   queue/  accepted, waiting for the next hop (the SMTP 250 was answered after the rename)
 *   done/   handed on (next hop answered 250) — the tombstone that makes redelivery idempotent
 *   bounced/ refused for good by the next hop, with `<id>.reason`
 *   held/   accepted but kept for an administrator's review (inspection policy `hold`), with
 *           `<id>.reason`; `release` moves it to queue/, `discard` to bounced/
 * An entry's id is derived from its dedupe key (Message-ID / relay id + recipient or org), so the
 * same copy offered twice (a retry after a lost 250) is found in queue/ or done/ and not queued again.
 * Every state change is one rename, with the file and the directories fsynced.
 */

export type SpoolKind = 'relay' | 'deliver';

export interface SpoolEntryInput {
  /** Dedupe key: the same key is only ever queued once. */
  readonly key: string;
  readonly kind: SpoolKind;
  readonly mailFrom: string;
  readonly rcptTo: readonly string[];
  /** Destination org of a relay copy. */
  readonly org?: string;
  /** A signed-only copy to a domain outside SSMAX (`org` is that domain): routed by MX, verified TLS required. */
  readonly nonMember?: boolean;
  readonly messageId?: string;
  readonly message: Buffer;
  /** Keep for review instead of queueing: why (inspection policy `hold`). */
  readonly held?: string;
}

export interface SpoolMeta {
  readonly v: 1;
  readonly id: string;
  readonly key: string;
  readonly kind: SpoolKind;
  readonly mailFrom: string;
  readonly rcptTo: readonly string[];
  readonly org?: string;
  readonly nonMember?: boolean;
  readonly messageId?: string;
  readonly createdAt: string;
}

export interface SpoolEntry extends SpoolMeta {
  readonly message: Buffer;
}

export class SpoolError extends OrgNodeError {}

const DIRS = ['tmp', 'queue', 'done', 'bounced', 'held'] as const;

export const spoolIdFor = (key: string): string => createHash('sha256').update(key).digest('hex').slice(0, 40);

async function fsyncDir(path: string): Promise<void> {
  const h = await fs.open(path, fsc.O_RDONLY);
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await fs.access(path);
    return true;
  } catch {
    return false;
  }
}

export class Spool {
  private constructor(readonly dir: string) {}

  static async open(dir: string): Promise<Spool> {
    try {
      for (const d of DIRS) await fs.mkdir(join(dir, d), { recursive: true, mode: 0o700 });
      for (const f of await fs.readdir(join(dir, 'tmp'))) await fs.rm(join(dir, 'tmp', f), { force: true });
      // A crash between the rename to done/ and nothing else leaves no trace; a copy in both (never
      // written by this code, but by a manual restore) is taken as done.
      for (const f of await fs.readdir(join(dir, 'queue'))) if (await exists(join(dir, 'done', f))) await fs.rm(join(dir, 'queue', f), { force: true });
    } catch (err) {
      throw new SpoolError(`The spool directory ${dir} cannot be used.`, { cause: err });
    }
    return new Spool(dir);
  }

  #path(state: (typeof DIRS)[number], id: string): string {
    return join(this.dir, state, id);
  }

  /** Whether a copy with this key is queued or was handed on already. */
  async has(key: string): Promise<boolean> {
    const id = spoolIdFor(key);
    return (await exists(this.#path('queue', id))) || (await exists(this.#path('done', id))) || (await exists(this.#path('bounced', id))) || (await exists(this.#path('held', id)));
  }

  /**
   * Writes the copies durably (file fsync, rename into queue/, directory fsync). Returns the ids
   * queued now and those skipped as duplicates. Only after this resolves may the SMTP 250 be sent.
   */
  async enqueue(entries: readonly SpoolEntryInput[], now = new Date()): Promise<{ queued: string[]; duplicates: string[] }> {
    const queued: string[] = [];
    const duplicates: string[] = [];
    const staged: { tmp: string; id: string; held?: string }[] = [];
    try {
      for (const e of entries) {
        const id = spoolIdFor(e.key);
        if (queued.includes(id) || (await this.has(e.key))) {
          duplicates.push(id);
          continue;
        }
        const meta: SpoolMeta = { v: 1, id, key: e.key, kind: e.kind, mailFrom: e.mailFrom, rcptTo: [...e.rcptTo], ...(e.org ? { org: e.org } : {}), ...(e.nonMember ? { nonMember: true } : {}), ...(e.messageId ? { messageId: e.messageId } : {}), createdAt: now.toISOString() };
        const tmp = this.#path('tmp', `${id}.${randomBytes(6).toString('hex')}`);
        const h = await fs.open(tmp, 'wx', 0o600);
        try {
          await h.writeFile(Buffer.concat([Buffer.from(`${JSON.stringify(meta)}\n`, 'utf8'), e.message]));
          await h.sync();
        } finally {
          await h.close();
        }
        staged.push({ tmp, id, ...(e.held ? { held: e.held } : {}) });
        queued.push(id);
      }
      for (const s of staged) {
        if (s.held === undefined) continue;
        const reasonTmp = `${s.tmp}.reason`;
        await fs.writeFile(reasonTmp, `${s.held}\n`, { mode: 0o600 });
        await fs.rename(reasonTmp, this.#path('held', `${s.id}.reason`));
      }
      for (const s of staged) await fs.rename(s.tmp, this.#path(s.held === undefined ? 'queue' : 'held', s.id));
      if (staged.length > 0) {
        await fsyncDir(join(this.dir, 'queue'));
        await fsyncDir(join(this.dir, 'held'));
      }
    } catch (err) {
      for (const s of staged) await fs.rm(s.tmp, { force: true });
      throw new SpoolError('The message could not be written to the spool.', { cause: err });
    }
    return { queued, duplicates };
  }

  /** Ids waiting in queue/, oldest first. */
  async queued(): Promise<string[]> {
    const names = await fs.readdir(join(this.dir, 'queue'));
    const withTimes = await Promise.all(names.map(async (n) => ({ n, t: (await fs.stat(join(this.dir, 'queue', n)).catch(() => undefined))?.mtimeMs })));
    return withTimes.filter((x) => x.t !== undefined).sort((x, y) => (x.t ?? 0) - (y.t ?? 0)).map((x) => x.n);
  }

  async read(id: string): Promise<SpoolEntry> {
    const bytes = await fs.readFile(this.#path('queue', id));
    const nl = bytes.indexOf(0x0a);
    if (nl < 0) throw new SpoolError(`Spool entry ${id} is damaged.`);
    const meta = JSON.parse(bytes.subarray(0, nl).toString('utf8')) as SpoolMeta;
    return { ...meta, message: bytes.subarray(nl + 1) };
  }

  /** The next hop accepted the copy: queue/ → done/ (one rename), then both directories fsynced. */
  async complete(id: string): Promise<void> {
    await fs.rename(this.#path('queue', id), this.#path('done', id));
    const now = new Date();
    await fs.utimes(this.#path('done', id), now, now).catch(() => undefined);
    await fsyncDir(join(this.dir, 'done'));
    await fsyncDir(join(this.dir, 'queue'));
  }

  /** The next hop refused the copy for good: the reason is written first, then queue/ → bounced/. */
  async bounce(id: string, reason: string): Promise<void> {
    const tmp = this.#path('tmp', `${id}.reason`);
    await fs.writeFile(tmp, `${reason}\n`, { mode: 0o600 });
    await fs.rename(tmp, this.#path('bounced', `${id}.reason`));
    await fs.rename(this.#path('queue', id), this.#path('bounced', id));
    await fsyncDir(join(this.dir, 'bounced'));
    await fsyncDir(join(this.dir, 'queue'));
  }

  /** Ids held for review, with the reason. */
  async heldEntries(): Promise<{ id: string; reason: string }[]> {
    const out: { id: string; reason: string }[] = [];
    for (const f of await fs.readdir(join(this.dir, 'held'))) {
      if (f.endsWith('.reason')) continue;
      out.push({ id: f, reason: (await fs.readFile(this.#path('held', `${f}.reason`), 'utf8').catch(() => '')).trim() });
    }
    return out;
  }

  /** An administrator releases a held copy: held/ → queue/ (the worker hands it on). */
  async release(id: string): Promise<void> {
    await fs.rename(this.#path('held', id), this.#path('queue', id));
    await fs.rm(this.#path('held', `${id}.reason`), { force: true });
    await fsyncDir(join(this.dir, 'queue'));
    await fsyncDir(join(this.dir, 'held'));
  }

  /** An administrator refuses a held copy: held/ → bounced/ with the reason. */
  async discard(id: string, reason: string): Promise<void> {
    await fs.writeFile(this.#path('bounced', `${id}.reason`), `${reason}\n`, { mode: 0o600 });
    await fs.rename(this.#path('held', id), this.#path('bounced', id));
    await fs.rm(this.#path('held', `${id}.reason`), { force: true });
    await fsyncDir(join(this.dir, 'bounced'));
    await fsyncDir(join(this.dir, 'held'));
  }

  /** Removes tombstones older than `maxAgeMs` (they only serve deduplication of late retries). */
  async purgeDone(maxAgeMs: number, now = new Date()): Promise<number> {
    let n = 0;
    for (const f of await fs.readdir(join(this.dir, 'done'))) {
      const st = await fs.stat(join(this.dir, 'done', f)).catch(() => undefined);
      if (st && now.getTime() - st.mtimeMs > maxAgeMs) {
        await fs.rm(join(this.dir, 'done', f), { force: true });
        n++;
      }
    }
    return n;
  }
}
