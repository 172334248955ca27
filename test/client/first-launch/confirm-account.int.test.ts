import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceHost } from '../../../client/service-host';
import { startDovecot, type DovecotHandle } from '../../harness/dovecot';
import { startOrgNodeWorld, type OrgNodeWorld } from '../../support/org-node-world';

/**
 * accounts.confirm(id, imapPassword): IT's provisioning file names the IMAP server (a real Dovecot
 * with STARTTLS under IT's private CA); confirm with the password creates the mail account (login
 * checked first) and pins the org; a wrong password pins nothing; without a password only the pin,
 * with the IMAP settings prefilled for accounts.add. accounts.remove drops the account, its saved
 * password and its cached mail.
 */
let world: OrgNodeWorld;
let dovecot: DovecotHandle;
let work: string;
let host: ServiceHost | undefined;

async function openHost(name: string): Promise<ServiceHost> {
  const dataDir = join(work, name);
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(
    join(dataDir, 'provisioning.json'),
    world.provisioning({ imap: { host: '127.0.0.1', port: dovecot.imap.port, security: 'starttls' }, tlsCaPem: world.tlsCaPem + dovecot.tls!.certPem }),
  );
  host = await ServiceHost.open({ dataDir, runtime: 'bridge', mail: { loginTimeoutMs: 10_000 } });
  return host;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'ssmax-confirm-account-'));
  world = await startOrgNodeWorld();
  dovecot = await startDovecot({ users: [{ address: world.address, password: 'pw-hanako' }], starttls: true });
}, 120_000);

afterAll(async () => {
  await host?.close();
  await dovecot?.stop();
  await world?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('accounts.confirm creates the mail account from the provisioning file', () => {
  it('discover shows the prefilled IMAP settings; a wrong password → LoginFailed, nothing pinned, no account; the right one → account + pin', async () => {
    const h = await openHost('a');
    const found = await h.accounts.discover(world.address);
    expect(found.imap).toEqual({ host: '127.0.0.1', port: dovecot.imap.port, security: 'starttls', username: world.address });

    await expect(h.accounts.confirm(found.id, 'wrong-password')).rejects.toMatchObject({ code: 'LoginFailed', method: 'accounts.confirm' });
    expect((await h.org.status()).state).toBe('none');
    expect(await h.accounts.list()).toEqual([]);

    const account = await h.accounts.confirm(found.id, 'pw-hanako');
    expect(account).toMatchObject({ email: world.address, imap: { host: '127.0.0.1', security: 'starttls', username: world.address }, org: { name: 'Launch Corp' } });
    expect((await h.accounts.list()).map((a) => a.id)).toEqual([account.id]);
    expect((await h.org.status()).state).toBe('pinned');
    expect(JSON.stringify(await h.accounts.list())).not.toContain('pw-hanako');

    // accounts.remove: gone from the list, its saved password and its cached folders too; the pin stays.
    await expect.poll(() => h.mail.cache.folders(account.id).length, { timeout: 20_000 }).toBeGreaterThan(0);
    expect(readFileSync(join(work, 'a', 'secrets.json'), 'utf8')).toContain(account.id);
    await h.accounts.remove(account.id);
    expect(await h.accounts.list()).toEqual([]);
    expect(h.mail.cache.folders(account.id)).toEqual([]);
    expect(readFileSync(join(work, 'a', 'secrets.json'), 'utf8')).not.toContain(account.id);
    expect((await h.org.status()).state).toBe('pinned');
    await expect(h.accounts.remove(account.id)).rejects.toMatchObject({ code: 'NotFound', method: 'accounts.remove' });
    await h.close();
    host = undefined;
  });

  it('without a password: pinned only, the account to add is prefilled', async () => {
    const h = await openHost('b');
    const found = await h.accounts.discover(world.address);
    const pinned = await h.accounts.confirm(found.id);
    expect(pinned.imap).toEqual({ host: '127.0.0.1', port: dovecot.imap.port, security: 'starttls', username: world.address });
    expect((await h.org.status()).state).toBe('pinned');
    expect(await h.accounts.list()).toEqual([]);
  });
});
