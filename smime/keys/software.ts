import { X509Certificate, constants, createECDH, createPrivateKey, createPublicKey, privateDecrypt, sign as nodeSign, timingSafeEqual, type KeyObject } from 'node:crypto';
import { digest, nodeHashName } from './encoding';
import { KeyOperationError, UnsupportedKeyError } from './errors';
import type { EcdhDecryptor, HashName, RsaDecryptor, SignRequest, SignatureAlgorithm, Signer } from './types';

/**
 * Software keys over node:crypto, for tests and for an org node that keeps its keys in an
 * (encrypted) key file. Cards and PKCS#11 tokens implement the same interfaces in native/.
 */

/** A PKCS#8 private key given as DER bytes, a PEM string, or an already loaded KeyObject. */
export type Pkcs8Input = Uint8Array | string | KeyObject;

function loadPrivateKey(input: Pkcs8Input): KeyObject {
  try {
    if (typeof input === 'string') return createPrivateKey({ key: input, format: 'pem' });
    if (input instanceof Uint8Array) return createPrivateKey({ key: Buffer.from(input), format: 'der', type: 'pkcs8' });
    return input;
  } catch (cause) {
    throw new UnsupportedKeyError('The private key could not be read (expected PKCS#8).', { cause });
  }
}

function toDer(certificate: Uint8Array | string): Uint8Array {
  if (typeof certificate !== 'string') return certificate;
  try {
    return new Uint8Array(new X509Certificate(certificate).raw);
  } catch (cause) {
    throw new UnsupportedKeyError('The certificate could not be read.', { cause });
  }
}

/** Checks the certificate carries the public half of `key`, so a mismatched pair fails early and clearly. */
function checkPair(key: KeyObject, certificate: Uint8Array): void {
  let certSpki: Buffer;
  try {
    certSpki = new X509Certificate(certificate).publicKey.export({ type: 'spki', format: 'der' });
  } catch (cause) {
    throw new UnsupportedKeyError('The certificate could not be read.', { cause });
  }
  const keySpki = createPublicKeyDer(key);
  if (certSpki.length !== keySpki.length || !timingSafeEqual(certSpki, keySpki)) {
    throw new UnsupportedKeyError('The private key does not belong to the certificate.');
  }
}

function createPublicKeyDer(key: KeyObject): Buffer {
  return createPublicKey(key).export({ type: 'spki', format: 'der' });
}

/** Checks the key is in the SSMAX profile: RSA ≥ 2048 bits, or EC on P-256. */
function profileKeyType(key: KeyObject): { type: 'rsa'; bits: number } | { type: 'p256' } {
  if (key.asymmetricKeyType === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < 2048) throw new UnsupportedKeyError(`RSA keys must have at least 2048 bits (this one has ${bits}).`);
    return { type: 'rsa', bits };
  }
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return { type: 'p256' };
  throw new UnsupportedKeyError(`Key type ${key.asymmetricKeyType ?? 'unknown'} is not in the SSMAX profile (RSA-2048+ or P-256).`);
}

export interface SoftwareSignerOptions {
  /** RSA only: PKCS#1 v1.5 (default, widest interop) or PSS. */
  readonly rsaScheme?: 'pkcs1' | 'pss';
  /** Default SHA-256. */
  readonly hash?: HashName;
}

export class SoftwareSigner implements Signer {
  readonly certificate: Uint8Array;
  readonly algorithm: SignatureAlgorithm;
  readonly #key: KeyObject;

  constructor(privateKey: Pkcs8Input, certificate: Uint8Array | string, options: SoftwareSignerOptions = {}) {
    this.#key = loadPrivateKey(privateKey);
    this.certificate = toDer(certificate);
    checkPair(this.#key, this.certificate);
    const hash = options.hash ?? 'SHA-256';
    const kind = profileKeyType(this.#key);
    if (kind.type === 'p256') this.algorithm = { name: 'ECDSA', hash, namedCurve: 'P-256' };
    // Salt length = hash length: what RFC 4056 / RFC 8702 recommend and what OpenSSL verifies by default.
    else if (options.rsaScheme === 'pss') this.algorithm = { name: 'RSA-PSS', hash, saltLength: digest(hash, new Uint8Array()).length };
    else this.algorithm = { name: 'RSASSA-PKCS1-v1_5', hash };
  }

  async sign(request: SignRequest): Promise<Uint8Array> {
    const expected = digest(this.algorithm.hash, request.data);
    if (expected.length !== request.digest.length || !timingSafeEqual(expected, request.digest)) {
      throw new KeyOperationError('Sign request is inconsistent: the digest is not the hash of the data.');
    }
    const alg = this.algorithm;
    try {
      const signature =
        alg.name === 'ECDSA'
          ? nodeSign(nodeHashName[alg.hash], request.data, { key: this.#key, dsaEncoding: 'der' })
          : nodeSign(nodeHashName[alg.hash], request.data, {
              key: this.#key,
              padding: alg.name === 'RSA-PSS' ? constants.RSA_PKCS1_PSS_PADDING : constants.RSA_PKCS1_PADDING,
              ...(alg.name === 'RSA-PSS' ? { saltLength: alg.saltLength } : {}),
            });
      return new Uint8Array(signature);
    } catch (cause) {
      throw new KeyOperationError('Signing failed.', { cause });
    }
  }
}

/** Creates the software decryptor matching the key type (RSA → raw RSA, P-256 → ECDH). */
export function softwareDecryptor(privateKey: Pkcs8Input, certificate: Uint8Array | string): RsaDecryptor | EcdhDecryptor {
  const key = loadPrivateKey(privateKey);
  const kind = profileKeyType(key);
  return kind.type === 'rsa' ? new SoftwareRsaDecryptor(key, certificate) : new SoftwareEcdhDecryptor(key, certificate);
}

export class SoftwareRsaDecryptor implements RsaDecryptor {
  readonly kind = 'rsa' as const;
  readonly certificate: Uint8Array;
  readonly modulusLength: number;
  readonly #key: KeyObject;

  constructor(privateKey: Pkcs8Input, certificate: Uint8Array | string) {
    this.#key = loadPrivateKey(privateKey);
    this.certificate = toDer(certificate);
    checkPair(this.#key, this.certificate);
    const kind = profileKeyType(this.#key);
    if (kind.type !== 'rsa') throw new UnsupportedKeyError('This key is not an RSA key.');
    this.modulusLength = Math.ceil(kind.bits / 8);
  }

  async rsaRawDecrypt(block: Uint8Array): Promise<Uint8Array> {
    if (block.length !== this.modulusLength) throw new KeyOperationError('The RSA input block does not have the modulus length.');
    try {
      // RSA_NO_PADDING = RSADP only; the CMS layer removes OAEP / PKCS#1 v1.5 itself, as with a card.
      return new Uint8Array(privateDecrypt({ key: this.#key, padding: constants.RSA_NO_PADDING }, block));
    } catch (cause) {
      throw new KeyOperationError('The RSA private operation failed.', { cause });
    }
  }
}

export class SoftwareEcdhDecryptor implements EcdhDecryptor {
  readonly kind = 'ecdh' as const;
  readonly namedCurve = 'P-256' as const;
  readonly certificate: Uint8Array;
  readonly #privateScalar: Buffer;

  constructor(privateKey: Pkcs8Input, certificate: Uint8Array | string) {
    const key = loadPrivateKey(privateKey);
    this.certificate = toDer(certificate);
    checkPair(key, this.certificate);
    if (profileKeyType(key).type !== 'p256') throw new UnsupportedKeyError('This key is not a P-256 key.');
    const d = key.export({ format: 'jwk' }).d;
    if (!d) throw new UnsupportedKeyError('The EC private key has no private scalar.');
    this.#privateScalar = Buffer.from(d, 'base64url');
  }

  async ecdh(peerPublicPoint: Uint8Array): Promise<Uint8Array> {
    try {
      const ecdh = createECDH('prime256v1');
      ecdh.setPrivateKey(this.#privateScalar);
      // computeSecret checks the point is on the curve (OpenSSL EC_POINT_oct2point) and returns x(d·Q).
      return new Uint8Array(ecdh.computeSecret(Buffer.from(peerPublicPoint)));
    } catch (cause) {
      throw new KeyOperationError('ECDH with the originator key failed (invalid public point?).', { cause });
    }
  }
}
