import type { Spool, SpoolEntry } from './spool';

/**
 * The delivery worker: takes queued copies, hands each to the next hop (another org node by SMTP,
 * the mailbox store by LMTP), and moves it to done/ only after the next hop's 250. A 5xx moves it to
 * bounced/ (and tells `onBounce`, which writes the bounce for the sender); a 4xx or a network error
 * leaves it queued and retries later (backoff per entry, in memory: after a restart every queued
 * copy is tried at once).
 *
 * Exactly once vs at least once: a crash after the next hop's 250 and before the rename to done/
 * sends the copy again after restart. The copy carries its spool id (`X-SSMAX-Relay-Id`), and the
 * next org node keys its own spool on it, so it answers 250 and drops the repeat. LMTP (Dovecot)
 * has no such key: that window (between the LMTP 250 and one rename) is the only at-least-once edge.
 */

export type HandOffResult = { readonly status: 'accepted'; readonly response?: string } | { readonly status: 'rejected'; readonly reason: string } | { readonly status: 'deferred'; readonly reason: string };

export type HandOff = (entry: SpoolEntry) => Promise<HandOffResult>;

export type WorkerEvent =
  | { readonly type: 'delivered'; readonly id: string; readonly kind: string; readonly rcptTo: readonly string[]; readonly messageId?: string }
  | { readonly type: 'deferred'; readonly id: string; readonly reason: string; readonly attempts: number }
  | { readonly type: 'bounced'; readonly id: string; readonly reason: string };

/** Points where a test can stop the process (kill -9) to prove crash safety. */
export type FaultPoint = 'after-handoff';

export interface WorkerOptions {
  readonly handOff: HandOff;
  /** Told when the next hop refused a copy for good (write the bounce to the sender). */
  readonly onBounce?: (entry: SpoolEntry, reason: string) => Promise<void>;
  readonly onEvent?: (e: WorkerEvent) => void;
  /** Delays between attempts of one copy; the last repeats (default 1 s, 5 s, 30 s, 120 s). */
  readonly retryDelaysMs?: readonly number[];
  /** How often the queue is scanned when nothing kicks the worker (default 1 s). */
  readonly pollMs?: number;
  readonly faultHook?: (point: FaultPoint, entry: SpoolEntry) => void;
  readonly now?: () => number;
  /**
   * Copies handed on at once (default 4). Each hand-off waits for the next hop's whole pipeline
   * (decrypt, verify, inspect, re-encrypt) before its 250, so one at a time leaves both nodes idle.
   */
  readonly concurrency?: number;
}

export class DeliveryWorker {
  readonly #spool: Spool;
  readonly #o: WorkerOptions;
  readonly #retry = new Map<string, { attempts: number; nextAt: number }>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = true;

  constructor(spool: Spool, options: WorkerOptions) {
    this.#spool = spool;
    this.#o = options;
  }

  start(): void {
    this.#stopped = false;
    this.kick();
  }

  /** Scan now (after an enqueue). */
  kick(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    if (this.#timer) clearTimeout(this.#timer);
    this.#running = this.#runOnce()
      .catch(() => undefined)
      .finally(() => {
        this.#running = undefined;
        if (this.#stopped) return;
        if (this.#again) {
          this.#again = false;
          this.kick();
        } else this.#timer = setTimeout(() => this.kick(), this.#o.pollMs ?? 1000);
      });
  }

  /** Forget backoff state (e.g. an operator's "flush"), then scan. */
  flush(): void {
    this.#retry.clear();
    this.kick();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running;
  }

  async #runOnce(): Promise<void> {
    const ids = await this.#spool.queued();
    let next = 0;
    const lane = async (): Promise<void> => {
      for (let i = next++; i < ids.length && !this.#stopped; i = next++) await this.#one(ids[i] as string);
    };
    await Promise.all(Array.from({ length: Math.max(1, this.#o.concurrency ?? 4) }, lane));
  }

  async #one(id: string): Promise<void> {
    const now = this.#o.now ?? Date.now;
    const r = this.#retry.get(id);
    if (r && r.nextAt > now()) return;
    let entry: SpoolEntry;
    try {
      entry = await this.#spool.read(id);
    } catch {
      return; // taken by a concurrent scan or damaged; the next scan sees
    }
    let result: HandOffResult;
    try {
      result = await this.#o.handOff(entry);
    } catch (err) {
      result = { status: 'deferred', reason: (err as Error).message };
    }
    if (result.status === 'accepted') {
      this.#o.faultHook?.('after-handoff', entry);
      await this.#spool.complete(id);
      this.#retry.delete(id);
      this.#o.onEvent?.({ type: 'delivered', id, kind: entry.kind, rcptTo: entry.rcptTo, ...(entry.messageId ? { messageId: entry.messageId } : {}) });
    } else if (result.status === 'rejected') {
      await this.#spool.bounce(id, result.reason);
      this.#retry.delete(id);
      this.#o.onEvent?.({ type: 'bounced', id, reason: result.reason });
      await this.#o.onBounce?.(entry, result.reason).catch(() => undefined);
    } else {
      const attempts = (r?.attempts ?? 0) + 1;
      const delays = this.#o.retryDelaysMs ?? [1000, 5000, 30_000, 120_000];
      const delay = delays[Math.min(attempts - 1, delays.length - 1)] ?? 1000;
      this.#retry.set(id, { attempts, nextAt: now() + delay });
      this.#o.onEvent?.({ type: 'deferred', id, reason: result.reason, attempts });
    }
  }
}
