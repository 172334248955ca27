import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MailCache, MailCacheError, type NewMessage } from '../../../client/mail/cache';

function message(uid: number, received: number, over: Partial<NewMessage> = {}): NewMessage {
  return {
    uid,
    messageId: `<m${uid}@org-b.test>`,
    received,
    date: received - 1000,
    from: { name: `Sender ${uid % 97}`, address: `s${uid % 97}@org-b.test` },
    to: [{ name: '', address: 'alice@org-a.test' }],
    subject: `Message ${uid}`,
    flags: { seen: uid % 3 === 0, flagged: uid % 11 === 0, answered: false, other: [] },
    size: 1000 + uid,
    hasAttachments: uid % 5 === 0,
    smime: uid % 2 === 0 ? 'encrypted' : 'signed',
    modseq: String(uid + 100),
    ...over,
  };
}

describe('MailCache', () => {
  let dir: string;
  let cache: MailCache;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ssmax-cache-'));
    cache = MailCache.open(join(dir, 'cache.sqlite'));
  });
  afterEach(async () => {
    cache.close();
    await rm(dir, { recursive: true, force: true });
  });

  const inbox = (): number => {
    cache.replaceFolders('a1', [
      { path: 'INBOX', name: 'INBOX', delimiter: '/', specialUse: '\\Inbox', role: 'inbox' },
    ]);
    return cache.folder('a1', 'INBOX')!.id;
  };

  it('suggests recipients from senders and recipients, by address or name prefix, most frequent first; LIKE wildcards are literal', () => {
    const id = inbox();
    cache.putMessages(id, [
      message(1, 1000, { from: { name: 'Taro Yamada', address: 'Taro@B.example' }, to: [{ name: 'Hanako', address: 'hanako@a.example' }] }),
      message(2, 2000, { from: { name: 'Taro Yamada', address: 'taro@b.example' }, to: [{ name: '', address: 'ta_x@c.example' }] }),
      message(3, 3000, { from: { name: '', address: 'tanaka@c.example' }, to: [{ name: 'Jiro Tamura', address: 'jiro@b.example' }] }),
    ]);
    expect(cache.suggestAddresses('ta', 20).map((a) => a.address)).toEqual(['taro@b.example', 'jiro@b.example', 'ta_x@c.example', 'tanaka@c.example']); // ties: by address
    expect(cache.suggestAddresses('ta', 20)[0]).toEqual({ name: 'Taro Yamada', address: 'taro@b.example' });
    expect(cache.suggestAddresses('ta_', 20).map((a) => a.address)).toEqual(['ta_x@c.example']);
    expect(cache.suggestAddresses('%', 20)).toEqual([]);
    expect(cache.suggestAddresses('han', 20).map((a) => a.address)).toEqual(['hanako@a.example']);
    expect(cache.suggestAddresses('  ', 20)).toEqual([]);
    expect(cache.suggestAddresses('ta', 1)).toHaveLength(1);
  });

  it('keeps folders per account, updates roles, and drops folders (with messages) the server no longer lists', () => {
    cache.replaceFolders('a1', [
      { path: 'INBOX', name: 'INBOX', delimiter: '/', specialUse: null, role: 'inbox' },
      { path: 'Old', name: 'Old', delimiter: '/', specialUse: null, role: 'other' },
    ]);
    cache.replaceFolders('a2', [
      { path: 'INBOX', name: 'INBOX', delimiter: '/', specialUse: null, role: 'inbox' },
    ]);
    const old = cache.folder('a1', 'Old')!;
    cache.putMessages(old.id, [message(1, 1000)]);
    const dropped = cache.replaceFolders('a1', [
      { path: 'INBOX', name: 'INBOX', delimiter: '/', specialUse: null, role: 'inbox' },
      { path: 'Sent', name: 'Sent', delimiter: '/', specialUse: '\\Sent', role: 'sent' },
    ]);
    expect(dropped).toEqual(['Old']);
    expect(cache.folders('a1').map((f) => [f.path, f.role])).toEqual([
      ['INBOX', 'inbox'],
      ['Sent', 'sent'],
    ]);
    expect(cache.folders('a2')).toHaveLength(1);
    expect(cache.message(old.id, 1)).toBeUndefined();
  });

  it('round-trips headers and flags, keeps the verification result over a header refresh, and resets on UIDVALIDITY', () => {
    const id = inbox();
    cache.putMessages(id, [
      message(7, 5000, { subject: '日本語の件名', to: [{ name: 'Bob', address: 'bob@x.test' }] }),
    ]);
    expect(cache.message(id, 7)).toMatchObject({
      subject: '日本語の件名',
      to: [{ name: 'Bob', address: 'bob@x.test' }],
      smime: 'signed',
      verification: null,
    });
    expect(cache.setVerification(id, 7, '{"state":"verified","external":false}')).toBe(true);
    cache.putMessages(id, [message(7, 5000)]);
    expect(cache.message(id, 7)?.verification).toBe('{"state":"verified","external":false}');
    expect(
      cache.updateFlags(id, [
        { uid: 7, flags: { seen: true, flagged: true, answered: false, other: ['$Label1'] } },
      ]),
    ).toBe(1);
    expect(cache.message(id, 7)?.flags).toEqual({
      seen: true,
      flagged: true,
      answered: false,
      other: ['$Label1'],
    });
    expect(cache.counts(id)).toEqual({ total: 1, unread: 0 });

    cache.setFolderState(id, {
      uidValidity: '42',
      uidNext: 8,
      highestModseq: '9000000000000000001',
      serverTotal: 1,
    });
    expect(cache.folder('a1', 'INBOX')).toMatchObject({
      uidValidity: '42',
      uidNext: 8,
      highestModseq: '9000000000000000001',
    });
    cache.resetFolder(id, '43');
    expect(cache.counts(id).total).toBe(0);
    expect(cache.folder('a1', 'INBOX')).toMatchObject({
      uidValidity: '43',
      uidNext: null,
      highestModseq: null,
    });
  });

  it('refuses a cache written by a newer schema', () => {
    cache.close();
    const path = join(dir, 'newer.sqlite');
    const c = MailCache.open(path);
    c.close();
    // Bump user_version behind its back.
    const db = new Database(path);
    db.pragma('user_version = 99');
    db.close();
    expect(() => MailCache.open(path)).toThrow(MailCacheError);
    cache = MailCache.open(join(dir, 'cache.sqlite'));
  });

  it('pages 100,000 messages newest first by keyset and by offset, with ties on the arrival time broken by UID', () => {
    const id = inbox();
    const N = 100_000;
    // Arrival times collide in runs of 7 and are not in UID order, like mail moved in from elsewhere.
    const rows = Array.from({ length: N }, (_, i) =>
      message(i + 1, 1_700_000_000_000 + Math.floor(((i * 7919) % N) / 7) * 1000),
    );
    let t = performance.now();
    for (let i = 0; i < N; i += 5000) cache.putMessages(id, rows.slice(i, i + 5000));
    const insertMs = performance.now() - t;

    const expected = rows
      .map((r) => [r.received, r.uid] as const)
      .sort((a, b) => b[0] - a[0] || b[1] - a[1])
      .map(([, uid]) => uid);

    // Walk the whole folder by keyset.
    const seen: number[] = [];
    const pageTimes: number[] = [];
    let after: { received: number; uid: number } | undefined;
    for (;;) {
      t = performance.now();
      const page = cache.page(id, 500, after);
      pageTimes.push(performance.now() - t);
      seen.push(...page.rows.map((r) => r.uid));
      if (!page.next) break;
      expect(page.rows).toHaveLength(500);
      after = page.next;
    }
    expect(seen).toEqual(expected);

    // Offset pages at the start, middle and end agree with the keyset walk.
    const offsetTimes: Record<number, number> = {};
    for (const offset of [0, 50_000, 99_950]) {
      t = performance.now();
      const page = cache.pageAt(id, offset, 50);
      offsetTimes[offset] = performance.now() - t;
      expect(page.rows.map((r) => r.uid)).toEqual(expected.slice(offset, offset + 50));
    }
    expect(cache.pageAt(id, 99_950, 50).next).toBeUndefined();

    // A SEARCH answer (every 10th UID) mapped onto cached rows, plus UIDs not cached.
    const hits = rows.filter((r) => r.uid % 10 === 0).map((r) => r.uid);
    t = performance.now();
    const found = cache.pageOfUids(id, [...hits, N + 1, N + 2], 100, 50);
    const searchMs = performance.now() - t;
    expect(found.total).toBe(hits.length);
    expect(found.rows.map((r) => r.uid)).toEqual(expected.filter((u) => u % 10 === 0).slice(100, 150));

    t = performance.now();
    const counts = cache.counts(id);
    const countMs = performance.now() - t;
    expect(counts.total).toBe(N);

    const sorted = [...pageTimes].sort((a, b) => a - b);
    console.log(
      `mail cache, ${N} rows: insert ${insertMs.toFixed(0)} ms; keyset page of 500: median ${sorted[sorted.length >> 1]!.toFixed(2)} ms, ` +
        `max ${sorted[sorted.length - 1]!.toFixed(2)} ms (${pageTimes.length} pages); offset page of 50 at ` +
        Object.entries(offsetTimes)
          .map(([o, ms]) => `${o}: ${ms.toFixed(2)} ms`)
          .join(', ') +
        `; search page (10,002 UIDs): ${searchMs.toFixed(2)} ms; counts: ${countMs.toFixed(2)} ms`,
    );
  });
});
