import { constants, createPrivateKey, privateDecrypt, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CmsFormatError, DecryptionError, UnsupportedAlgorithmError, decryptContent, encryptContent, signData, verifySignedData } from '../../../smime/cms';
import { readContentInfo } from '../../../smime/cms/content-info';
import { octets } from '../../../smime/cms/der';
import { SoftwareSigner, softwareDecryptor, type RsaDecryptor } from '../../../smime/keys';
import { sharedFixturesDir } from '../../support/shared-fixtures';

// Published vectors, used in place (never copied).
const fixtures = sharedFixturesDir;
const rfc4134 = (name: string): Buffer => readFileSync(path.join(fixtures, 'rfc4134', name));
const rfc9216 = (name: string): Buffer => readFileSync(path.join(fixtures, 'rfc9216', name));
const rfc9788 = (name: string): string => readFileSync(path.join(fixtures, 'rfc9788', name), 'latin1');
const exContent = (): Buffer => rfc4134('ExContent.bin');

/**
 * A Decryptor over a raw key without the SSMAX profile check: RFC 4134's Bob has RSA-1024, which we
 * would never issue but may still hold as a recipient. The interface is what is under test.
 */
function rawRsaDecryptor(key: KeyObject, certificate: Uint8Array): RsaDecryptor {
  const modulusLength = (key.asymmetricKeyDetails?.modulusLength ?? 0) / 8;
  return { kind: 'rsa', certificate, modulusLength, rsaRawDecrypt: async (block) => privateDecrypt({ key, padding: constants.RSA_NO_PADDING }, block) };
}

/** Test-only: the base64 body of a single-part pkcs7-mime .eml (MIME parsing proper is smime/mime's job). */
function base64Body(eml: string): Buffer {
  const body = eml.replace(/\r\n/g, '\n').split('\n\n').slice(1).join('\n\n');
  return Buffer.from(body.replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
}

describe('RFC 4134 examples', () => {
  it('3.1 (BER, indefinite length) and 3.2 (DER) Data carry the example content', () => {
    for (const f of ['3.1.bin', '3.2.bin']) {
      const ci = readContentInfo(rfc4134(f));
      expect(Buffer.from(octets(ci.content))).toEqual(exContent());
    }
  });

  // Every RFC 4134 signature uses SHA-1 (and DSA or RSA-1024): they parse, the content is recovered,
  // and each signer is reported "unsupported" with a reason — never valid, never a crash.
  it.each([
    ['4.1.bin', 1, undefined],
    ['4.2.bin', 1, undefined],
    ['4.3.bin', 1, 'detached'],
    ['4.4.bin', 1, undefined],
    ['4.5.bin', 1, undefined],
    ['4.6.bin', 2, undefined],
    ['4.7.bin', 1, undefined],
    ['4.10.bin', 1, undefined],
  ] as const)('%s: %i signer(s), SHA-1 rejected by policy', (file, signerCount, detached) => {
    const r = verifySignedData(rfc4134(file), detached ? { detachedContent: exContent() } : {});
    expect(Buffer.from(r.content ?? [])).toEqual(exContent());
    expect(r.signers).toHaveLength(signerCount);
    for (const s of r.signers) {
      expect(s.status).toBe('unsupported');
      expect(s.reasons.map((x) => x.code)).toContain('unsupported-algorithm');
      expect(s.reasons.map((x) => x.message).join(' ')).toMatch(/SHA-1|DSA/);
    }
  });

  it('4.10: many signed attributes of other profiles (security label, ML expansion history...) do not disturb parsing', () => {
    // Note: despite its description, the extracted 4.10 has no unsignedAttrs (openssl prints <ABSENT>).
    const r = verifySignedData(rfc4134('4.10.bin'));
    expect(r.signers[0]?.countersignatures).toEqual([]);
    expect(r.signers[0]?.reasons.map((x) => x.code)).toEqual(['unsupported-algorithm']);
  });

  it('4.9 (opaque signed .eml) parses; 4.11 is certificates-only with no signer', () => {
    expect(verifySignedData(base64Body(rfc4134('4.9.eml').toString('latin1'))).signers[0]?.status).toBe('unsupported');
    const certsOnly = verifySignedData(rfc4134('4.11.bin'));
    expect(certsOnly.signers).toHaveLength(0);
    expect(certsOnly.certificates.length).toBeGreaterThan(0);
  });

  it('5.1 (3DES, RSA PKCS#1 v1.5 key transport to Bob) decrypts through a raw-RSA Decryptor', async () => {
    const bob = rawRsaDecryptor(createPrivateKey({ key: rfc4134('BobPrivRSAEncrypt.pri'), format: 'der', type: 'pkcs8' }), rfc4134('BobRSASignByCarl.cer'));
    const out = await decryptContent(rfc4134('5.1.bin'), bob);
    expect(out.keyTransport).toBe('rsa-pkcs1v15');
    expect(Buffer.from(out.content)).toEqual(exContent());
    const mime = await decryptContent(base64Body(rfc4134('5.3.eml').toString('latin1')), bob);
    expect(Buffer.from(mime.content).toString('latin1')).toContain('This is some sample content.');
  });

  it('5.2 (RC2) is rejected with a typed error; 6.0/7.x are not enveloped data', async () => {
    const bob = rawRsaDecryptor(createPrivateKey({ key: rfc4134('BobPrivRSAEncrypt.pri'), format: 'der', type: 'pkcs8' }), rfc4134('BobRSASignByCarl.cer'));
    await expect(decryptContent(rfc4134('5.2.bin'), bob)).rejects.toThrow(UnsupportedAlgorithmError);
    await expect(decryptContent(rfc4134('5.2.bin'), bob)).rejects.toThrow(/RC2/);
    for (const f of ['6.0.bin', '7.1.bin', '7.2.bin']) await expect(decryptContent(rfc4134(f), bob)).rejects.toBeInstanceOf(CmsFormatError);
  });
});

describe('RFC 9216 keys and RFC 9788 messages built on them', () => {
  const alice = { cert: rfc9216('alice.sign.crt').toString(), key: rfc9216('alice.sign.key').toString() };
  const bob = { cert: rfc9216('bob.enc.crt').toString(), key: rfc9216('bob.enc.key').toString() };

  it('Alice signs and Bob decrypts with the published keys', async () => {
    const content = new TextEncoder().encode('Content-Type: text/plain\r\n\r\nhello Bob\r\n');
    const signer = new SoftwareSigner(alice.key, alice.cert);
    const signed = verifySignedData(await signData({ content, signers: [signer], detached: true }), { detachedContent: content });
    expect(signed.signers[0]?.status).toBe('valid');
    const dec = softwareDecryptor(bob.key, bob.cert);
    const out = await decryptContent(encryptContent({ content, recipients: [dec.certificate] }), dec);
    expect(Buffer.from(out.content)).toEqual(Buffer.from(content));
    await expect(decryptContent(encryptContent({ content, recipients: [dec.certificate] }), softwareDecryptor(alice.key, alice.cert))).rejects.toBeInstanceOf(DecryptionError);
  });

  it('smime-multipart.eml: the detached signature by Alice verifies over the canonical first part', () => {
    const eml = rfc9788('smime-multipart.eml').replace(/\r?\n/g, '\r\n');
    const parts = eml.split('\r\n--052');
    const first = (parts[1] ?? '').replace(/^\r\n/, '');
    const sigPart = parts[2] ?? '';
    const sig = base64Body(sigPart.replace(/^\r\n/, ''));
    const r = verifySignedData(sig, { detachedContent: Buffer.from(first, 'latin1') });
    expect(r.signers).toHaveLength(1);
    expect(r.signers[0]?.reasons).toEqual([]);
    expect(r.signers[0]?.status).toBe('valid');
    // One changed character in the signed part: invalid.
    const forged = verifySignedData(sig, { detachedContent: Buffer.from(first.replace('signed-only', 'signed-0nly'), 'latin1') });
    expect(forged.signers[0]?.status).toBe('invalid');
  });

  it('smime-enc-signed.eml: Bob decrypts, and the inner opaque signed-data by Alice verifies', async () => {
    const dec = softwareDecryptor(bob.key, bob.cert);
    const out = await decryptContent(base64Body(rfc9788('smime-enc-signed.eml')), dec);
    const inner = Buffer.from(out.content).toString('latin1');
    expect(inner).toMatch(/signed-data/);
    const r = verifySignedData(base64Body(inner));
    expect(r.signers[0]?.status).toBe('valid');
    expect(Buffer.from(r.content ?? []).toString()).toContain('smime-enc-signed');
  });
});
