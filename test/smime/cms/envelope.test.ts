import { constants, createPublicKey, privateDecrypt, publicEncrypt, randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { CmsFormatError, DecryptionError, decryptContent, encryptContent, OID } from '../../../smime/cms';
import { oaepDecode, pkcs1v15DecodeImplicit } from '../../../smime/cms/rsa-padding';
import { softwareDecryptor } from '../../../smime/keys';
import { buildOrg, buildRoot, type TestOrg } from '../../support/ssmax-pki';
import { mimeEntity } from './fixtures';

describe('AuthEnvelopedData and EnvelopedData', () => {
  let rsa: TestOrg;
  let ec: TestOrg;
  beforeAll(async () => {
    const root = await buildRoot('P-256');
    rsa = await buildOrg(root, 'RSA-2048', 'RSA Corp', 'rsa.example.jp');
    ec = await buildOrg(root, 'P-256', 'EC Corp', 'ec.example.jp');
  });

  for (const kind of ['auth-enveloped', 'enveloped'] as const) {
    it(`${kind}: every recipient (RSA-OAEP and ECDH) decrypts the same content`, async () => {
      const cms = encryptContent({ content: mimeEntity, recipients: [rsa.encryption.der, ec.encryption.der, ec.employee.keyManagement.der], kind });
      for (const key of [rsa.encryption, ec.encryption, ec.employee.keyManagement]) {
        const out = await decryptContent(cms, softwareDecryptor(key.pkcs8, key.der));
        expect(out.kind).toBe(kind);
        expect(out.contentEncryption).toBe(kind === 'auth-enveloped' ? OID.aes256Gcm : OID.aes256Cbc);
        expect(out.keyTransport).toBe(key === rsa.encryption ? 'rsa-oaep' : 'ecdh');
        expect(Buffer.from(out.content)).toEqual(Buffer.from(mimeEntity));
      }
      // Not a recipient: a clear typed error.
      await expect(decryptContent(cms, softwareDecryptor(rsa.employee.keyManagement.pkcs8, rsa.employee.keyManagement.der))).rejects.toBeInstanceOf(DecryptionError);
    });
  }

  it('PKCS#1 v1.5 key transport (for gpgsm 2.2) round-trips through the raw-RSA path', async () => {
    const cms = encryptContent({ content: mimeEntity, recipients: [rsa.encryption.der], kind: 'enveloped', rsaKeyTransport: 'pkcs1v15' });
    const out = await decryptContent(cms, softwareDecryptor(rsa.encryption.pkcs8, rsa.encryption.der));
    expect(out.keyTransport).toBe('rsa-pkcs1v15');
    expect(Buffer.from(out.content)).toEqual(Buffer.from(mimeEntity));
  });

  it('a flipped ciphertext bit or GCM tag bit is detected', async () => {
    const cms = encryptContent({ content: mimeEntity, recipients: [ec.encryption.der] });
    const dec = softwareDecryptor(ec.encryption.pkcs8, ec.encryption.der);
    const lastByte = Uint8Array.from(cms);
    lastByte[lastByte.length - 1] = (lastByte[lastByte.length - 1] ?? 0) ^ 1; // inside the mac
    await expect(decryptContent(lastByte, dec)).rejects.toBeInstanceOf(DecryptionError);
    const body = Uint8Array.from(cms);
    const at = body.length - 18 - 5; // in the encrypted content, before the mac OCTET STRING
    body[at] = (body[at] ?? 0) ^ 0x80;
    await expect(decryptContent(body, dec)).rejects.toBeInstanceOf(DecryptionError);
  });

  it('garbage and truncated input give CmsFormatError, never a crash', async () => {
    const dec = softwareDecryptor(ec.encryption.pkcs8, ec.encryption.der);
    const cms = encryptContent({ content: mimeEntity, recipients: [ec.encryption.der] });
    for (let cut = 1; cut < cms.length; cut += 37) {
      await expect(decryptContent(cms.subarray(0, cut), dec)).rejects.toBeInstanceOf(CmsFormatError);
    }
    await expect(decryptContent(randomBytes(500), dec)).rejects.toBeInstanceOf(CmsFormatError);
  });

  it('host-side unpadding: OAEP-SHA-256 and PKCS#1 v1.5 with implicit rejection', () => {
    const key = rsa.encryption.privateKey;
    const pub = createPublicKey(key);
    const cek = randomBytes(32);
    const raw = (c: Buffer): Buffer => privateDecrypt({ key, padding: constants.RSA_NO_PADDING }, c);
    const oaep = raw(publicEncrypt({ key: pub, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, cek));
    expect(Buffer.from(oaepDecode(oaep, 'SHA-256') ?? [])).toEqual(cek);
    expect(oaepDecode(oaep, 'SHA-1')).toBeUndefined();
    const v15 = raw(publicEncrypt({ key: pub, padding: constants.RSA_PKCS1_PADDING }, cek));
    expect(Buffer.from(pkcs1v15DecodeImplicit(v15, 32))).toEqual(cek);
    // Wrong expected length or broken padding: random bytes of the expected length, no exception.
    const wrong = pkcs1v15DecodeImplicit(v15, 16);
    expect(wrong.length).toBe(16);
    const broken = Buffer.from(v15);
    broken[1] = 1;
    const r = pkcs1v15DecodeImplicit(broken, 32);
    expect(r.length).toBe(32);
    expect(Buffer.from(r)).not.toEqual(cek);
  });
});
