import { X509Certificate, constants, createHash, diffieHellman, generateKeyPairSync, publicEncrypt, randomBytes, verify, type KeyObject } from 'node:crypto';
import { encodeEmsaPkcs1v15, type SignatureAlgorithm } from '../../smime/keys';
import { signatureAlgorithmIdentifier } from '../../smime/cms/algorithms';
import { bitString, ctx, der, integer, seq } from '../../smime/cms/der';
import { x509 } from '../../smime/x509';
import {
  ORG_CA_SLOT,
  type PivSession,
  type ManagementKeyAlgorithm,
  type PinPolicy,
  type PivKeyAlgorithm,
} from './piv-session';

/**
 * Enrollment primitives for IT (SPEC §2): take a card from factory values to the organisation's
 * own PIN, PUK and management key; generate the signature (9C) and key-management (9D) keys on
 * the card and prove possession with a card-signed PKCS#10 request; write the issued certificates
 * and the org CA (certificate object of retired slot 95, see piv-session.ts). Every step runs in
 * the caller's card transaction.
 */
export interface ManagementKey {
  algorithm: ManagementKeyAlgorithm;
  key: Uint8Array;
}

export interface CardInitialisation {
  currentPin: string;
  currentPuk: string;
  currentManagementKey: Uint8Array;
  newPin: string;
  newPuk: string;
  newManagementKey: ManagementKey;
}

/** Sets the organisation's management key, PIN and PUK (in that order: a failure leaves the card usable). */
export async function initialiseCard(piv: PivSession, init: CardInitialisation): Promise<void> {
  await piv.select();
  await piv.authenticateManagementKey(init.currentManagementKey);
  await piv.setManagementKey(init.newManagementKey.algorithm, init.newManagementKey.key);
  await piv.changePin(init.currentPin, init.newPin);
  await piv.changePuk(init.currentPuk, init.newPuk);
}

export interface KeyRequest {
  slot: number;
  algorithm: PivKeyAlgorithm;
  /** Subject as RFC 4514 text, e.g. "CN=Taro Yamada, O=Example Corp". The CA sets the real profile. */
  subject: string;
  pin: string;
  managementKey: Uint8Array;
  pinPolicy?: PinPolicy;
}

/** Generates a key pair in `slot` and returns its public key and a PKCS#10 request signed by the card. */
export async function generateKeyWithCsr(
  piv: PivSession,
  req: KeyRequest,
): Promise<{ publicKey: KeyObject; csr: Uint8Array }> {
  await piv.select();
  await piv.authenticateManagementKey(req.managementKey);
  const publicKey = await piv.generateKey(req.slot, req.algorithm, { pinPolicy: req.pinPolicy });
  const csr = await buildCsr(piv, { slot: req.slot, publicKey, subject: req.subject, pin: req.pin });
  return { publicKey, csr };
}

/** A PKCS#10 request for the key in `slot`, signed on the card (proof of possession). Verifies the PIN first. */
export async function buildCsr(
  piv: PivSession,
  req: { slot: number; publicKey: KeyObject; subject: string; pin: string },
): Promise<Uint8Array> {
  const algorithm: PivKeyAlgorithm = req.publicKey.asymmetricKeyType === 'rsa' ? 'rsa2048' : 'p256';
  const spki = new Uint8Array(req.publicKey.export({ type: 'spki', format: 'der' }));
  const subject = new Uint8Array(new x509.Name(req.subject).toArrayBuffer());
  const info = seq(integer(0), subject, spki, der(ctx(0)));
  const sigAlg: SignatureAlgorithm =
    algorithm === 'p256'
      ? { name: 'ECDSA', hash: 'SHA-256', namedCurve: 'P-256' }
      : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  const digest = createHash('sha256').update(info).digest();
  await piv.verifyPin(req.pin);
  const signature =
    algorithm === 'p256'
      ? await piv.ecdsaSign(req.slot, digest)
      : await piv.rsaRaw(req.slot, encodeEmsaPkcs1v15('SHA-256', digest, 256));
  return seq(info, signatureAlgorithmIdentifier(sigAlg), bitString(signature));
}

/** Writes an issued certificate into its slot. */
export async function importCertificate(
  piv: PivSession,
  slot: number,
  certificate: Uint8Array,
  managementKey: Uint8Array,
): Promise<void> {
  await piv.select();
  await piv.authenticateManagementKey(managementKey);
  await piv.writeCertificate(slot, certificate);
}

/** Stores the org CA certificate on the card (retired slot 95's certificate object). */
export async function writeOrgCa(
  piv: PivSession,
  certificate: Uint8Array,
  managementKey: Uint8Array,
): Promise<void> {
  await importCertificate(piv, ORG_CA_SLOT, certificate, managementKey);
}

export async function readOrgCa(piv: PivSession): Promise<Uint8Array | undefined> {
  await piv.select();
  return piv.readCertificate(ORG_CA_SLOT);
}

/**
 * After writing: the card really holds the keys of its certificates — a challenge signed with 9C
 * verifies with the 9C certificate, and 9D decrypts (RSA) or agrees (ECDH) what its certificate's
 * public key encrypted. Throws EnrollmentCheckFailed otherwise.
 */
export async function checkEnrolledCard(piv: PivSession, pin: string): Promise<void> {
  await piv.select();
  await piv.verifyPin(pin);
  const certOf = async (slot: number, what: string): Promise<X509Certificate> => {
    const der = await piv.readCertificate(slot);
    if (!der) throw new EnrollmentCheckFailed(`the ${what} certificate is not on the card`);
    return new X509Certificate(der);
  };
  const sig = await certOf(0x9c, '9C');
  const challenge = randomBytes(32);
  const digest = createHash('sha256').update(challenge).digest();
  const sigKey = sig.publicKey;
  if (sigKey.asymmetricKeyType === 'rsa') {
    const raw = await piv.rsaRaw(0x9c, encodeEmsaPkcs1v15('SHA-256', digest, 256));
    if (!verify('sha256', challenge, sigKey, Buffer.from(raw))) throw new EnrollmentCheckFailed('the 9C key does not match its certificate');
  } else {
    const ecdsa = await piv.ecdsaSign(0x9c, digest);
    if (!verify('sha256', challenge, { key: sigKey, dsaEncoding: 'der' }, Buffer.from(ecdsa))) throw new EnrollmentCheckFailed('the 9C key does not match its certificate');
  }
  const km = await certOf(0x9d, '9D');
  const kmKey = km.publicKey;
  if (kmKey.asymmetricKeyType === 'rsa') {
    const secret = randomBytes(32);
    const block = publicEncrypt({ key: kmKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, secret);
    const plain = await piv.rsaRaw(0x9d, block);
    // The card returns the raw OAEP block; Node removes the padding with the same key size.
    if (!oaepDecodes(plain, secret)) throw new EnrollmentCheckFailed('the 9D key does not match its certificate');
  } else {
    const eph = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const point = Buffer.from(eph.publicKey.export({ format: 'jwk' }).x!, 'base64url');
    const y = Buffer.from(eph.publicKey.export({ format: 'jwk' }).y!, 'base64url');
    const z = await piv.ecdh(0x9d, Buffer.concat([Buffer.from([4]), point, y]));
    const expected = diffieHellman({ privateKey: eph.privateKey, publicKey: kmKey });
    if (!Buffer.from(z).equals(expected)) throw new EnrollmentCheckFailed('the 9D key does not match its certificate');
  }
}

/** OAEP-SHA256 decoding of a raw RSA block, by hand: the card does the raw RSA, the padding is ours. */
function oaepDecodes(em: Uint8Array, expected: Buffer): boolean {
  const k = em.length;
  const hLen = 32;
  if (k < 2 * hLen + 2 || em[0] !== 0) return false;
  const maskedSeed = Buffer.from(em.subarray(1, 1 + hLen));
  const maskedDb = Buffer.from(em.subarray(1 + hLen));
  const mgf1 = (seed: Buffer, len: number): Buffer => {
    const out: Buffer[] = [];
    for (let c = 0; out.length * hLen < len; c++) {
      const cnt = Buffer.alloc(4);
      cnt.writeUInt32BE(c);
      out.push(createHash('sha256').update(seed).update(cnt).digest());
    }
    return Buffer.concat(out).subarray(0, len);
  };
  const seed = Buffer.from(maskedSeed.map((b, i) => b ^ mgf1(maskedDb, hLen)[i]!));
  const db = Buffer.from(maskedDb.map((b, i) => b ^ mgf1(seed, maskedDb.length)[i]!));
  const lHash = createHash('sha256').update(Buffer.alloc(0)).digest();
  if (!db.subarray(0, hLen).equals(lHash)) return false;
  const one = db.indexOf(1, hLen);
  return one >= 0 && db.subarray(one + 1).equals(expected);
}

export class EnrollmentCheckFailed extends Error {
  override readonly name = 'EnrollmentCheckFailed';
}
