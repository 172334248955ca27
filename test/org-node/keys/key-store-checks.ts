import { constants, createECDH, createPublicKey, publicEncrypt, randomBytes, verify } from 'node:crypto';
import { expect } from 'vitest';
import { digest } from '../../../smime/keys';
import { issueOrgCa, issueOrgEncryptionCert, issueOrgSigningCert, type CertificateAuthority } from '../../../smime/pki';
import { x509 } from '../../../smime/x509';
import type { OrgKeyAlgorithm, OrgKeyStore } from '../../../org-node/keys/store';
import { validity } from '../../support/ssmax-pki';

/**
 * The behaviour every OrgKeyStore must have, run against the file store (unit) and the PKCS#11
 * store on SoftHSM2 (integration): the CA key issues certificates that verify, the signing key
 * signs so that node:crypto verifies, the encryption key does the recipient operation.
 */
export async function checkStoreRoundTrip(store: OrgKeyStore, root: CertificateAuthority, algorithm: OrgKeyAlgorithm): Promise<void> {
  const caKey = await store.generate('ca', algorithm);
  const signingKey = await store.generate('signing', algorithm);
  const encryptionKey = await store.generate('encryption', algorithm);
  const ids = (await store.list()).map((k) => k.id);
  expect(ids).toEqual(expect.arrayContaining([caKey.id, signingKey.id, encryptionKey.id]));

  // The CA key signs an org CA CSR-equivalent: the root issues for its public key, then it issues.
  const caPublic = await importSpki(caKey.spki, algorithm);
  const orgCa = await issueOrgCa(root, { orgName: 'Keys Org', domains: ['keys.example.jp'], keys: { publicKey: caPublic, privateKey: caPublic }, ...validity });
  const ca: CertificateAuthority = { certificate: orgCa.certificate, privateKey: await store.issuingKey(caKey.id) };
  const common = { orgName: 'Keys Org', domains: ['keys.example.jp'], crlUrl: 'https://ssmax.keys.example.jp/.well-known/ssmax/org-ca.crl', ...validity };
  const signingCert = await issueOrgSigningCert(ca, { ...common, publicKey: signingKey.spki });
  const encryptionCert = await issueOrgEncryptionCert(ca, { ...common, publicKey: encryptionKey.spki });
  expect(await signingCert.verify({ publicKey: orgCa.certificate.publicKey, signatureOnly: true })).toBe(true);
  expect(await encryptionCert.verify({ publicKey: orgCa.certificate.publicKey, signatureOnly: true })).toBe(true);

  // Signing: what CMS will ask for (digest + data), verified by node:crypto against the certificate.
  const signer = await store.signer(signingKey.id, new Uint8Array(signingCert.rawData));
  const data = new TextEncoder().encode('signed attributes of an org countersignature');
  const signature = await signer.sign({ data, digest: digest('SHA-256', data) });
  const publicKey = createPublicKey({ key: Buffer.from(signingKey.spki), format: 'der', type: 'spki' });
  const ok = verify('sha256', data, algorithm === 'P-256' ? { key: publicKey, dsaEncoding: 'der' } : { key: publicKey, padding: constants.RSA_PKCS1_PADDING }, signature);
  expect(ok).toBe(true);

  // Decryption: the private operation matches what a sender computes with the public key.
  const decryptor = await store.decryptor(encryptionKey.id, new Uint8Array(encryptionCert.rawData));
  const encPublic = createPublicKey({ key: Buffer.from(encryptionKey.spki), format: 'der', type: 'spki' });
  if (decryptor.kind === 'ecdh') {
    const sender = createECDH('prime256v1');
    sender.generateKeys();
    const jwk = encPublic.export({ format: 'jwk' });
    const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x ?? '', 'base64url'), Buffer.from(jwk.y ?? '', 'base64url')]);
    const expected = sender.computeSecret(point);
    expect(Buffer.from(await decryptor.ecdh(sender.getPublicKey()))).toEqual(expected);
  } else {
    const message = Buffer.concat([Buffer.from([0]), randomBytes(255)]);
    const block = publicEncrypt({ key: encPublic, padding: constants.RSA_NO_PADDING }, message);
    expect(Buffer.from(await decryptor.rsaRawDecrypt(block))).toEqual(message);
  }

  // Purposes are enforced: the encryption key does not sign, the signing key does not decrypt.
  await expect(store.signer(encryptionKey.id, new Uint8Array(encryptionCert.rawData))).rejects.toThrow(/cannot be used for signing/);
  await expect(store.decryptor(signingKey.id, new Uint8Array(signingCert.rawData))).rejects.toThrow(/cannot be used for decryption/);
  // A certificate of another key is refused.
  await expect(store.signer(signingKey.id, new Uint8Array(encryptionCert.rawData))).rejects.toThrow(/does not belong/);
}

export async function importSpki(spki: Uint8Array, algorithm: OrgKeyAlgorithm) {
  const alg = algorithm === 'P-256' ? { name: 'ECDSA', namedCurve: 'P-256' } : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  return crypto.subtle.importKey('spki', spki, alg, true, ['verify']);
}

export { x509 };
