import { createPublicKey, type webcrypto } from 'node:crypto';
import { SmimeError } from '../errors';
import { x509 } from '../x509';
import type { KeyAlgorithm } from './profile';

/**
 * CSR helpers the org node, the authority and enrollment share: importing a public key for the
 * profile builders, making and checking PKCS#10 requests (proof of possession). Pure (no I/O).
 */

/** A CSR could not be read or its signature (proof of possession of the key) does not verify. */
export class CsrError extends SmimeError {}

export function algorithmOfSpki(spki: Uint8Array): KeyAlgorithm {
  const alg = new x509.PublicKey(spki).algorithm as { name: string; namedCurve?: string; modulusLength?: number };
  if (alg.name.startsWith('RSA')) return 'RSA-2048';
  if ((alg.name === 'ECDSA' || alg.name === 'ECDH') && alg.namedCurve === 'P-256') return 'P-256';
  throw new CsrError(`Key type ${alg.name}${alg.namedCurve ? ` ${alg.namedCurve}` : ''} is not in the SSMAX profile (RSA-2048 or P-256).`);
}

/** A WebCrypto public key for an SPKI (the builders read its algorithm and export it again). */
export async function importPublicKey(spki: Uint8Array): Promise<webcrypto.CryptoKey> {
  const algorithm = algorithmOfSpki(spki) === 'P-256' ? { name: 'ECDSA', namedCurve: 'P-256' } : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  return crypto.subtle.importKey('spki', spki, algorithm, true, ['verify']);
}

export function signingAlgorithm(algorithm: KeyAlgorithm): webcrypto.Algorithm | webcrypto.EcdsaParams {
  return algorithm === 'P-256' ? ({ name: 'ECDSA', hash: 'SHA-256' } as webcrypto.EcdsaParams) : { name: 'RSASSA-PKCS1-v1_5' };
}

/** A PKCS#10 request signed with the private key (proof of possession), e.g. the org CA's for the authority. */
export async function createCsr(subject: x509.JsonName, spki: Uint8Array, privateKey: webcrypto.CryptoKey): Promise<Uint8Array> {
  const publicKey = await importPublicKey(spki);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: subject,
    keys: { publicKey, privateKey },
    signingAlgorithm: signingAlgorithm(algorithmOfSpki(spki)),
  });
  return new Uint8Array(csr.rawData);
}

export interface CheckedCsr {
  readonly spki: Uint8Array;
  readonly algorithm: KeyAlgorithm;
  readonly subject: string;
}

/** Reads a CSR and checks its self-signature: only the holder of the private key could have made it. */
export async function checkCsr(der: Uint8Array, what = 'certificate request'): Promise<CheckedCsr> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(der);
  } catch (cause) {
    throw new CsrError(`The ${what} is not a readable PKCS#10 request.`, { cause });
  }
  const spki = new Uint8Array(csr.publicKey.rawData);
  const algorithm = algorithmOfSpki(spki);
  if (algorithm === 'RSA-2048') {
    const bits = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' }).asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < 2048) throw new CsrError(`The ${what} has an RSA key of ${bits} bits; the SSMAX profile needs at least 2048.`);
  }
  let ok = false;
  try {
    ok = await csr.verify();
  } catch (cause) {
    throw new CsrError(`The signature of the ${what} cannot be checked.`, { cause });
  }
  if (!ok) throw new CsrError(`The signature of the ${what} does not verify: no proof of possession of the key.`);
  return { spki, algorithm, subject: csr.subject };
}
