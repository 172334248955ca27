import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNTS_FILE } from '../../../client/mail/accounts';
import { FileSecretStore, SECRETS_FILE, type SecretCipher } from '../../../client/secrets/secret-store';
import { ServiceHost } from '../../../client/service-host';

/** An AES-256-GCM cipher under an in-memory key: what Electron's safeStorage does with the OS keychain. */
function keychain(key = randomBytes(32)): SecretCipher {
  return {
    name: 'electron-safeStorage',
    encrypt(plain) {
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
      return Buffer.concat([iv, c.getAuthTag(), body]);
    },
    decrypt(data) {
      const d = createDecipheriv('aes-256-gcm', key, data.subarray(0, 12));
      d.setAuthTag(data.subarray(12, 28));
      return Buffer.concat([d.update(data.subarray(28)), d.final()]).toString('utf8');
    },
  };
}

/**
 * The service host with the desktop app's secret store: an accounts.json of an earlier version is
 * migrated at start (password encrypted in secrets.json, gone from accounts.json); the same data
 * folder opened in browser mode lists the account but does not connect it, and says why.
 */
describe('account passwords through the service host', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'ssmax-host-secrets-'));
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('migrates into the keychain store; browser mode then reports AccountPasswordUnavailable and compose is refused', async () => {
    await writeFile(
      join(dataDir, ACCOUNTS_FILE),
      JSON.stringify({
        version: 1,
        // Port 1 on loopback: nothing listens, the account just stays offline.
        accounts: [{ id: 'acct-1', email: 'kaori@a.example', displayName: 'Kaori', imap: { host: '127.0.0.1', port: 1, security: 'none', username: 'kaori@a.example', password: 'kaori-imap-pw' }, createdAt: '2026-01-01T00:00:00.000Z' }],
      }),
      { mode: 0o600 },
    );
    const cipher = keychain();
    const desktop = await ServiceHost.open({ dataDir, runtime: 'electron', secrets: await FileSecretStore.open(dataDir, { cipher }) });
    try {
      expect((await desktop.accounts.list()).map((a) => a.email)).toEqual(['kaori@a.example']);
      expect((await desktop.app.info()).notices).toEqual([]);
      expect(await desktop.mail.credentials('acct-1')).toEqual({ email: 'kaori@a.example', displayName: 'Kaori', user: 'kaori@a.example', pass: 'kaori-imap-pw' });
    } finally {
      await desktop.close();
    }
    expect(await readFile(join(dataDir, ACCOUNTS_FILE), 'utf8')).not.toContain('kaori-imap-pw');
    expect(await readFile(join(dataDir, SECRETS_FILE), 'utf8')).not.toContain('kaori-imap-pw');

    const browser = await ServiceHost.open({ dataDir, runtime: 'bridge' });
    try {
      expect((await browser.accounts.list()).map((a) => a.email)).toEqual(['kaori@a.example']);
      expect((await browser.app.info()).notices).toEqual([expect.objectContaining({ code: 'AccountPasswordUnavailable', message: expect.stringContaining('kaori@a.example') })]);
      expect(browser.mail.account('acct-1')).toBeUndefined();
      const refused = await browser.mail.credentials('acct-1').catch((e: unknown) => e);
      expect(refused).toMatchObject({ code: 'Refused', message: expect.stringMatching(/desktop app/) });
    } finally {
      await browser.close();
    }
  });
});
