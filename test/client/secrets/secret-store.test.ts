import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  FileSecretStore,
  SECRETS_FILE,
  SecretUnavailable,
  type SecretCipher,
} from '../../../client/secrets/secret-store';

/** A real cipher (AES-256-GCM under a key held in memory) standing in for Electron's safeStorage. */
function aesCipher(name = 'test-aes-gcm', key = randomBytes(32)): SecretCipher {
  return {
    name,
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

describe('FileSecretStore', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ssmax-secrets-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const fileText = (): Promise<string> => readFile(join(dir, SECRETS_FILE), 'utf8');

  it('browser mode: keeps secrets in a 0600 file across restarts, says it is the weaker protection', async () => {
    const store = await FileSecretStore.open(dir);
    expect(store.protection).toBe('file-0600');
    expect(await store.get('account/a/password')).toBeUndefined();
    await store.set('account/a/password', 'pässwörd 1');
    await store.set('account/b/password', 'second');
    expect((await stat(join(dir, SECRETS_FILE))).mode & 0o777).toBe(0o600);

    const again = await FileSecretStore.open(dir);
    expect(await again.get('account/a/password')).toBe('pässwörd 1');
    await again.delete('account/a/password');
    expect(await (await FileSecretStore.open(dir)).get('account/a/password')).toBeUndefined();
    expect(await (await FileSecretStore.open(dir)).get('account/b/password')).toBe('second');
  });

  it('with the OS keychain cipher: nothing readable in the file, and another key or browser mode cannot read it', async () => {
    const cipher = aesCipher();
    const store = await FileSecretStore.open(dir, { cipher });
    expect(store.protection).toBe('os-keychain');
    await store.set('account/a/password', 'correct horse');
    expect(await fileText()).not.toContain('correct horse');
    expect(JSON.parse(await fileText()).secrets['account/a/password'].protection).toBe('test-aes-gcm');

    expect(await (await FileSecretStore.open(dir, { cipher })).get('account/a/password')).toBe('correct horse');
    const browser = await FileSecretStore.open(dir);
    const unavailable = await browser.get('account/a/password').catch((e: unknown) => e);
    expect(unavailable).toBeInstanceOf(SecretUnavailable);
    expect((unavailable as Error).message).toMatch(/desktop app/);
    expect((unavailable as Error).message).not.toContain('correct horse');
    const otherKey = await FileSecretStore.open(dir, { cipher: aesCipher() });
    expect(await otherKey.get('account/a/password').catch((e: unknown) => e)).toBeInstanceOf(SecretUnavailable);
  });

  it('encrypts plain entries left by browser mode when the keychain becomes available', async () => {
    await (await FileSecretStore.open(dir)).set('account/a/password', 'was plain');
    expect(await fileText()).toContain('was plain');
    const cipher = aesCipher();
    const store = await FileSecretStore.open(dir, { cipher });
    expect(await store.get('account/a/password')).toBe('was plain');
    await store.upgrade();
    expect(await fileText()).not.toContain('was plain');
    expect(await (await FileSecretStore.open(dir, { cipher })).get('account/a/password')).toBe('was plain');
  });

  it('keeps an unreadable secrets file aside and starts empty', async () => {
    await writeFile(join(dir, SECRETS_FILE), '{"format":"ssmax-secrets/1","secrets":{"x":');
    const store = await FileSecretStore.open(dir);
    expect(await store.get('x')).toBeUndefined();
    expect(await readFile(join(dir, `${SECRETS_FILE}.corrupt`), 'utf8')).toContain('"secrets"');
  });
});
