import type { CardWatcher } from '../pcsc/card-watcher';

/**
 * Holds the card PIN in memory so that one user action costs one prompt, even when it needs
 * several card operations (sign, then decrypt the Sent copy; or PIN policy "always" on 9C).
 * Entries are keyed by card identity (CHUID GUID), expire after `ttlMs` of the last use, and are
 * dropped when the card is removed, pcscd goes away, the session is locked, or the PIN proved
 * wrong. The PIN is never written anywhere.
 */
export interface PinCacheOptions {
  /** Default 5 minutes; 0 = never cache (prompt for every operation). */
  ttlMs?: number;
  now?: () => number;
}

export class PinCache {
  private readonly entries = new Map<string, { pin: string; expires: number; timer: NodeJS.Timeout }>();
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(options: PinCacheOptions = {}) {
    this.ttlMs = options.ttlMs ?? 5 * 60_000;
    this.now = options.now ?? Date.now;
  }

  get(cardId: string): string | undefined {
    const e = this.entries.get(cardId);
    if (!e) return undefined;
    if (this.now() >= e.expires) {
      this.clear(cardId);
      return undefined;
    }
    return e.pin;
  }

  set(cardId: string, pin: string): void {
    if (this.ttlMs <= 0) return;
    this.clear(cardId);
    const timer = setTimeout(() => this.clear(cardId), this.ttlMs);
    timer.unref();
    this.entries.set(cardId, { pin, expires: this.now() + this.ttlMs, timer });
  }

  /** Forgets one card's PIN, or all (screen lock, user "lock card" button, app quit). */
  clear(cardId?: string): void {
    for (const [id, e] of this.entries) {
      if (cardId !== undefined && id !== cardId) continue;
      clearTimeout(e.timer);
      this.entries.delete(id);
    }
  }

  get size(): number {
    return this.entries.size;
  }

  /** Clears everything when any card is removed or pcscd goes away. Returns a detach function. */
  clearOnRemoval(watcher: CardWatcher): () => void {
    const clearAll = (): void => this.clear();
    watcher.on('remove', clearAll);
    watcher.on('service-lost', clearAll);
    return () => {
      watcher.off('remove', clearAll);
      watcher.off('service-lost', clearAll);
    };
  }
}
