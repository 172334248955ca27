import { generateKeyPairSync, type webcrypto } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CsrError, algorithmOfSpki, checkCsr, createCsr, generateProfileKeyPair } from '../../../smime/pki';
import { SmimeError } from '../../../smime/errors';
import { x509 } from '../../../smime/x509';

/** CSR helpers (moved from org-node/pki.ts): proof of possession, profile key types, clear refusals. */

async function spkiOf(key: webcrypto.CryptoKey): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.exportKey('spki', key));
}

describe('CSR helpers', () => {
  it('makes a P-256 request that checks out, with its subject and algorithm', async () => {
    const keys = await generateProfileKeyPair('P-256');
    const csr = await createCsr([{ CN: ['Org A SSMAX CA'] }, { O: ['Org A'] }], await spkiOf(keys.publicKey), keys.privateKey);
    const checked = await checkCsr(csr);
    expect(checked.algorithm).toBe('P-256');
    expect(checked.subject).toBe('CN=Org A SSMAX CA, O=Org A');
    expect(Buffer.from(checked.spki)).toEqual(Buffer.from(await spkiOf(keys.publicKey)));
  });

  it('refuses garbage, a request whose signature was altered, and an RSA key under 2048 bits — as CsrError (an SmimeError)', async () => {
    const garbage = await checkCsr(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]), 'test request').catch((e: unknown) => e);
    expect(garbage).toBeInstanceOf(CsrError);
    expect(garbage).toBeInstanceOf(SmimeError);
    expect((garbage as CsrError).userMessage).toBe('The test request is not a readable PKCS#10 request.');

    const keys = await generateProfileKeyPair('P-256');
    const csr = await createCsr([{ CN: ['x'] }], await spkiOf(keys.publicKey), keys.privateKey);
    const altered = new Uint8Array(csr);
    altered[altered.length - 3]! ^= 0x01; // inside the signature
    await expect(checkCsr(altered)).rejects.toBeInstanceOf(CsrError);

    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const algorithm = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    const pair = {
      publicKey: await crypto.subtle.importKey('spki', weak.publicKey.export({ format: 'der', type: 'spki' }), algorithm, true, ['verify']),
      privateKey: await crypto.subtle.importKey('pkcs8', weak.privateKey.export({ format: 'der', type: 'pkcs8' }), algorithm, true, ['sign']),
    };
    const weakCsr = await x509.Pkcs10CertificateRequestGenerator.create({ name: 'CN=weak', keys: pair, signingAlgorithm: algorithm });
    await expect(checkCsr(new Uint8Array(weakCsr.rawData))).rejects.toThrow(/RSA key of 1024 bits/);
  });

  it('names the profile key types and refuses others', () => {
    const ed = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' });
    expect(() => algorithmOfSpki(new Uint8Array(ed))).toThrow(CsrError);
  });
});
