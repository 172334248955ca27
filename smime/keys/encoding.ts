import { createHash, randomBytes } from 'node:crypto';
import { KeyOperationError } from './errors';
import type { HashName, SignatureAlgorithm } from './types';

/**
 * Encodings a token implementation needs around a raw RSA operation. PIV cards (and many PKCS#11
 * tokens) only expose RSA "decrypt/sign raw", so the host builds the EMSA block (RFC 8017 §9).
 */

const hashLength: Record<HashName, number> = { 'SHA-256': 32, 'SHA-384': 48, 'SHA-512': 64 };

/** node:crypto names of our hashes. */
export const nodeHashName: Record<HashName, string> = { 'SHA-256': 'sha256', 'SHA-384': 'sha384', 'SHA-512': 'sha512' };

export function digestLength(hash: HashName): number {
  return hashLength[hash];
}

export function digest(hash: HashName, data: Uint8Array): Uint8Array {
  return createHash(nodeHashName[hash]).update(data).digest();
}

// DER prefix of DigestInfo ::= SEQUENCE { AlgorithmIdentifier (with NULL params), OCTET STRING } (RFC 8017 §9.2 note 1).
const digestInfoPrefix: Record<HashName, string> = {
  'SHA-256': '3031300d060960864801650304020105000420',
  'SHA-384': '3041300d060960864801650304020205000430',
  'SHA-512': '3051300d060960864801650304020305000440',
};

/** DER DigestInfo for a digest (what RSASSA-PKCS1-v1_5 pads). */
export function encodeDigestInfo(hash: HashName, digestValue: Uint8Array): Uint8Array {
  checkDigestLength(hash, digestValue);
  return Buffer.concat([Buffer.from(digestInfoPrefix[hash], 'hex'), digestValue]);
}

/** EMSA-PKCS1-v1_5 (RFC 8017 §9.2): 00 01 FF..FF 00 DigestInfo, `modulusLength` bytes, ready for raw RSA. */
export function encodeEmsaPkcs1v15(hash: HashName, digestValue: Uint8Array, modulusLength: number): Uint8Array {
  const t = encodeDigestInfo(hash, digestValue);
  if (modulusLength < t.length + 11) throw new KeyOperationError('The RSA key is too small for this hash.');
  const em = Buffer.alloc(modulusLength, 0xff);
  em[0] = 0x00;
  em[1] = 0x01;
  em[modulusLength - t.length - 1] = 0x00;
  Buffer.from(t).copy(em, modulusLength - t.length);
  return em;
}

/** MGF1 (RFC 8017 B.2.1). */
export function mgf1(hash: HashName, seed: Uint8Array, length: number): Buffer {
  const out = Buffer.alloc(length);
  const counter = Buffer.alloc(4);
  for (let offset = 0, i = 0; offset < length; i++) {
    counter.writeUInt32BE(i, 0);
    const block = createHash(nodeHashName[hash]).update(seed).update(counter).digest();
    offset += block.copy(out, offset);
  }
  return out;
}

/**
 * EMSA-PSS-ENCODE (RFC 8017 §9.1.1) with MGF1 over `hash`. Returns EM of ceil((modulusBits-1)/8)
 * bytes; left-pad to the modulus length before the raw RSA operation when that is one byte longer.
 * `salt` is for tests only (deterministic vectors); production leaves it random.
 */
export function encodeEmsaPss(hash: HashName, digestValue: Uint8Array, modulusBits: number, saltLength: number, salt?: Uint8Array): Uint8Array {
  checkDigestLength(hash, digestValue);
  const hLen = hashLength[hash];
  const emBits = modulusBits - 1;
  const emLen = Math.ceil(emBits / 8);
  if (emLen < hLen + saltLength + 2) throw new KeyOperationError('The RSA key is too small for this PSS salt length.');
  const s = salt ?? randomBytes(saltLength);
  if (s.length !== saltLength) throw new KeyOperationError('PSS salt has the wrong length.');
  const h = createHash(nodeHashName[hash]).update(Buffer.alloc(8)).update(digestValue).update(s).digest();
  const db = Buffer.alloc(emLen - hLen - 1);
  db[emLen - saltLength - hLen - 2] = 0x01;
  Buffer.from(s).copy(db, db.length - saltLength);
  const mask = mgf1(hash, h, db.length);
  for (let i = 0; i < db.length; i++) db[i] = (db[i] ?? 0) ^ (mask[i] ?? 0);
  db[0] = (db[0] ?? 0) & (0xff >> (8 * emLen - emBits));
  return Buffer.concat([db, h, Buffer.from([0xbc])]);
}

/**
 * Produces a CMS RSA signature through a raw RSA private operation (what a PIV card offers):
 * builds the EMSA block for `algorithm`, left-pads it to the modulus length and calls `rawRsa`.
 */
export async function signWithRawRsa(
  algorithm: SignatureAlgorithm,
  digestValue: Uint8Array,
  modulusBits: number,
  rawRsa: (block: Uint8Array) => Promise<Uint8Array>,
): Promise<Uint8Array> {
  const k = Math.ceil(modulusBits / 8);
  let block: Uint8Array;
  if (algorithm.name === 'RSASSA-PKCS1-v1_5') block = encodeEmsaPkcs1v15(algorithm.hash, digestValue, k);
  else if (algorithm.name === 'RSA-PSS') block = leftPad(encodeEmsaPss(algorithm.hash, digestValue, modulusBits, algorithm.saltLength), k);
  else throw new KeyOperationError('A raw RSA operation cannot make an ECDSA signature.');
  const signature = await rawRsa(block);
  return leftPad(signature, k);
}

/** Converts an ECDSA signature given as r || s (fixed-size halves, as WebCrypto and some tokens return it) to DER. */
export function ecdsaRawToDer(raw: Uint8Array): Uint8Array {
  if (raw.length === 0 || raw.length % 2 !== 0) throw new KeyOperationError('ECDSA signature has an odd length.');
  const half = raw.length / 2;
  const int = (bytes: Uint8Array): Buffer => {
    let i = 0;
    while (i < bytes.length - 1 && bytes[i] === 0) i++;
    const body = Buffer.from(bytes.subarray(i));
    const needsZero = ((body[0] ?? 0) & 0x80) !== 0;
    const value = needsZero ? Buffer.concat([Buffer.from([0]), body]) : body;
    return Buffer.concat([Buffer.from([0x02, value.length]), value]);
  };
  const seq = Buffer.concat([int(raw.subarray(0, half)), int(raw.subarray(half))]);
  return Buffer.concat([Buffer.from([0x30, seq.length]), seq]);
}

export function leftPad(bytes: Uint8Array, length: number): Uint8Array {
  if (bytes.length === length) return bytes;
  if (bytes.length > length) throw new KeyOperationError('Key operation returned more bytes than the modulus.');
  const out = Buffer.alloc(length);
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).copy(out, length - bytes.length);
  return out;
}

function checkDigestLength(hash: HashName, digestValue: Uint8Array): void {
  if (digestValue.length !== hashLength[hash]) throw new KeyOperationError(`The digest is not a ${hash} value.`);
}

/** Converts a DER Ecdsa-Sig-Value to r || s with halves of `size` bytes (WebCrypto's ECDSA form). */
export function ecdsaDerToRaw(der: Uint8Array, size: number): Uint8Array {
  const fail = (): never => {
    throw new KeyOperationError('ECDSA signature is not a DER SEQUENCE of two INTEGERs.');
  };
  if (der[0] !== 0x30) fail();
  let p = der[1] !== undefined && der[1] < 0x80 ? 2 : der[1] === 0x81 ? 3 : fail();
  const out = Buffer.alloc(size * 2);
  for (let half = 0; half < 2; half++) {
    if (der[p] !== 0x02) fail();
    const len = der[p + 1] ?? fail();
    let body = der.subarray(p + 2, p + 2 + len);
    if (body.length !== len) fail();
    while (body.length > size && body[0] === 0) body = body.subarray(1);
    if (body.length > size) fail();
    Buffer.from(body).copy(out, half * size + size - body.length);
    p += 2 + len;
  }
  if (p !== der.length) fail();
  return out;
}
