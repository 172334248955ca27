import { constants, createHash, createPublicKey, generateKeyPairSync, privateDecrypt, publicEncrypt, verify, type KeyObject } from 'node:crypto';
import { x509 } from '../../../smime/x509';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  KeyOperationError,
  SoftwareSigner,
  UnsupportedKeyError,
  ecdsaRawToDer,
  encodeEmsaPss,
  signWithRawRsa,
  softwareDecryptor,
} from '../../../smime/keys';



interface Pair { privateKey: KeyObject; certificate: Uint8Array }

async function selfSigned(kind: 'rsa' | 'ec'): Promise<Pair> {
  const { privateKey } = kind === 'rsa'
    ? generateKeyPairSync('rsa', { modulusLength: 2048 })
    : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const alg = kind === 'rsa' ? { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } : { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' });
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const cryptoPriv = await crypto.subtle.importKey('pkcs8', pkcs8, alg, false, ['sign']);
  const cryptoPub = await crypto.subtle.importKey('spki', spki, alg, true, ['verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01', name: 'CN=key test', notBefore: new Date('2026-01-01'), notAfter: new Date('2027-01-01'),
    signingAlgorithm: alg, keys: { privateKey: cryptoPriv, publicKey: cryptoPub },
  });
  return { privateKey, certificate: new Uint8Array(cert.rawData) };
}

const sha256 = (d: Uint8Array): Buffer => createHash('sha256').update(d).digest();

describe('SoftwareSigner and SoftwareDecryptor', () => {
  let rsa: Pair;
  let ec: Pair;
  let otherEc: Pair;
  beforeAll(async () => {
    rsa = await selfSigned('rsa');
    ec = await selfSigned('ec');
    otherEc = await selfSigned('ec');
  });

  const data = new TextEncoder().encode('signed attributes stand-in');

  it('signs RSA PKCS#1 v1.5, PSS and ECDSA so that node:crypto verifies', async () => {
    const pub = createPublicKey(rsa.privateKey);
    const pkcs1 = new SoftwareSigner(rsa.privateKey, rsa.certificate);
    expect(pkcs1.algorithm).toEqual({ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' });
    const s1 = await pkcs1.sign({ digest: sha256(data), data });
    expect(s1.length).toBe(256);
    expect(verify('sha256', data, pub, s1)).toBe(true);

    const pss = new SoftwareSigner(rsa.privateKey, rsa.certificate, { rsaScheme: 'pss' });
    const s2 = await pss.sign({ digest: sha256(data), data });
    expect(verify('sha256', data, { key: pub, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, s2)).toBe(true);

    const ecdsa = new SoftwareSigner(ec.privateKey, ec.certificate);
    const s3 = await ecdsa.sign({ digest: sha256(data), data });
    expect(s3[0]).toBe(0x30);
    expect(verify('sha256', data, { key: createPublicKey(ec.privateKey), dsaEncoding: 'der' }, s3)).toBe(true);
  });

  it('refuses a digest that is not the hash of the data', async () => {
    const signer = new SoftwareSigner(ec.privateKey, ec.certificate);
    await expect(signer.sign({ digest: sha256(new Uint8Array([1])), data })).rejects.toBeInstanceOf(KeyOperationError);
  });

  it('refuses a key that does not match the certificate, and keys outside the profile', () => {
    expect(() => new SoftwareSigner(ec.privateKey, otherEc.certificate)).toThrow(UnsupportedKeyError);
    const { privateKey: small } = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
    expect(() => softwareDecryptor(small, ec.certificate)).toThrow(UnsupportedKeyError);
  });

  it('signWithRawRsa (the card path) makes PKCS#1 v1.5 and PSS signatures node:crypto verifies', async () => {
    const pub = createPublicKey(rsa.privateKey);
    const raw = async (block: Uint8Array): Promise<Uint8Array> => privateDecrypt({ key: rsa.privateKey, padding: constants.RSA_NO_PADDING }, block);
    const d = sha256(data);
    const s1 = await signWithRawRsa({ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, d, 2048, raw);
    expect(verify('sha256', data, pub, s1)).toBe(true);
    const s2 = await signWithRawRsa({ name: 'RSA-PSS', hash: 'SHA-256', saltLength: 32 }, d, 2048, raw);
    expect(verify('sha256', data, { key: pub, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, s2)).toBe(true);
    // A deterministic salt gives a deterministic encoding; a different digest gives a different one.
    const salt = new Uint8Array(32).fill(7);
    expect(Buffer.from(encodeEmsaPss('SHA-256', d, 2048, 32, salt))).toEqual(Buffer.from(encodeEmsaPss('SHA-256', d, 2048, 32, salt)));
    expect(Buffer.from(encodeEmsaPss('SHA-256', sha256(new Uint8Array([1])), 2048, 32, salt))).not.toEqual(Buffer.from(encodeEmsaPss('SHA-256', d, 2048, 32, salt)));
  });

  it('RSA raw decrypt inverts a raw public operation', async () => {
    const dec = softwareDecryptor(rsa.privateKey, rsa.certificate);
    expect(dec.kind).toBe('rsa');
    if (dec.kind !== 'rsa') return;
    const m = Buffer.alloc(256, 0);
    m.write('hello', 200);
    const c = publicEncrypt({ key: createPublicKey(rsa.privateKey), padding: constants.RSA_NO_PADDING }, m);
    expect(Buffer.from(await dec.rsaRawDecrypt(c))).toEqual(m);
    await expect(dec.rsaRawDecrypt(new Uint8Array(10))).rejects.toBeInstanceOf(KeyOperationError);
  });

  it('ECDH returns the same Z on both sides and rejects a point off the curve', async () => {
    const a = softwareDecryptor(ec.privateKey, ec.certificate);
    const b = softwareDecryptor(otherEc.privateKey, otherEc.certificate);
    if (a.kind !== 'ecdh' || b.kind !== 'ecdh') throw new Error('expected ECDH decryptors');
    const point = (c: Uint8Array): Uint8Array => new Uint8Array(new x509.X509Certificate(c).publicKey.rawData).subarray(-65);
    const z1 = await a.ecdh(point(otherEc.certificate));
    const z2 = await b.ecdh(point(ec.certificate));
    expect(z1.length).toBe(32);
    expect(Buffer.from(z1)).toEqual(Buffer.from(z2));
    const bad = new Uint8Array(65); bad[0] = 4; bad[64] = 1;
    await expect(a.ecdh(bad)).rejects.toBeInstanceOf(KeyOperationError);
  });

  it('ecdsaRawToDer encodes r||s as a DER SEQUENCE of two INTEGERs', () => {
    const raw = new Uint8Array(64); raw[0] = 0x80; raw[63] = 1;
    const der = Buffer.from(ecdsaRawToDer(raw));
    expect(der.toString('hex')).toBe('3026022100' + '80' + '00'.repeat(31) + '020101');
  });
});
