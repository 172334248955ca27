import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ACCOUNTS_FILE, AccountPasswordMissing, AccountStore, passwordKey } from '../../../client/mail/accounts';
import { FileSecretStore, SECRETS_FILE, type SecretStore } from '../../../client/secrets/secret-store';

const IMAP = { host: 'imap.a.example', port: 993, security: 'tls' as const, username: 'alice@a.example' };

/** accounts.json written by an earlier SSMAX (format 1): the password inline. */
const legacyFile = (password: string): string =>
  JSON.stringify({
    version: 1,
    accounts: [
      { id: 'acct-1', email: 'alice@a.example', displayName: 'Alice', imap: { ...IMAP, password }, createdAt: '2026-01-01T00:00:00.000Z' },
    ],
  });

/** A secret store whose disk is broken: every write fails. */
function failingStore(inner: SecretStore): SecretStore {
  return {
    protection: inner.protection,
    get: (k) => inner.get(k),
    set: async () => {
      throw new Error('disk full');
    },
    delete: (k) => inner.delete(k),
  };
}

describe('account passwords are kept out of accounts.json', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ssmax-accounts-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const accountsText = (): Promise<string> => readFile(join(dir, ACCOUNTS_FILE), 'utf8');

  it('a new account: password in the secret store, not in accounts.json', async () => {
    const secrets = await FileSecretStore.open(dir);
    const store = await AccountStore.open(dir, secrets);
    const a = await store.add({ email: 'alice@a.example', displayName: 'Alice', imap: { ...IMAP, password: 's3cret-new' } });
    expect(a.imap).not.toHaveProperty('password');
    expect(await accountsText()).not.toContain('s3cret-new');
    expect(JSON.parse(await accountsText()).version).toBe(2);
    expect(await secrets.get(passwordKey(a.id))).toBe('s3cret-new');

    const reopened = await AccountStore.open(dir, await FileSecretStore.open(dir));
    expect(reopened.list()).toEqual([a]);
    expect(await reopened.imapSettings(a.id)).toEqual({ ...IMAP, password: 's3cret-new' });
  });

  it('migrates a format-1 file on load: secret first, then the file rewritten without the password', async () => {
    await writeFile(join(dir, ACCOUNTS_FILE), legacyFile('old-inline-pw'), { mode: 0o600 });
    const store = await AccountStore.open(dir, await FileSecretStore.open(dir));
    expect(await accountsText()).not.toContain('old-inline-pw');
    expect(JSON.parse(await accountsText())).toMatchObject({ version: 2, accounts: [{ id: 'acct-1', imap: IMAP }] });
    expect((await stat(join(dir, ACCOUNTS_FILE))).mode & 0o777).toBe(0o600);
    expect(await readFile(join(dir, SECRETS_FILE), 'utf8')).toContain('old-inline-pw');
    expect(await store.password('acct-1')).toBe('old-inline-pw');
    // Idempotent: the next start finds nothing to move and still has the password.
    expect(await (await AccountStore.open(dir, await FileSecretStore.open(dir))).password('acct-1')).toBe('old-inline-pw');
  });

  it('when the secret store cannot be written the password stays in the file (nothing lost) and moves next time', async () => {
    await writeFile(join(dir, ACCOUNTS_FILE), legacyFile('kept-pw'));
    const broken = await AccountStore.open(dir, failingStore(await FileSecretStore.open(dir)));
    expect(await broken.password('acct-1')).toBe('kept-pw');
    expect(await accountsText()).toContain('kept-pw');

    const fixed = await AccountStore.open(dir, await FileSecretStore.open(dir));
    expect(await fixed.password('acct-1')).toBe('kept-pw');
    expect(await accountsText()).not.toContain('kept-pw');
  });

  it('an account whose secret is gone says so instead of guessing', async () => {
    const secrets = await FileSecretStore.open(dir);
    const a = await (await AccountStore.open(dir, secrets)).add({ email: 'alice@a.example', displayName: 'Alice', imap: { ...IMAP, password: 'pw' } });
    await rm(join(dir, SECRETS_FILE));
    const store = await AccountStore.open(dir, await FileSecretStore.open(dir));
    expect(await store.password(a.id).catch((e: unknown) => e)).toBeInstanceOf(AccountPasswordMissing);
  });
});
