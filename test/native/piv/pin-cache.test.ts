import { describe, expect, it } from 'vitest';
import { PinCache } from '../../../native/piv/pin-cache';

describe('PinCache', () => {
  it('keeps a PIN per card until it expires', () => {
    let now = 1_000;
    const cache = new PinCache({ ttlMs: 60_000, now: () => now });
    cache.set('card-a', '123456');
    expect(cache.get('card-a')).toBe('123456');
    expect(cache.get('card-b')).toBeUndefined();
    now += 59_999;
    expect(cache.get('card-a')).toBe('123456');
    now += 1;
    expect(cache.get('card-a')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('clears one card or all (lock), and caches nothing with ttl 0', () => {
    const cache = new PinCache();
    cache.set('a', '111111');
    cache.set('b', '222222');
    cache.clear('a');
    expect(cache.get('a')).toBeUndefined();
    expect(cache.get('b')).toBe('222222');
    cache.clear();
    expect(cache.size).toBe(0);
    const never = new PinCache({ ttlMs: 0 });
    never.set('a', '111111');
    expect(never.get('a')).toBeUndefined();
  });
});
