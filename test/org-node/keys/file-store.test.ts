import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileOrgKeyStore } from '../../../org-node/keys/file-store';
import { KeyNotFoundError, WrongSecretError } from '../../../org-node/keys/store';
import type { CertificateAuthority } from '../../../smime/pki';
import { buildRoot } from '../../support/ssmax-pki';
import { checkStoreRoundTrip } from './key-store-checks';

let dir: string;
let root: CertificateAuthority;
const passphrase = 'correct horse battery staple';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ssmax-filestore-'));
  root = await buildRoot('P-256');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('FileOrgKeyStore', () => {
  it('generates P-256 keys that issue, sign and decrypt, kept encrypted on disk', async () => {
    const keyDir = join(dir, 'p256');
    const store = await FileOrgKeyStore.open(keyDir, passphrase);
    await checkStoreRoundTrip(store, root, 'P-256');
    const files = await readdir(keyDir);
    const pems = files.filter((f) => f.endsWith('.key.pem'));
    expect(pems).toHaveLength(3);
    for (const f of pems) {
      const text = await readFile(join(keyDir, f), 'utf8');
      expect(text).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
    }
    // Reopened with the passphrase, the same keys are there.
    const again = await FileOrgKeyStore.open(keyDir, passphrase);
    expect((await again.list()).map((k) => k.purpose).sort()).toEqual(['ca', 'encryption', 'signing']);
  });

  it('does RSA-2048 too', async () => {
    const store = await FileOrgKeyStore.open(join(dir, 'rsa'), passphrase);
    await checkStoreRoundTrip(store, root, 'RSA-2048');
  });

  it('refuses a wrong passphrase when opening, with a clear error', async () => {
    const keyDir = join(dir, 'wrong');
    const store = await FileOrgKeyStore.open(keyDir, passphrase);
    await store.generate('signing', 'P-256');
    const failure = await FileOrgKeyStore.open(keyDir, 'not the passphrase').catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(WrongSecretError);
    expect((failure as WrongSecretError).userMessage).toMatch(/wrong passphrase/);
  });

  it('reports an unknown key id', async () => {
    const store = await FileOrgKeyStore.open(join(dir, 'empty'), passphrase);
    await expect(store.get('0'.repeat(32))).rejects.toBeInstanceOf(KeyNotFoundError);
    await expect(store.get('../etc/passwd')).rejects.toBeInstanceOf(KeyNotFoundError);
  });
});
