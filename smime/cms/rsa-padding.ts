import { createHash, randomBytes } from 'node:crypto';
import { nodeHashName, type HashName } from '../keys';

/** SHA-1 is accepted for OAEP and the ECDH KDF of received messages only (collisions do not matter there). */
export type KdfHash = HashName | 'SHA-1';
export const nodeName = (h: KdfHash): string => (h === 'SHA-1' ? 'sha1' : nodeHashName[h]);

function mgf1(hash: KdfHash, seed: Uint8Array, length: number): Buffer {
  const out = Buffer.alloc(length);
  const counter = Buffer.alloc(4);
  for (let offset = 0, i = 0; offset < length; i++) {
    counter.writeUInt32BE(i, 0);
    offset += createHash(nodeName(hash)).update(seed).update(counter).digest().copy(out, offset);
  }
  return out;
}

/**
 * Host-side removal of RSA encryption padding after a raw RSA private operation (cards only do
 * raw RSA). Both decoders examine every byte whatever the outcome and combine the checks without
 * early exits, so timing reveals little about where the padding failed (Bleichenbacher / Manger).
 * "Constant-time-ish": JS gives no hard guarantees, and the callers add implicit rejection.
 */

/** EME-OAEP decoding (RFC 8017 §7.1.2), empty label. Returns undefined on any error. */
export function oaepDecode(em: Uint8Array, hash: KdfHash): Uint8Array | undefined {
  const hLen = createHash(nodeName(hash)).digest().length;
  const k = em.length;
  if (k < 2 * hLen + 2) return undefined;
  const lHash = createHash(nodeName(hash)).digest();
  const maskedSeed = em.subarray(1, 1 + hLen);
  const maskedDb = em.subarray(1 + hLen);
  const seedMask = mgf1(hash, maskedDb, hLen);
  const seed = Buffer.alloc(hLen);
  for (let i = 0; i < hLen; i++) seed[i] = (maskedSeed[i] ?? 0) ^ (seedMask[i] ?? 0);
  const dbMask = mgf1(hash, seed, maskedDb.length);
  const db = Buffer.alloc(maskedDb.length);
  for (let i = 0; i < db.length; i++) db[i] = (maskedDb[i] ?? 0) ^ (dbMask[i] ?? 0);

  let bad = em[0] ?? 1; // Y must be 0
  for (let i = 0; i < hLen; i++) bad |= (db[i] ?? 0) ^ (lHash[i] ?? 0);
  // Find the 0x01 separator after PS (zeros); any other non-zero byte before it is an error.
  let found = 0;
  let index = 0;
  let psBad = 0;
  for (let i = hLen; i < db.length; i++) {
    const b = db[i] ?? 0;
    const isOne = b === 1 ? 1 : 0;
    const isZero = b === 0 ? 1 : 0;
    const first = isOne & (found ^ 1);
    index = first ? i : index;
    psBad |= (found ^ 1) & (isOne ^ 1) & (isZero ^ 1);
    found |= isOne;
  }
  bad |= psBad | (found ^ 1);
  return bad === 0 ? db.subarray(index + 1) : undefined;
}

/**
 * EME-PKCS1-v1_5 decoding (RFC 8017 §7.2.2) with implicit rejection: when the padding is wrong, or
 * the key has not the expected length, returns random bytes of `expectedLength` instead of failing,
 * so that the error surfaces later as an indistinguishable content-decryption failure (RFC 3218 §2.3.2).
 */
export function pkcs1v15DecodeImplicit(em: Uint8Array, expectedLength: number): Uint8Array {
  const fallback = randomBytes(expectedLength);
  let bad = (em[0] ?? 1) | ((em[1] ?? 0) ^ 2);
  let found = 0;
  let index = 0;
  for (let i = 2; i < em.length; i++) {
    const isZero = em[i] === 0 ? 1 : 0;
    const first = isZero & (found ^ 1);
    index = first ? i : index;
    found |= isZero;
  }
  bad |= found ^ 1;
  bad |= index < 10 ? 1 : 0; // at least 8 bytes of PS
  bad |= em.length - index - 1 !== expectedLength ? 1 : 0;
  const message = em.subarray(em.length - expectedLength);
  const out = Buffer.alloc(expectedLength);
  for (let i = 0; i < expectedLength; i++) out[i] = bad ? (fallback[i] ?? 0) : (message[i] ?? 0);
  return out;
}
