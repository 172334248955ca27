import type { webcrypto } from 'node:crypto';
import { digest, ecdsaDerToRaw, type Signer } from '../keys';
import { x509 } from '../x509';
import { ProfileError } from './errors';
import type { CertificateAuthority } from './profile';

/**
 * Lets the profile builders issue certificates and CRLs with any `Signer` — a CA key in a PKCS#11
 * token or HSM — not only a WebCrypto key. @peculiar/x509 signs with `crypto.subtle.sign(alg, key,
 * tbs)` on its registered provider; we register a provider whose `sign` recognises keys made here
 * and hands the to-be-signed bytes to their Signer, and passes everything else to the provider that
 * was registered before (Node's WebCrypto, or another such bridge).
 */

type CryptoKey = webcrypto.CryptoKey;

const signers = new WeakMap<object, Signer>();
let installed = false;

function install(): void {
  if (installed) return;
  const base = x509.cryptoProvider.get();
  const subtle = base.subtle;
  const bridged = new Proxy(subtle, {
    get(target, prop) {
      if (prop === 'sign') {
        return async (algorithm: webcrypto.AlgorithmIdentifier, key: CryptoKey, data: ArrayBuffer | ArrayBufferView): Promise<ArrayBuffer> => {
          const signer = signers.get(key);
          if (!signer) return target.sign(algorithm, key, data as ArrayBuffer);
          const bytes = ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
          const signature = await signer.sign({ digest: digest(signer.algorithm.hash, bytes), data: bytes });
          // WebCrypto's ECDSA form is r || s; @peculiar/x509 re-encodes it as DER in the certificate.
          const out = signer.algorithm.name === 'ECDSA' ? ecdsaDerToRaw(signature, 32) : signature;
          return Uint8Array.from(out).buffer;
        };
      }
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  x509.cryptoProvider.set({ subtle: bridged, getRandomValues: base.getRandomValues.bind(base), randomUUID: base.randomUUID.bind(base) } as unknown as webcrypto.Crypto);
  installed = true;
}

/**
 * A stand-in private CryptoKey whose signatures are made by `signer`. Only RSASSA-PKCS1-v1_5 and
 * ECDSA P-256 with SHA-256 issue certificates in the SSMAX profile.
 */
export function signerIssuingKey(signer: Signer): CryptoKey {
  const alg = signer.algorithm;
  if (alg.hash !== 'SHA-256' || alg.name === 'RSA-PSS') throw new ProfileError('CA keys sign certificates with RSASSA-PKCS1-v1_5 or ECDSA P-256, SHA-256.');
  install();
  const algorithm =
    alg.name === 'ECDSA'
      ? { name: 'ECDSA', namedCurve: 'P-256' }
      : { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: { name: 'SHA-256' } };
  const key = Object.freeze({ type: 'private', extractable: false, algorithm, usages: ['sign'] }) as unknown as CryptoKey;
  signers.set(key, signer);
  return key;
}

/** A CertificateAuthority whose key is a Signer (its certificate is the Signer's). */
export function authorityFromSigner(signer: Signer): CertificateAuthority {
  return { certificate: new x509.X509Certificate(signer.certificate), privateKey: signerIssuingKey(signer) };
}
