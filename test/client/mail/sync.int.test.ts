import { chown, mkdtemp, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MailAccount } from '../../../client/mail/account';
import { MailCache } from '../../../client/mail/cache';
import type { ConnectionState, ImapSettings } from '../../../client/mail/connection';
import { startDovecot, type DovecotHandle, type MailUser } from '../../harness/dovecot';
import { deliver, eventually, otherDevice, type TestMail } from './support';

/**
 * Sync against a real Dovecot (CONDSTORE, special-use folders): messages delivered by LMTP, changes
 * made by a second IMAP client, UIDVALIDITY changed by deleting and recreating a folder, and the
 * whole server restarted under a connected client.
 */

let dovecot: DovecotHandle;
let n = 0;

beforeAll(async () => {
  dovecot = await startDovecot({ starttls: true });
});
afterAll(async () => {
  await dovecot?.stop();
});

function settings(user: MailUser): ImapSettings {
  return {
    host: dovecot.imap.host,
    port: dovecot.imap.port,
    security: 'none',
    username: user.address,
    password: user.password,
  };
}

const plain = (i: number): TestMail => ({ subject: `Plain message ${i}`, body: `body ${i}\r\n` });

describe('mail sync against Dovecot', () => {
  let dir: string;
  let cache: MailCache;
  let user: MailUser;
  let accounts: MailAccount[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ssmax-sync-'));
    cache = MailCache.open(join(dir, 'cache.sqlite'));
    user = await dovecot.addUser(`user${++n}@org-a.test`, `secret-${n}-${Date.now()}`);
  });
  afterEach(async () => {
    for (const a of accounts) await a.stop();
    accounts = [];
    cache.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function account(
    opts: ConstructorParameters<typeof MailAccount>[3] = { autoSync: false },
  ): Promise<MailAccount> {
    const a = new MailAccount('acct', settings(user), cache, opts);
    accounts.push(a);
    a.start();
    await a.connection.waitOnline(20_000);
    return a;
  }

  const inboxId = (): number => cache.folder('acct', 'INBOX')!.id;
  const inboxUids = (): number[] => cache.uids(inboxId());

  it('first sync: folders with special-use roles, and every delivered message with decoded headers and S/MIME hints', async () => {
    const mails: TestMail[] = [
      {
        subject: '=?UTF-8?B?5qiZ55qE5Z6L44Oh44O844Or5pS75pKD?= notice',
        from: '=?UTF-8?B?5bGx55Sw5aSq6YOO?= <taro@org-b.test>',
        to: 'Alice <' + user.address + '>, Bob <bob@org-a.test>',
        messageId: '<first@org-b.test>',
        date: 'Mon, 02 Nov 2026 09:30:00 +0900',
      },
      {
        subject: 'Encrypted',
        contentType: 'application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m',
        extraHeaders:
          'Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=smime.p7m',
        body: 'MIAGCSqGSIb3DQEHA6CAMIACAQAx\r\n',
      },
      {
        subject: 'Signed',
        contentType:
          'multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="b1"',
        body: '--b1\r\nContent-Type: text/plain\r\n\r\nsigned text\r\n--b1\r\nContent-Type: application/pkcs7-signature; name=smime.p7s\r\nContent-Disposition: attachment; filename=smime.p7s\r\nContent-Transfer-Encoding: base64\r\n\r\nMIAGCSqGSIb3DQEHAqCAMIACAQEx\r\n--b1--\r\n',
      },
      {
        subject: 'With attachment',
        contentType: 'multipart/mixed; boundary="b2"',
        body: '--b2\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--b2\r\nContent-Type: application/pdf; name=report.pdf\r\nContent-Disposition: attachment; filename=report.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b2--\r\n',
      },
      ...Array.from({ length: 16 }, (_, i) => plain(i)),
    ];
    await deliver(dovecot.lmtp, user.address, mails);
    const a = await account();
    const results = await a.syncAll();

    expect(cache.folders('acct').map((f) => [f.path, f.role])).toEqual([
      ['Drafts', 'drafts'],
      ['INBOX', 'inbox'],
      ['Junk', 'junk'],
      ['Sent', 'sent'],
      ['Trash', 'trash'],
    ]);
    const inbox = results.find((r) => r.path === 'INBOX')!;
    expect(results[0]!.path).toBe('INBOX');
    expect(inbox.fetchedUids).toHaveLength(20);
    expect(inbox.reset).toBe(false);
    expect(inboxUids()).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));

    const first = cache.message(inboxId(), 1)!;
    expect(first).toMatchObject({
      messageId: '<first@org-b.test>',
      subject: '標的型メール攻撃 notice',
      from: { name: '山田太郎', address: 'taro@org-b.test' },
      to: [
        { name: 'Alice', address: user.address },
        { name: 'Bob', address: 'bob@org-a.test' },
      ],
      date: Date.parse('2026-11-02T00:30:00Z'),
      flags: { seen: false, flagged: false, answered: false, other: [] },
      smime: 'none',
      hasAttachments: false,
    });
    expect(first.size).toBeGreaterThan(100);
    expect(cache.message(inboxId(), 2)).toMatchObject({ smime: 'encrypted', hasAttachments: false });
    expect(cache.message(inboxId(), 3)).toMatchObject({ smime: 'signed', hasAttachments: false });
    expect(cache.message(inboxId(), 4)).toMatchObject({ smime: 'none', hasAttachments: true });
    const state = cache.folder('acct', 'INBOX')!;
    expect(state.uidNext).toBe(21);
    expect(state.uidValidity).toMatch(/^[0-9]+$/);
    expect(state.highestModseq).toMatch(/^[0-9]+$/);
    expect(cache.counts(inboxId())).toEqual({ total: 20, unread: 20 });
  });

  it('incremental sync fetches only the new UIDs; a second sync with no change fetches nothing', async () => {
    await deliver(
      dovecot.lmtp,
      user.address,
      Array.from({ length: 10 }, (_, i) => plain(i)),
    );
    const a = await account();
    await a.syncAll();
    expect(inboxUids()).toHaveLength(10);

    await deliver(
      dovecot.lmtp,
      user.address,
      Array.from({ length: 5 }, (_, i) => plain(100 + i)),
    );
    const r = await a.syncFolder('INBOX');
    expect(r.fetchedUids).toEqual([11, 12, 13, 14, 15]);
    expect(r.expunged).toBe(0);
    expect(inboxUids()).toHaveLength(15);
    expect(cache.message(inboxId(), 15)?.subject).toBe('Plain message 104');

    const again = await a.syncFolder('INBOX');
    expect(again).toMatchObject({
      fetchedUids: [],
      flagUpdates: 0,
      flagMode: 'none',
      expunged: 0,
      total: 15,
    });
    expect(a.stats.fetchedUids).toBe(15);
  });

  it('flag changes made on another device arrive through CONDSTORE (CHANGEDSINCE), without refetching headers', async () => {
    await deliver(
      dovecot.lmtp,
      user.address,
      Array.from({ length: 6 }, (_, i) => plain(i)),
    );
    const a = await account();
    await a.syncAll();
    expect(a.connection.condstore).toBe(true);

    const other = await otherDevice(dovecot.imap, user);
    try {
      const lock = await other.getMailboxLock('INBOX');
      try {
        await other.messageFlagsAdd('3', ['\\Seen'], { uid: true });
        await other.messageFlagsAdd('5', ['\\Flagged', '$Important'], { uid: true });
      } finally {
        lock.release();
      }
    } finally {
      await other.logout();
    }
    const r = await a.syncFolder('INBOX');
    expect(r).toMatchObject({ flagMode: 'condstore', flagUpdates: 2, fetchedUids: [] });
    expect(cache.message(inboxId(), 3)?.flags).toMatchObject({ seen: true, flagged: false });
    expect(cache.message(inboxId(), 5)?.flags).toMatchObject({
      seen: false,
      flagged: true,
      other: ['$Important'],
    });
    expect(cache.counts(inboxId()).unread).toBe(5);
  });

  it('our own flag change is stored on the server and in the cache', async () => {
    await deliver(dovecot.lmtp, user.address, [plain(1), plain(2)]);
    const a = await account();
    await a.syncAll();
    expect(await a.setFlags('INBOX', 2, { seen: true, flagged: true })).toMatchObject({
      seen: true,
      flagged: true,
    });
    expect(cache.message(inboxId(), 2)?.flags).toMatchObject({ seen: true, flagged: true });
    await a.setFlags('INBOX', 2, { flagged: false });

    const other = await otherDevice(dovecot.imap, user);
    try {
      const lock = await other.getMailboxLock('INBOX');
      try {
        const msg = await other.fetchOne('2', { flags: true }, { uid: true });
        expect(msg && [...(msg.flags ?? [])].sort()).toEqual(['\\Seen']);
      } finally {
        lock.release();
      }
    } finally {
      await other.logout();
    }
    // The change is already in the cache: the next CONDSTORE sync confirms, it does not flip it back.
    await a.syncFolder('INBOX');
    expect(cache.message(inboxId(), 2)?.flags).toMatchObject({ seen: true, flagged: false });
  });

  it('messages expunged on the server leave the cache', async () => {
    await deliver(
      dovecot.lmtp,
      user.address,
      Array.from({ length: 8 }, (_, i) => plain(i)),
    );
    const a = await account();
    await a.syncAll();
    const other = await otherDevice(dovecot.imap, user);
    try {
      const lock = await other.getMailboxLock('INBOX');
      try {
        await other.messageDelete('2,5:6', { uid: true });
      } finally {
        lock.release();
      }
    } finally {
      await other.logout();
    }
    const r = await a.syncFolder('INBOX');
    expect(r.expunged).toBe(3);
    expect(r.fetchedUids).toEqual([]);
    expect(inboxUids()).toEqual([1, 3, 4, 7, 8]);
  });

  it('a changed UIDVALIDITY (folder deleted and recreated) wipes and rebuilds the folder cache', async () => {
    const other = await otherDevice(dovecot.imap, user);
    const append = async (subjects: string[]): Promise<void> => {
      for (const s of subjects)
        await other.append('Projects', `From: a@org-b.test\r\nSubject: ${s}\r\n\r\nx\r\n`);
    };
    try {
      await other.mailboxCreate('Projects');
      await append(['old 1', 'old 2', 'old 3']);
      const a = await account();
      await a.syncAll();
      const before = cache.folder('acct', 'Projects')!;
      expect(cache.uids(before.id)).toEqual([1, 2, 3]);

      await other.mailboxDelete('Projects');
      await other.mailboxCreate('Projects');
      await append(['new 1', 'new 2']);
      const r = await a.syncFolder('Projects');
      const after = cache.folder('acct', 'Projects')!;
      expect(after.uidValidity).not.toBe(before.uidValidity);
      expect(r.reset).toBe(true);
      expect(r.fetchedUids).toEqual([1, 2]);
      expect(cache.uids(after.id)).toEqual([1, 2]);
      expect(cache.message(after.id, 1)?.subject).toBe('new 1');
      expect(cache.message(after.id, 3)).toBeUndefined();
    } finally {
      await other.logout();
    }
  });

  it('server-side SEARCH returns UIDs that map onto cached rows', async () => {
    await deliver(dovecot.lmtp, user.address, [
      { subject: 'Quarterly figures', body: 'nothing special\r\n' },
      { subject: 'Lunch', body: 'the word zebracorn is in this body\r\n' },
      { subject: 'Other', from: 'Zebracorn Team <team@zebra.test>' },
      plain(4),
    ]);
    const a = await account();
    await a.syncAll();
    expect((await a.search('INBOX', { text: 'zebracorn' })).sort()).toEqual([2, 3]);
    expect(await a.search('INBOX', { subject: 'quarterly' })).toEqual([1]);
    expect(await a.search('INBOX', { from: 'zebra.test' })).toEqual([3]);
    const page = cache.pageOfUids(inboxId(), await a.search('INBOX', { text: 'zebracorn' }), 0, 10);
    expect(page.rows.map((r) => r.subject).sort()).toEqual(['Lunch', 'Other']);
  });

  it('IDLE: a message delivered while the client idles in INBOX is synced without being asked', async () => {
    const a = await account({ autoSync: true });
    await eventually('the first sync', () => (cache.folder('acct', 'INBOX')?.syncedAt ? true : undefined));
    await a.whenIdle();
    const synced = new Promise<number>((resolve) =>
      a.onSynced((r) => {
        if (r.fetchedUids.length > 0) resolve(Date.now());
      }),
    );
    const t0 = Date.now();
    await deliver(dovecot.lmtp, user.address, [{ subject: 'Arrives during IDLE' }]);
    const t1 = await synced;
    console.log(`IDLE: delivered → in cache after ${t1 - t0} ms`);
    expect(cache.message(inboxId(), 1)?.subject).toBe('Arrives during IDLE');
  });

  it('reconnects with backoff after Dovecot restarts, resumes incrementally, and stores no duplicate', async () => {
    await deliver(
      dovecot.lmtp,
      user.address,
      Array.from({ length: 30 }, (_, i) => plain(i)),
    );
    const states: ConnectionState[] = [];
    const a = await account({ autoSync: true, backoff: { baseMs: 200, maxMs: 2_000 } });
    a.connection.onState((s) => states.push(s));
    await eventually('30 messages', () =>
      cache.folder('acct', 'INBOX') && inboxUids().length === 30 ? true : undefined,
    );
    await a.whenIdle();

    await dovecot.restart({ downMs: 1_500 });
    await eventually('reconnected', () =>
      a.connection.connects >= 2 && a.connection.state.state === 'online' ? true : undefined,
    );
    const offline = states.filter((s) => s.state === 'offline');
    expect(offline.length).toBeGreaterThanOrEqual(1);
    console.log(
      `reconnect: ${offline.length} offline state(s), delays ${offline.map((s) => (s.state === 'offline' ? s.retryInMs : 0)).join(', ')} ms`,
    );
    for (const s of offline) if (s.state === 'offline') expect(s.error).not.toContain(user.password);

    await deliver(
      dovecot.lmtp,
      user.address,
      Array.from({ length: 3 }, (_, i) => plain(100 + i)),
    );
    await eventually('33 messages', () => (inboxUids().length === 33 ? true : undefined));
    await a.whenIdle();
    expect(inboxUids()).toEqual(Array.from({ length: 33 }, (_, i) => i + 1));
    // Headers of the first 30 were fetched once, before the restart.
    expect(a.stats.fetchedUids).toBe(33);
  });

  it('a connection cut in the middle of a first sync resumes after the last stored batch: no duplicate, no loss', async () => {
    const N = 1_100;
    let t = Date.now();
    await deliver(
      dovecot.lmtp,
      user.address,
      Array.from({ length: N }, (_, i) => plain(i)),
    );
    console.log(`delivered ${N} messages by LMTP in ${Date.now() - t} ms`);
    let cut = false;
    const progress: string[] = [];
    t = Date.now();
    const a = await account({
      autoSync: true,
      backoff: { baseMs: 200, maxMs: 2_000 },
      onProgress: (p) => {
        progress.push(`${p.state} ${p.done}/${p.total}`);
        if (!cut && p.state === 'syncing' && p.folder === 'INBOX' && p.done >= 500 && p.done < N) {
          cut = true;
          // Synchronously, between two batches: the fetch in flight fails.
          // `account()` registers the account before starting it.
          accounts[accounts.length - 1]!.connection.disconnect();
        }
      },
    });
    await eventually(
      `${N} messages`,
      () => (cache.folder('acct', 'INBOX') && inboxUids().length === N ? true : undefined),
      60_000,
    );
    await a.whenIdle();
    console.log(
      `first sync of ${N} with one cut: ${Date.now() - t} ms; progress ${progress
        .filter((p) => !p.startsWith('syncing 0/0'))
        .slice(0, 8)
        .join(', ')} …`,
    );
    expect(cut).toBe(true);
    expect(a.connection.connects).toBeGreaterThanOrEqual(2);
    expect(inboxUids()).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    // The 500 headers stored before the cut were not fetched again.
    expect(a.stats.fetchedUids).toBe(N - 500);
  });

  it('syncs 10,000 messages into the cache (generated straight into the Maildir) and pages them', async () => {
    const N = 10_000;
    // One LMTP delivery creates the Maildir; the rest are generated files (LMTP would take minutes).
    await deliver(dovecot.lmtp, user.address, [{ subject: 'Message 1' }]);
    const newDir = join(dovecot.maildirOf(user.address), 'new');
    const owner = await stat(newDir);
    let t = Date.now();
    for (let i = 2; i <= N; i++) {
      const file = join(newDir, `${1_700_000_000 + i}.M${i}P1.ssmax-gen`);
      await writeFile(
        file,
        `From: Sender ${i % 50} <s${i % 50}@org-b.test>\r\nTo: ${user.address}\r\nSubject: Message ${i}\r\nMessage-ID: <gen${i}@org-b.test>\r\nDate: ${new Date(Date.UTC(2026, 0, 1) + i * 60_000).toUTCString()}\r\n\r\nbody ${i}\r\n`,
      );
      await chown(file, owner.uid, owner.gid);
      // INTERNALDATE is the file's mtime: one per minute, in UID order.
      const when = new Date(Date.UTC(2026, 0, 1) + i * 60_000);
      await utimes(file, when, when);
    }
    console.log(`generated ${N - 1} Maildir files in ${Date.now() - t} ms`);

    const a = await account();
    t = Date.now();
    const results = await a.syncAll();
    const ms = Date.now() - t;
    const inbox = results.find((r) => r.path === 'INBOX')!;
    console.log(`first sync of ${N} messages: ${ms} ms (${Math.round((N / ms) * 1000)} messages/s)`);
    expect(inbox.fetchedUids).toHaveLength(N);
    expect(cache.counts(inboxId())).toEqual({ total: N, unread: N });
    const page = cache.page(inboxId(), 3);
    // Message 1 arrived by LMTP today, the generated ones are dated 2026-01: arrival order wins.
    expect(page.rows.map((r) => r.subject)).toEqual(['Message 1', `Message ${N}`, `Message ${N - 1}`]);
    t = Date.now();
    const again = await a.syncFolder('INBOX');
    console.log(`incremental sync of ${N} with no change: ${Date.now() - t} ms`);
    expect(again.fetchedUids).toEqual([]);

    // The same sync into an empty cache, now that Dovecot has indexed the files: the client's share.
    const fresh = MailCache.open(':memory:');
    const b = new MailAccount('acct', settings(user), fresh, { autoSync: false });
    accounts.push(b);
    b.start();
    await b.connection.waitOnline(20_000);
    t = Date.now();
    await b.syncFolder('INBOX');
    console.log(`first sync of ${N} messages again (server index warm): ${Date.now() - t} ms`);
    expect(fresh.counts(fresh.folder('acct', 'INBOX')!.id).total).toBe(N);
    await b.stop();
    fresh.close();
  });
});
