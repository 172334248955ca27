import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decryptContent, encryptContent, OID } from '../../../smime/cms';
import { softwareDecryptor } from '../../../smime/keys';
import { openssl, workdir, type Workdir } from '../../support/openssl';
import { buildOrg, buildRoot, pem, type TestKey, type TestOrg } from '../../support/ssmax-pki';
import { mimeEntity } from './fixtures';

// Encryption interop both ways with the real OpenSSL 3 `cms` command.
describe('EnvelopedData / AuthEnvelopedData interop with openssl cms', () => {
  let rsa: TestOrg;
  let ec: TestOrg;
  let w: Workdir;
  beforeAll(async () => {
    const root = await buildRoot('P-256');
    rsa = await buildOrg(root, 'RSA-2048', 'RSA Corp', 'rsa.example.jp');
    ec = await buildOrg(root, 'P-256', 'EC Corp', 'ec.example.jp');
    w = await workdir();
    await w.file('content.bin', mimeEntity);
    for (const [name, key] of [['rsa', rsa.encryption], ['ec', ec.encryption]] as const) {
      await w.file(`${name}.pem`, pem(key.der));
      await w.file(`${name}.key`, pem(key.pkcs8, 'PRIVATE KEY'));
    }
  });
  afterAll(() => w.remove());

  for (const kind of ['auth-enveloped', 'enveloped'] as const) {
    for (const recipient of ['rsa', 'ec'] as const) {
      it(`openssl decrypts our ${kind} message to an ${recipient === 'rsa' ? 'RSA-OAEP' : 'ECDH'} recipient`, async () => {
        const key = recipient === 'rsa' ? rsa.encryption : ec.encryption;
        // Two recipients, as the client does (org key + own 9D); openssl picks its own.
        const cms = encryptContent({ content: mimeEntity, recipients: [rsa.employee.keyManagement.der, key.der], kind });
        const inPath = await w.file('ours.der', cms);
        const r = await openssl(['cms', '-decrypt', '-binary', '-inform', 'DER', '-in', inPath, '-recip', w.path(`${recipient}.pem`), '-inkey', w.path(`${recipient}.key`), '-out', w.path('plain.bin')]);
        expect(r.code, r.stderr).toBe(0);
        expect(await w.read('plain.bin')).toEqual(Buffer.from(mimeEntity));
        const printed = await openssl(['cms', '-cmsout', '-print', '-inform', 'DER', '-in', inPath]);
        expect(printed.stdout.toString()).toContain(kind === 'auth-enveloped' ? 'aes-256-gcm' : 'aes-256-cbc');
      });
    }
  }

  it('openssl refuses our AuthEnvelopedData after a tag bit flip (the test can fail)', async () => {
    const cms = Uint8Array.from(encryptContent({ content: mimeEntity, recipients: [ec.encryption.der] }));
    cms[cms.length - 1] = (cms[cms.length - 1] ?? 0) ^ 1;
    const inPath = await w.file('tampered.der', cms);
    const r = await openssl(['cms', '-decrypt', '-binary', '-inform', 'DER', '-in', inPath, '-recip', w.path('ec.pem'), '-inkey', w.path('ec.key'), '-out', w.path('plain.bin')]);
    expect(r.code).not.toBe(0);
  });

  const cases: { name: string; recipient: 'rsa' | 'ec'; args: string[]; transport: string; cipher: string }[] = [
    { name: 'RSA PKCS#1 v1.5, AES-256-CBC', recipient: 'rsa', args: ['-aes-256-cbc'], transport: 'rsa-pkcs1v15', cipher: OID.aes256Cbc },
    { name: 'RSA-OAEP (SHA-1 default), AES-128-CBC', recipient: 'rsa', args: ['-aes-128-cbc', '-keyopt', 'rsa_padding_mode:oaep'], transport: 'rsa-oaep', cipher: OID.aes128Cbc },
    { name: 'RSA-OAEP SHA-256, AES-256-GCM', recipient: 'rsa', args: ['-aes-256-gcm', '-keyopt', 'rsa_padding_mode:oaep', '-keyopt', 'rsa_oaep_md:sha256', '-keyopt', 'rsa_mgf1_md:sha256'], transport: 'rsa-oaep', cipher: OID.aes256Gcm },
    { name: 'ECDH (default KDF), AES-256-CBC', recipient: 'ec', args: ['-aes-256-cbc'], transport: 'ecdh', cipher: OID.aes256Cbc },
    { name: 'ECDH SHA-256 KDF, AES-256-GCM', recipient: 'ec', args: ['-aes-256-gcm', '-keyopt', 'ecdh_kdf_md:sha256'], transport: 'ecdh', cipher: OID.aes256Gcm },
    { name: 'ECDH streamed (BER), AES-128-GCM', recipient: 'ec', args: ['-aes-128-gcm', '-stream'], transport: 'ecdh', cipher: OID.aes128Gcm },
  ];
  for (const c of cases) {
    it(`we decrypt openssl's ${c.name}`, async () => {
      const r = await openssl(['cms', '-encrypt', '-binary', '-in', w.path('content.bin'), '-outform', 'DER', '-out', w.path('ossl.der'), '-recip', w.path(`${c.recipient}.pem`), ...c.args]);
      expect(r.code, r.stderr).toBe(0);
      const key: TestKey = c.recipient === 'rsa' ? rsa.encryption : ec.encryption;
      const out = await decryptContent(await w.read('ossl.der'), softwareDecryptor(key.pkcs8, key.der));
      expect(out.keyTransport).toBe(c.transport);
      expect(out.contentEncryption).toBe(c.cipher);
      expect(Buffer.from(out.content)).toEqual(Buffer.from(mimeEntity));
    });
  }
});
