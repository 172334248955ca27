import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { OutboxEntry, OutboxState } from '../../api';
import type { SealedMessage } from './seal';

/**
 * The durable outbox (SPEC §5, §9). Every sealed message is on disk before `enqueue` returns; the
 * sender loop submits it and deletes it only after the server's 250.
 *
 * Layout of `<dataDir>/outbox/`, per entry `<id>`:
 *   `<id>.msg`  the submitted bytes (encrypted to the org key)
 *   `<id>.sent` the Sent copy (encrypted to the sender's own 9D certificate)
 *   `<id>.json` the entry's record (envelope, state, attempts, last error) — THE COMMIT POINT
 * Every file is written as temp + fsync + rename, then the directory is fsynced. `.msg` and `.sent`
 * are written before `.json`, so a crash at any point leaves either no entry (stray files without a
 * record are removed at the next start) or a complete one. Removal deletes `.json` first.
 *
 * States: `queued` → (submitting) → 250 → `sent` (submitted; the Sent copy is being stored) → removed;
 * 4xx / no connection → `retrying` with backoff (`nextAttemptAt`); 5xx → `failed` with the server's
 * reason, kept until `retry` or removal by the user — never dropped silently.
 *
 * The duplicate edge: killed after the server's 250 but before the record says `sent`, the entry is
 * still `queued` at the next start and is submitted once more. Its Message-ID is part of the sealed
 * bytes and never changes, so the org node's spool can recognise the repeat.
 */

export type SubmitResult =
  | { kind: 'accepted'; response: string }
  | { kind: 'temporary'; reason: string }
  | { kind: 'permanent'; reason: string };

/** Submits one message (SMTP). Must not throw: every failure is a `SubmitResult`. */
export type Submitter = (
  envelope: { from: string; to: string[] },
  raw: Buffer,
  meta: { messageId: string; accountId: string },
) => Promise<SubmitResult>;

/** Stores the Sent copy (IMAP APPEND to Sent). Throws on failure: the entry stays `sent` and it is retried. */
export type SentStore = (sentCopy: Buffer, entry: OutboxEntry & { messageId: string; accountId: string }) => Promise<void>;

export interface OutboxOptions {
  dataDir: string;
  submit: Submitter;
  storeSent?: SentStore;
  /** Delay before attempt n+1 after n temporary failures (default 30 s doubling to 30 min). */
  retryDelayMs?: (attempts: number) => number;
  now?: () => Date;
  onChanged?: (entries: OutboxEntry[]) => void;
  /** Test hook: called between writing an entry's files and its commit rename (simulated crash). */
  faultHook?: (point: 'before-commit' | 'after-accept') => void;
}

const recordSchema = z
  .object({
    version: z.literal(1),
    id: z.string().uuid(),
    messageId: z.string().min(3),
    /** The account that sends it (SMTP AUTH credentials are looked up at each attempt). */
    accountId: z.string().min(1),
    envelope: z.object({ from: z.string(), to: z.array(z.string()).min(1) }),
    subject: z.string(),
    to: z.array(z.string()),
    state: z.enum(['queued', 'retrying', 'sent', 'failed']),
    attempts: z.number().int().nonnegative(),
    lastError: z.string().optional(),
    nextAttemptAt: z.string().optional(),
    createdAt: z.string(),
  })
  .strict();
type OutboxRecord = z.infer<typeof recordSchema>;

export function defaultRetryDelay(attempts: number): number {
  return Math.min(30_000 * 2 ** Math.max(0, attempts - 1), 30 * 60_000);
}

async function fsyncDir(dir: string): Promise<void> {
  const h = await open(dir, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

/** temp + fsync + rename; the caller fsyncs the directory. */
async function writeDurable(file: string, data: string | Buffer, beforeRename?: () => void): Promise<void> {
  const tmp = `${file}.${randomUUID()}.tmp`;
  const h = await open(tmp, 'wx', 0o600);
  try {
    await h.writeFile(data);
    await h.sync();
  } finally {
    await h.close();
  }
  beforeRename?.();
  await rename(tmp, file);
}

async function unlinkIfThere(file: string): Promise<void> {
  await unlink(file).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

export class Outbox {
  readonly dir: string;
  readonly #opts: OutboxOptions;
  readonly #records = new Map<string, OutboxRecord>();
  /** Entries being submitted now (shown as `submitting`, not persisted). */
  readonly #submitting = new Set<string>();
  #run: Promise<void> | undefined;
  #again = false;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  /** Problems found at open (unreadable records kept aside), for the log. */
  readonly problems: string[] = [];

  private constructor(opts: OutboxOptions) {
    this.#opts = opts;
    this.dir = join(opts.dataDir, 'outbox');
  }

  /** Opens the outbox: removes half-written files, loads the records. Call `start()` to begin sending. */
  static async open(opts: OutboxOptions): Promise<Outbox> {
    const box = new Outbox(opts);
    await mkdir(box.dir, { recursive: true, mode: 0o700 });
    const names = await readdir(box.dir);
    const ids = new Set<string>();
    for (const name of names) {
      if (!name.endsWith('.json')) continue;
      const id = name.slice(0, -'.json'.length);
      try {
        const rec = recordSchema.parse(JSON.parse(await readFile(join(box.dir, name), 'utf8')));
        if (rec.id !== id) throw new Error('id differs from the file name');
        await readFile(join(box.dir, `${id}.msg`)).then((b) => b.length); // must exist
        box.#records.set(id, rec);
        ids.add(id);
      } catch (err) {
        // Never dropped: kept aside for IT, reported.
        await rename(join(box.dir, name), join(box.dir, `${name}.corrupt`)).catch(() => undefined);
        box.problems.push(`outbox entry ${id} is unreadable (${(err as Error).message}); kept as ${name}.corrupt`);
        ids.add(id);
      }
    }
    // Stray files of entries that were never committed (crash before the record's rename).
    let removed = false;
    for (const name of names) {
      const id = name.split('.')[0] ?? '';
      const stray = name.endsWith('.tmp') || ((name.endsWith('.msg') || name.endsWith('.sent')) && !ids.has(id));
      if (stray) {
        await unlinkIfThere(join(box.dir, name));
        removed = true;
      }
    }
    if (removed) await fsyncDir(box.dir);
    return box;
  }

  /** Starts the sender loop (submits what is due, then waits for the next due time or `kick`). */
  start(): void {
    void this.kick();
  }

  close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    return this.#run ?? Promise.resolve();
  }

  list(): OutboxEntry[] {
    return [...this.#records.values()]
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt))
      .map((r) => this.#entry(r));
  }

  entry(id: string): OutboxEntry | undefined {
    const r = this.#records.get(id);
    return r ? this.#entry(r) : undefined;
  }

  #entry(r: OutboxRecord): OutboxEntry {
    const state: OutboxState = this.#submitting.has(r.id) ? 'submitting' : r.state;
    return {
      id: r.id,
      subject: r.subject,
      to: r.to,
      state,
      attempts: r.attempts,
      ...(r.lastError !== undefined ? { lastError: r.lastError } : {}),
      ...(r.nextAttemptAt !== undefined && r.state === 'retrying' ? { nextAttemptAt: r.nextAttemptAt } : {}),
    };
  }

  #changed(): void {
    this.#opts.onChanged?.(this.list());
  }

  #now(): Date {
    return this.#opts.now?.() ?? new Date();
  }

  /** Durably queues a sealed message; returns once it is on disk (and wakes the sender loop). */
  async enqueue(sealed: SealedMessage, accountId: string): Promise<OutboxEntry> {
    const id = randomUUID();
    const rec: OutboxRecord = {
      version: 1,
      id,
      messageId: sealed.messageId,
      accountId,
      envelope: sealed.envelope,
      subject: sealed.subject,
      to: sealed.to,
      state: 'queued',
      attempts: 0,
      createdAt: this.#now().toISOString(),
    };
    await writeDurable(join(this.dir, `${id}.msg`), sealed.wire);
    await writeDurable(join(this.dir, `${id}.sent`), sealed.sentCopy);
    await writeDurable(join(this.dir, `${id}.json`), JSON.stringify(rec), () => this.#opts.faultHook?.('before-commit'));
    await fsyncDir(this.dir);
    this.#records.set(id, rec);
    this.#changed();
    void this.kick();
    return this.#entry(rec);
  }

  /** Puts a failed or waiting entry back to be submitted now. */
  async retry(id: string): Promise<OutboxEntry | undefined> {
    const rec = this.#records.get(id);
    if (!rec) return undefined;
    if (rec.state === 'failed' || rec.state === 'retrying') {
      const next: OutboxRecord = { ...rec, state: 'queued' };
      delete next.nextAttemptAt;
      await this.#persist(next);
      this.#changed();
    }
    void this.kick();
    return this.#entry(this.#records.get(id) ?? rec);
  }

  async #persist(rec: OutboxRecord): Promise<void> {
    await writeDurable(join(this.dir, `${rec.id}.json`), JSON.stringify(rec));
    await fsyncDir(this.dir);
    this.#records.set(rec.id, rec);
  }

  async #remove(id: string): Promise<void> {
    await unlinkIfThere(join(this.dir, `${id}.json`));
    await fsyncDir(this.dir);
    this.#records.delete(id);
    await unlinkIfThere(join(this.dir, `${id}.msg`));
    await unlinkIfThere(join(this.dir, `${id}.sent`));
  }

  /**
   * Runs the sender loop now (one pass over everything due). Resolves when the pass is over;
   * concurrent calls share the pass (and ask for another one after it).
   */
  kick(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (this.#run) {
      this.#again = true;
      return this.#run;
    }
    this.#run = (async () => {
      try {
        do {
          this.#again = false;
          await this.#pass();
        } while (this.#again && !this.#closed);
      } finally {
        this.#run = undefined;
        this.#schedule();
      }
    })();
    return this.#run;
  }

  #schedule(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#closed) return;
    const waiting = [...this.#records.values()].filter((r) => r.state === 'retrying' || r.state === 'sent');
    if (waiting.length === 0) return;
    const now = this.#now().getTime();
    const due = Math.min(...waiting.map((r) => (r.nextAttemptAt ? Date.parse(r.nextAttemptAt) : now)));
    this.#timer = setTimeout(() => void this.kick(), Math.max(0, due - now));
    this.#timer.unref();
  }

  #due(r: OutboxRecord, now: number): boolean {
    if (r.state === 'queued') return true;
    if (r.state === 'retrying' || r.state === 'sent') return !r.nextAttemptAt || Date.parse(r.nextAttemptAt) <= now;
    return false;
  }

  async #pass(): Promise<void> {
    const now = this.#now().getTime();
    const due = [...this.#records.values()].filter((r) => this.#due(r, now)).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    for (const rec of due) {
      if (this.#closed) return;
      try {
        if (rec.state === 'sent') await this.#storeSent(rec);
        else await this.#submit(rec);
      } catch (err) {
        // A storage failure: the entry stays as it is on disk and is tried again later.
        console.error(`ssmax: outbox entry ${rec.id}:`, err);
      }
    }
  }

  async #submit(rec: OutboxRecord): Promise<void> {
    const raw = await readFile(join(this.dir, `${rec.id}.msg`));
    this.#submitting.add(rec.id);
    this.#changed();
    let result: SubmitResult;
    try {
      result = await this.#opts.submit(rec.envelope, raw, { messageId: rec.messageId, accountId: rec.accountId });
    } catch (err) {
      result = { kind: 'temporary', reason: (err as Error).message };
    } finally {
      this.#submitting.delete(rec.id);
    }
    const attempts = rec.attempts + 1;
    if (result.kind === 'accepted') {
      this.#opts.faultHook?.('after-accept');
      const sent: OutboxRecord = { ...rec, state: 'sent', attempts };
      delete sent.lastError;
      delete sent.nextAttemptAt;
      await this.#persist(sent);
      this.#changed();
      await this.#storeSent(sent);
      return;
    }
    const next: OutboxRecord =
      result.kind === 'permanent'
        ? { ...rec, state: 'failed', attempts, lastError: result.reason }
        : {
            ...rec,
            state: 'retrying',
            attempts,
            lastError: result.reason,
            nextAttemptAt: new Date(this.#now().getTime() + (this.#opts.retryDelayMs ?? defaultRetryDelay)(attempts)).toISOString(),
          };
    if (next.state === 'failed') delete next.nextAttemptAt;
    await this.#persist(next);
    this.#changed();
  }

  /** After the 250: store the Sent copy, then remove the entry. A failing store is retried with backoff. */
  async #storeSent(rec: OutboxRecord): Promise<void> {
    if (this.#opts.storeSent) {
      try {
        const copy = await readFile(join(this.dir, `${rec.id}.sent`));
        await this.#opts.storeSent(copy, { ...this.#entry(rec), messageId: rec.messageId, accountId: rec.accountId });
      } catch (err) {
        await this.#persist({
          ...rec,
          lastError: `Submitted; the Sent copy could not be stored yet: ${(err as Error).message}`,
          nextAttemptAt: new Date(this.#now().getTime() + (this.#opts.retryDelayMs ?? defaultRetryDelay)(rec.attempts)).toISOString(),
        });
        this.#changed();
        return;
      }
    }
    await this.#remove(rec.id);
    this.#changed();
  }
}
