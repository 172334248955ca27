import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, connectBridge, type MessagePage, type SsmaxClient, type SyncProgress } from '../../../api';
import { startBridge } from '../../../client/bridge/server';
import { ACCOUNTS_FILE } from '../../../client/mail/accounts';
import { SECRETS_FILE } from '../../../client/secrets/secret-store';
import { ServiceHost } from '../../../client/service-host';
import { startDovecot, type DovecotHandle, type MailUser } from '../../harness/dovecot';
import { wsSocketFactory } from '../../support/ws-socket';
import { deliver, eventually, otherDevice, type TestMail } from './support';

/**
 * The mail API end to end through the loopback bridge (the browser's path): an account added over
 * STARTTLS with a pinned certificate, folders and message-list pages served from the cache after a
 * real sync, keyset and offset paging, server-side search, flags, sync.progress events, and a
 * restart of the client that keeps the account and the cache.
 */

const alice: MailUser = { address: 'alice@org-a.test', password: 'alice-bridge-secret-9' };
const N = 120;
let dovecot: DovecotHandle;
let staticDir: string;
let dataDir: string;
const open: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  dovecot = await startDovecot({ users: [alice], starttls: true });
  const mails: TestMail[] = Array.from({ length: N }, (_, i) => ({
    subject: `List row ${i + 1}${i % 10 === 3 ? ' needle' : ''}`,
    from: `Sender ${i + 1} <s${i + 1}@org-b.test>`,
  }));
  await deliver(dovecot.lmtp, alice.address, mails);
  staticDir = await mkdtemp(join(tmpdir(), 'ssmax-static-'));
  await writeFile(join(staticDir, 'index.html'), '<!doctype html><title>SSMAX</title>');
  dataDir = await mkdtemp(join(tmpdir(), 'ssmax-mail-api-'));
});
afterEach(async () => {
  for (const o of open.splice(0)) await o.close();
});
afterAll(async () => {
  await dovecot?.stop();
  await rm(staticDir, { recursive: true, force: true });
  await rm(dataDir, { recursive: true, force: true });
});

async function connect(): Promise<{ api: SsmaxClient; host: ServiceHost }> {
  const host = await ServiceHost.open({
    dataDir,
    runtime: 'bridge',
    mail: { account: { backoff: { baseMs: 200, maxMs: 2_000 } } },
  });
  const bridge = await startBridge({ host, staticDir });
  const conn = await connectBridge(bridge.socketUrl, bridge.token, wsSocketFactory(bridge.origin));
  open.push({
    close: async () => {
      conn.close();
      await bridge.close();
      await host.close();
    },
  });
  return { api: conn.client, host };
}

async function failure(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    return err as ApiError;
  }
  throw new Error('expected the call to fail');
}

const subjects = (p: MessagePage): string[] => p.rows.map((r) => r.subject.replace(' needle', ''));
const rowSubjects = (from: number, to: number): string[] =>
  Array.from({ length: from - to + 1 }, (_, i) => `List row ${from - i}`);

describe('mail through the typed API (loopback bridge)', () => {
  it('adds an account, syncs, and serves folders, pages, search and flags', async () => {
    const { api } = await connect();
    const progress: SyncProgress[] = [];
    api.events.on('sync.progress', (p) => progress.push(p));
    const imap = {
      host: dovecot.imap.host,
      port: dovecot.imap.port,
      security: 'starttls' as const,
      username: alice.address,
      password: alice.password,
      caCertPem: dovecot.tls!.certPem,
    };

    const wrong = await failure(
      api.accounts.add({ email: alice.address, imap: { ...imap, password: 'not-her-password' } }),
    );
    expect(wrong.code).toBe('LoginFailed');
    expect(wrong.message).not.toContain('not-her-password');
    const untrusted = await failure(
      api.accounts.add({ email: alice.address, imap: { ...imap, caCertPem: undefined } }),
    );
    expect(untrusted.code).toBe('ServerUnavailable');
    expect(await api.accounts.list()).toEqual([]);

    const account = await api.accounts.add({ email: alice.address, displayName: 'Alice', imap });
    expect(account).toMatchObject({
      email: alice.address,
      displayName: 'Alice',
      imap: { host: imap.host, port: imap.port, security: 'starttls', username: alice.address },
    });
    expect(JSON.stringify(await api.accounts.list())).not.toContain(alice.password);
    expect(await api.accounts.list()).toEqual([account]);
    // The password is not in accounts.json: it is in the secret store (browser mode: secrets.json, 0600).
    expect((await stat(join(dataDir, ACCOUNTS_FILE))).mode & 0o777).toBe(0o600);
    expect(await readFile(join(dataDir, ACCOUNTS_FILE), 'utf8')).not.toContain(alice.password);
    expect((await stat(join(dataDir, SECRETS_FILE))).mode & 0o777).toBe(0o600);
    expect(await readFile(join(dataDir, SECRETS_FILE), 'utf8')).toContain(alice.password);
    expect((await failure(api.accounts.add({ email: alice.address, imap }))).code).toBe('Refused');

    const inbox = await eventually('INBOX synced through the API', async () => {
      const f = (await api.folders.list(account.id)).find((x) => x.role === 'inbox');
      return f && f.total === N ? f : undefined;
    });
    expect(inbox).toEqual({
      accountId: account.id,
      path: 'INBOX',
      name: 'INBOX',
      role: 'inbox',
      unread: N,
      total: N,
    });
    expect((await api.folders.list(account.id)).map((f) => f.role).sort()).toEqual([
      'drafts',
      'inbox',
      'junk',
      'sent',
      'trash',
    ]);
    await eventually('an idle sync.progress', () =>
      progress.some((p) => p.state === 'idle' && p.accountId === account.id) ? true : undefined,
    );
    expect(progress.some((p) => p.state === 'syncing' && p.folder === 'INBOX' && p.done === N)).toBe(true);

    // Newest first; keyset pages by cursor, and offset pages agree.
    const folder = { accountId: account.id, path: 'INBOX' };
    const p1 = await api.messages.page({ folder, offset: 0, limit: 50 });
    expect(p1.total).toBe(N);
    expect(subjects(p1)).toEqual(rowSubjects(120, 71));
    expect(p1.rows[0]).toMatchObject({
      ref: { accountId: account.id, path: 'INBOX', uid: 120 },
      from: { name: 'Sender 120', email: 's120@org-b.test' },
      unread: true,
      flagged: false,
      hasAttachments: false,
      external: false,
      smime: 'none',
    });
    expect(p1.rows[0]!.trust).toBeUndefined();
    const p2 = await api.messages.page({ folder, offset: 50, limit: 50, cursor: p1.nextCursor! });
    expect(subjects(p2)).toEqual(rowSubjects(70, 21));
    const p3 = await api.messages.page({ folder, offset: 100, limit: 50, cursor: p2.nextCursor! });
    expect(subjects(p3)).toEqual(rowSubjects(20, 1));
    expect(p3.nextCursor).toBeUndefined();
    expect(subjects(await api.messages.page({ folder, offset: 100, limit: 50 }))).toEqual(rowSubjects(20, 1));

    // Server-side SEARCH, mapped onto cached rows, paged by offset.
    const found = await api.messages.page({ folder, offset: 0, limit: 5, search: 'needle' });
    expect(found.total).toBe(12);
    expect(subjects(found)).toEqual([
      'List row 114',
      'List row 104',
      'List row 94',
      'List row 84',
      'List row 74',
    ]);
    expect(
      (
        await failure(
          api.messages.page({ folder, offset: 0, limit: 5, search: 'needle', cursor: p1.nextCursor! }),
        )
      ).code,
    ).toBe('InvalidArguments');

    // Flags: on the server and in the list.
    await api.messages.setFlags({ ...folder, uid: 120 }, { seen: true, flagged: true });
    expect((await api.messages.page({ folder, offset: 0, limit: 1 })).rows[0]).toMatchObject({
      unread: false,
      flagged: true,
    });
    expect((await api.folders.list(account.id)).find((f) => f.path === 'INBOX')?.unread).toBe(N - 1);
    const other = await otherDevice(dovecot.imap, alice);
    try {
      const lock = await other.getMailboxLock('INBOX');
      try {
        const msg = await other.fetchOne('120', { flags: true }, { uid: true });
        expect(msg && [...(msg.flags ?? [])].sort()).toEqual(['\\Flagged', '\\Seen']);
      } finally {
        lock.release();
      }
    } finally {
      await other.logout();
    }

    expect(
      (await failure(api.messages.page({ folder: { ...folder, path: 'Nope' }, offset: 0, limit: 5 }))).code,
    ).toBe('NotFound');
    expect((await failure(api.messages.setFlags({ ...folder, uid: 999 }, { seen: true }))).code).toBe(
      'NotFound',
    );
    expect((await failure(api.messages.page({ folder, offset: 0, limit: 5, cursor: 'garbage' }))).code).toBe(
      'InvalidArguments',
    );
  });

  it('after a restart of the client the account is back and the list is served from the cache', async () => {
    const { api, host } = await connect();
    const [account] = await api.accounts.list();
    expect(account?.email).toBe(alice.address);
    const page = await api.messages.page({
      folder: { accountId: account!.id, path: 'INBOX' },
      offset: 0,
      limit: 3,
    });
    expect(page.total).toBe(N);
    expect(subjects(page)).toEqual(rowSubjects(120, 118));
    expect(page.rows[0]).toMatchObject({ unread: false, flagged: true });
    await host.mail.account(account!.id)!.connection.waitOnline(20_000);
  });
});
