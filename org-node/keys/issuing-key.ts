import type { webcrypto } from 'node:crypto';
import { x509 } from '../../smime/x509';
import type { OrgKeyAlgorithm } from './store';

/**
 * Lets the `smime/pki` builders issue with a key they cannot hold as a WebCrypto key (a PKCS#11
 * token key). @peculiar/x509 signs certificates, CRLs and CSRs with `crypto.subtle.sign(alg, key,
 * tbs)` on its registered crypto provider; we register a provider whose `sign` recognises our
 * token-backed keys and sends the to-be-signed bytes to the token, and passes everything else to
 * Node's WebCrypto unchanged. The key object only carries the algorithm the builders read.
 *
 * This belongs in smime/pki (an issuer given as a `Signer`); it lives here until the profile
 * builders take one.
 */

type CryptoKey = webcrypto.CryptoKey;

/** Signs `data` (SHA-256) and returns the signature in WebCrypto form: RSA octets, ECDSA r||s. */
export type RawSign = (data: Uint8Array) => Promise<Uint8Array>;

const tokenKeys = new WeakMap<object, RawSign>();
let installed = false;

function install(): void {
  if (installed) return;
  const base = x509.cryptoProvider.get();
  const subtle = base.subtle;
  const bridged = new Proxy(subtle, {
    get(target, prop) {
      if (prop === 'sign') {
        return async (algorithm: unknown, key: CryptoKey, data: ArrayBuffer | ArrayBufferView): Promise<ArrayBuffer> => {
          const sign = tokenKeys.get(key);
          if (!sign) return target.sign(algorithm as webcrypto.AlgorithmIdentifier, key, data);
          const bytes = ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
          const signature = await sign(bytes);
          return signature.slice().buffer;
        };
      }
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  const provider = {
    subtle: bridged,
    getRandomValues: base.getRandomValues.bind(base),
    randomUUID: base.randomUUID.bind(base),
  } as unknown as webcrypto.Crypto;
  x509.cryptoProvider.set(provider);
  installed = true;
}

/** A non-extractable private "CryptoKey" whose signatures are made by `sign`. */
export function tokenIssuingKey(algorithm: OrgKeyAlgorithm, sign: RawSign): CryptoKey {
  install();
  const keyAlgorithm =
    algorithm === 'P-256'
      ? { name: 'ECDSA', namedCurve: 'P-256' }
      : { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: { name: 'SHA-256' } };
  const key = Object.freeze({ type: 'private', extractable: false, algorithm: keyAlgorithm, usages: ['sign'] }) as unknown as CryptoKey;
  tokenKeys.set(key, sign);
  return key;
}
