import { constants, createCipheriv, createDecipheriv, createECDH, createHash, createPublicKey, publicEncrypt, randomBytes, type KeyObject } from 'node:crypto';
import { leftPad, type Decryptor } from '../keys';
import { readDigestAlgorithm, rejectWeak } from './algorithms';
import { signedAttributesForSignature } from './attributes';
import { equalBytes, readCertificateIds, type CertificateIds } from './certificate';
import { encodeContentInfo, readContentInfo } from './content-info';
import { Chunks, Tag, bitString, childrenOf, ctx, decodeOid, der, expectTag, integer, nullValue, octets, oid, readInteger, seq, tlv, type Element } from './der';
import { CmsFormatError, DecryptionError, UnsupportedAlgorithmError } from './errors';
import { OID } from './oids';
import { nodeName, oaepDecode, pkcs1v15DecodeImplicit, type KdfHash } from './rsa-padding';

/**
 * Encryption and decryption of CMS content (RFC 5652 §6 EnvelopedData, RFC 5083/5084
 * AuthEnvelopedData with AES-GCM). AuthEnvelopedData is built here on our own DER because PKI.js's
 * "AES-GCM inside EnvelopedData" is not interoperable. Recipients: RSA-OAEP with SHA-256 and
 * MGF1-SHA-256 (said explicitly: PKI.js defaults to SHA-512), and ECDH P-256 per RFC 5753 with
 * dhSinglePass-stdDH-sha256kdf-scheme and AES-256 key wrap. Decryption goes through a
 * `Decryptor` (raw RSA or ECDH), so a staff card can be the key.
 *
 * Accepted on decryption only (legacy / OpenSSL defaults, where SHA-1 collisions do not matter):
 * PKCS#1 v1.5 key transport, OAEP with SHA-1, the ECDH SHA-1 KDF, AES-CBC, 3DES-CBC. Never emitted.
 * Rejected: RC2, DES and anything unknown (`UnsupportedAlgorithmError`).
 */

export type EnvelopeKind = 'auth-enveloped' | 'enveloped';

export interface EnvelopeOptions {
  readonly content: Uint8Array;
  /** Recipient certificates (DER): RSA keys get RSA-OAEP, P-256 keys get ECDH. */
  readonly recipients: readonly Uint8Array[];
  /** Default 'auth-enveloped' (AES-256-GCM); 'enveloped' is AES-256-CBC for interop. */
  readonly kind?: EnvelopeKind;
  readonly contentType?: string;
  /**
   * RSA key transport: RSA-OAEP with SHA-256 (default), or PKCS#1 v1.5 for recipients that lack OAEP
   * (gpgsm 2.2 / libksba 1.6 decrypt only PKCS#1 v1.5 with CBC). Encrypting with v1.5 is safe; the
   * padding-oracle risk is on the decrypting side, which we handle with implicit rejection.
   */
  readonly rsaKeyTransport?: 'oaep' | 'pkcs1v15';
}

const OAEP_SHA256_PARAMS = (): Uint8Array => {
  const sha256 = seq(oid(OID.sha256));
  return seq(der(ctx(0), sha256), der(ctx(1), seq(oid(OID.mgf1), sha256)));
};

function recipientKey(cert: CertificateIds): KeyObject {
  try {
    return createPublicKey({ key: Buffer.from(cert.spki), format: 'der', type: 'spki' });
  } catch (cause) {
    throw new UnsupportedAlgorithmError('recipient key', "The recipient's key type is not supported.", { cause });
  }
}

function ktri(cert: CertificateIds, key: KeyObject, cek: Uint8Array, transport: 'oaep' | 'pkcs1v15'): Uint8Array {
  if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) throw new UnsupportedAlgorithmError('weak key', "The recipient's RSA key is shorter than 2048 bits.");
  if (transport === 'pkcs1v15') {
    const encryptedKey = publicEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, cek);
    return seq(integer(0), seq(cert.issuer, cert.serialNumberDer), seq(oid(OID.rsaEncryption), nullValue()), der(Tag.OCTET_STRING, encryptedKey));
  }
  const encryptedKey = publicEncrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, cek);
  return seq(integer(0), seq(cert.issuer, cert.serialNumberDer), seq(oid(OID.rsaesOaep), OAEP_SHA256_PARAMS()), der(Tag.OCTET_STRING, encryptedKey));
}

/** ECC-CMS-SharedInfo (RFC 5753 §7.2) and the ANSI X9.63 KDF (SEC 1 §3.6.1). */
function x963Kdf(hash: KdfHash, z: Uint8Array, keyWrapAlgorithm: Uint8Array, ukm: Uint8Array | undefined, keyLength: number): Uint8Array {
  const suppPubInfo = Buffer.alloc(4);
  suppPubInfo.writeUInt32BE(keyLength * 8, 0);
  // entityUInfo only when the message has a ukm: adding an empty one (as PKI.js does) breaks OpenSSL interop.
  const sharedInfo = seq(keyWrapAlgorithm, ...(ukm ? [der(ctx(0), der(Tag.OCTET_STRING, ukm))] : []), der(ctx(2), der(Tag.OCTET_STRING, suppPubInfo)));
  const out: Buffer[] = [];
  let have = 0;
  for (let counter = 1; have < keyLength; counter++) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter, 0);
    const block = createHash(nodeName(hash)).update(z).update(c).update(sharedInfo).digest();
    out.push(block);
    have += block.length;
  }
  return Buffer.concat(out).subarray(0, keyLength);
}

const WRAP_IV = Buffer.from('A6A6A6A6A6A6A6A6', 'hex');

function kari(cert: CertificateIds, key: KeyObject, cek: Uint8Array): Uint8Array {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new UnsupportedAlgorithmError(`recipient key ${key.asymmetricKeyType ?? ''}`, 'Only RSA and P-256 recipients are supported.');
  }
  const jwk = key.export({ format: 'jwk' });
  const recipientPoint = Buffer.concat([Buffer.of(4), Buffer.from(jwk.x ?? '', 'base64url'), Buffer.from(jwk.y ?? '', 'base64url')]);
  const ephemeral = createECDH('prime256v1');
  const ephemeralPoint = ephemeral.generateKeys();
  const z = ephemeral.computeSecret(recipientPoint);
  const keyWrap = seq(oid(OID.aes256Wrap));
  const kek = x963Kdf('SHA-256', z, keyWrap, undefined, 32);
  const cipher = createCipheriv('id-aes256-wrap', kek, WRAP_IV);
  const wrapped = Buffer.concat([cipher.update(cek), cipher.final()]);
  // originator [0] EXPLICIT OriginatorIdentifierOrKey { originatorKey [1] IMPLICIT OriginatorPublicKey }
  const originatorKey = der(ctx(1), seq(oid(OID.ecPublicKey)), bitString(ephemeralPoint));
  return der(
    ctx(1), // [1] KeyAgreeRecipientInfo
    integer(3),
    der(ctx(0), originatorKey),
    seq(oid(OID.dhSinglePassStdDhSha256Kdf), keyWrap),
    seq(seq(seq(cert.issuer, cert.serialNumberDer), der(Tag.OCTET_STRING, wrapped))),
  );
}

/** Encrypts content to the recipients. Returns ContentInfo(AuthEnvelopedData | EnvelopedData), DER. */
export function encryptContent(options: EnvelopeOptions): Uint8Array {
  if (options.recipients.length === 0) throw new UnsupportedAlgorithmError('no recipients', 'At least one recipient is needed.');
  const kind = options.kind ?? 'auth-enveloped';
  const contentType = options.contentType ?? OID.data;
  const cek = randomBytes(32);
  let hasKari = false;
  const recipientInfos = options.recipients.map((der_) => {
    const cert = readCertificateIds(der_);
    const key = recipientKey(cert);
    if (key.asymmetricKeyType === 'rsa') return ktri(cert, key, cek, options.rsaKeyTransport ?? 'oaep');
    hasKari = true;
    return kari(cert, key, cek);
  });
  if (kind === 'auth-enveloped') {
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', cek, nonce, { authTagLength: 16 });
    // Ciphertext chunks go into the output as they are: one copy of the content, into the final DER.
    const encrypted = new Chunks([cipher.update(options.content), cipher.final()]);
    const tag = cipher.getAuthTag();
    const algorithm = seq(oid(OID.aes256Gcm), seq(der(Tag.OCTET_STRING, nonce), integer(16)));
    const body = tlv(
      Tag.SEQUENCE,
      integer(0),
      der(Tag.SET, ...recipientInfos),
      tlv(Tag.SEQUENCE, oid(contentType), algorithm, tlv(ctx(0, false), encrypted)),
      der(Tag.OCTET_STRING, tag),
    );
    return encodeContentInfo(OID.authEnvelopedData, body).toBytes();
  }
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-256-cbc', cek, iv);
  const encrypted = new Chunks([cipher.update(options.content), cipher.final()]);
  const body = tlv(
    Tag.SEQUENCE,
    integer(hasKari ? 2 : 0), // RFC 5652 §6.1: version 2 when a RecipientInfo is not version 0
    der(Tag.SET, ...recipientInfos),
    tlv(Tag.SEQUENCE, oid(contentType), seq(oid(OID.aes256Cbc), der(Tag.OCTET_STRING, iv)), tlv(ctx(0, false), encrypted)),
  );
  return encodeContentInfo(OID.envelopedData, body).toBytes();
}

// ------------------------------------------------------------------ decryption

export interface DecryptedContent {
  readonly kind: EnvelopeKind;
  readonly contentType: string;
  readonly content: Uint8Array;
  /** Content-encryption algorithm OID (e.g. AES-256-GCM). */
  readonly contentEncryption: string;
  /** How the content key reached us. */
  readonly keyTransport: 'rsa-oaep' | 'rsa-pkcs1v15' | 'ecdh';
}

interface ContentCipher {
  readonly oid: string;
  readonly node: string;
  readonly keyLength: number;
  readonly mode: 'gcm' | 'cbc';
}

const CIPHERS: Record<string, ContentCipher> = {
  [OID.aes128Gcm]: { oid: OID.aes128Gcm, node: 'aes-128-gcm', keyLength: 16, mode: 'gcm' },
  [OID.aes192Gcm]: { oid: OID.aes192Gcm, node: 'aes-192-gcm', keyLength: 24, mode: 'gcm' },
  [OID.aes256Gcm]: { oid: OID.aes256Gcm, node: 'aes-256-gcm', keyLength: 32, mode: 'gcm' },
  [OID.aes128Cbc]: { oid: OID.aes128Cbc, node: 'aes-128-cbc', keyLength: 16, mode: 'cbc' },
  [OID.aes192Cbc]: { oid: OID.aes192Cbc, node: 'aes-192-cbc', keyLength: 24, mode: 'cbc' },
  [OID.aes256Cbc]: { oid: OID.aes256Cbc, node: 'aes-256-cbc', keyLength: 32, mode: 'cbc' },
  [OID.desEde3Cbc]: { oid: OID.desEde3Cbc, node: 'des-ede3-cbc', keyLength: 24, mode: 'cbc' },
};

const WRAPS: Record<string, { node: string; keyLength: number }> = {
  [OID.aes128Wrap]: { node: 'id-aes128-wrap', keyLength: 16 },
  [OID.aes192Wrap]: { node: 'id-aes192-wrap', keyLength: 24 },
  [OID.aes256Wrap]: { node: 'id-aes256-wrap', keyLength: 32 },
};

const KDF_HASH: Record<string, KdfHash> = {
  [OID.dhSinglePassStdDhSha256Kdf]: 'SHA-256',
  [OID.dhSinglePassStdDhSha384Kdf]: 'SHA-384',
  [OID.dhSinglePassStdDhSha512Kdf]: 'SHA-512',
  [OID.dhSinglePassStdDhSha1Kdf]: 'SHA-1',
};

function matchesRecipient(rid: Element, me: CertificateIds): boolean {
  if (rid.tag === Tag.SEQUENCE) {
    const [issuer, serial] = rid.children();
    return !!issuer && !!serial && equalBytes(issuer.raw, me.issuer) && readInteger(serial) === me.serialNumber;
  }
  // subjectKeyIdentifier [0] IMPLICIT (KTRI) or rKeyId [0] IMPLICIT RecipientKeyIdentifier (KARI)
  if (rid.tag === ctx(0, false)) return !!me.subjectKeyIdentifier && equalBytes(rid.value, me.subjectKeyIdentifier);
  if (rid.tag === ctx(0)) {
    const [ski] = rid.children();
    return !!ski && !!me.subjectKeyIdentifier && equalBytes(ski.value, me.subjectKeyIdentifier);
  }
  return false;
}

function readContentEncryption(eci: Element): { contentType: string; cipher: ContentCipher; params: Element | undefined; encrypted: Uint8Array } {
  const [typeEl, algEl, encEl] = childrenOf(eci, Tag.SEQUENCE, 'EncryptedContentInfo');
  const contentType = decodeOid(expectTag(typeEl, Tag.OID, 'contentType'));
  const [algOid, params] = childrenOf(algEl, Tag.SEQUENCE, 'contentEncryptionAlgorithm');
  const algorithm = decodeOid(expectTag(algOid, Tag.OID, 'content encryption OID'));
  const cipher = CIPHERS[algorithm];
  if (!cipher) rejectWeak(algorithm);
  if (!encEl || (encEl.tag !== ctx(0, false) && encEl.tag !== ctx(0))) throw new CmsFormatError('The encrypted message has no encrypted content.');
  return { contentType, cipher, params, encrypted: octets(encEl) };
}

async function unwrapKtri(fields: Element[], decryptor: Decryptor, keyLength: number): Promise<{ cek: Uint8Array; transport: 'rsa-oaep' | 'rsa-pkcs1v15' }> {
  if (decryptor.kind !== 'rsa') throw new DecryptionError('This message was encrypted to an RSA key, but the key offered is not RSA.');
  const [, , algEl, encKeyEl] = fields;
  const [algOid, params] = childrenOf(algEl, Tag.SEQUENCE, 'keyEncryptionAlgorithm');
  const alg = decodeOid(expectTag(algOid, Tag.OID, 'key encryption OID'));
  const encryptedKey = expectTag(encKeyEl, Tag.OCTET_STRING, 'encryptedKey').value;
  if (encryptedKey.length > decryptor.modulusLength) throw new DecryptionError('The encrypted key does not fit the RSA key.');
  const em = await decryptor.rsaRawDecrypt(leftPad(encryptedKey, decryptor.modulusLength));
  if (alg === OID.rsaEncryption) return { cek: pkcs1v15DecodeImplicit(em, keyLength), transport: 'rsa-pkcs1v15' };
  if (alg !== OID.rsaesOaep) rejectWeak(alg);
  let hash: KdfHash = 'SHA-1';
  let mgfHash: KdfHash = 'SHA-1';
  for (const f of params && params.tag === Tag.SEQUENCE ? params.children() : []) {
    const [inner] = f.children();
    if (f.tag === ctx(0) && inner) hash = oaepHash(inner);
    else if (f.tag === ctx(1) && inner) {
      const [mgfOid, mgfParams] = inner.children();
      if (!mgfOid || decodeOid(mgfOid) !== OID.mgf1 || !mgfParams) throw new UnsupportedAlgorithmError('OAEP mask generation other than MGF1');
      mgfHash = oaepHash(mgfParams);
    } else if (f.tag === ctx(2)) throw new UnsupportedAlgorithmError('OAEP with a label');
  }
  if (hash !== mgfHash) throw new UnsupportedAlgorithmError('OAEP with different hash and MGF1 hash');
  const cek = oaepDecode(em, hash);
  if (!cek) throw new DecryptionError('The message could not be decrypted with this key.');
  return { cek, transport: 'rsa-oaep' };
}

/** OAEP with SHA-1 is acceptable (no collision use); other digests go through the strict reader. */
function oaepHash(alg: Element): KdfHash {
  const [idEl] = alg.children();
  if (idEl && decodeOid(idEl) === OID.sha1) return 'SHA-1';
  return readDigestAlgorithm(alg);
}


async function unwrapKari(fields: Element[], decryptor: Decryptor, me: CertificateIds): Promise<Uint8Array | undefined> {
  let i = 1;
  const originatorWrap = expectTag(fields[i++], ctx(0), 'originator');
  let ukm: Uint8Array | undefined;
  if (fields[i]?.tag === ctx(1)) ukm = expectTag(fields[i++]?.children()[0], Tag.OCTET_STRING, 'ukm').value;
  const algEl = expectTag(fields[i++], Tag.SEQUENCE, 'keyEncryptionAlgorithm');
  const reks = childrenOf(fields[i++], Tag.SEQUENCE, 'recipientEncryptedKeys');
  const mine = reks.find((rek) => {
    const [rid] = rek.children();
    return !!rid && matchesRecipient(rid, me);
  });
  if (!mine) return undefined;
  if (decryptor.kind !== 'ecdh') throw new DecryptionError('This message was encrypted to an EC key, but the key offered is not EC.');
  const [algOid, wrapAlg] = algEl.children();
  const kdf = decodeOid(expectTag(algOid, Tag.OID, 'key agreement OID'));
  const kdfHash = KDF_HASH[kdf];
  if (!kdfHash) rejectWeak(kdf);
  const [wrapOid] = childrenOf(wrapAlg, Tag.SEQUENCE, 'key wrap algorithm');
  const wrap = WRAPS[decodeOid(expectTag(wrapOid, Tag.OID, 'key wrap OID'))];
  if (!wrap) throw new UnsupportedAlgorithmError('key wrap algorithm');
  const [originator] = originatorWrap.children();
  if (!originator || originator.tag !== ctx(1)) throw new UnsupportedAlgorithmError('static-static ECDH', 'Only ephemeral-static ECDH (originatorKey) is supported.');
  const [, pointEl] = originator.children();
  const point = expectTag(pointEl, Tag.BIT_STRING, 'originator public key').value.subarray(1);
  const z = await decryptor.ecdh(point);
  const kek = x963Kdf(kdfHash, z, (wrapAlg as Element).raw, ukm, wrap.keyLength);
  const [, encKey] = mine.children();
  try {
    const d = createDecipheriv(wrap.node, kek, WRAP_IV);
    return Buffer.concat([d.update(expectTag(encKey, Tag.OCTET_STRING, 'encryptedKey').value), d.final()]);
  } catch (cause) {
    throw new DecryptionError('The message could not be decrypted with this key.', { cause, detail: 'AES key unwrap failed' });
  }
}


/** Avoids copying a 25 MB plaintext only to append the (usually empty) final block. */
function joinFinal(main: Buffer, last: Buffer): Buffer {
  return last.length === 0 ? main : Buffer.concat([main, last]);
}

/**
 * Decrypts a ContentInfo(AuthEnvelopedData | EnvelopedData) with `decryptor`'s key. Throws
 * DecryptionError when no recipient is ours or the content fails to decrypt (wrong key, tampered
 * GCM tag, bad CBC padding), CmsFormatError on malformed input, UnsupportedAlgorithmError for
 * rejected algorithms.
 */
export async function decryptContent(input: Uint8Array, decryptor: Decryptor): Promise<DecryptedContent> {
  const ci = readContentInfo(input);
  const kind: EnvelopeKind | undefined = ci.contentType === OID.authEnvelopedData ? 'auth-enveloped' : ci.contentType === OID.envelopedData ? 'enveloped' : undefined;
  if (!kind) throw new CmsFormatError('This CMS message is not encrypted.', { detail: ci.contentType });
  const fields = childrenOf(ci.content, Tag.SEQUENCE, kind === 'auth-enveloped' ? 'AuthEnvelopedData' : 'EnvelopedData');
  let i = 1;
  if (fields[i]?.tag === ctx(0)) i++; // originatorInfo
  const recipientInfos = childrenOf(fields[i++], Tag.SET, 'recipientInfos');
  const eci = expectTag(fields[i++], Tag.SEQUENCE, 'EncryptedContentInfo');
  const { contentType, cipher, params, encrypted } = readContentEncryption(eci);
  let authAttrs: Element | undefined;
  let mac: Uint8Array | undefined;
  if (kind === 'auth-enveloped') {
    if (fields[i]?.tag === ctx(1)) authAttrs = fields[i++];
    mac = expectTag(fields[i++], Tag.OCTET_STRING, 'mac').value;
    if (cipher.mode !== 'gcm') throw new UnsupportedAlgorithmError(cipher.oid, 'AuthEnvelopedData must use AES-GCM.');
  } else if (cipher.mode !== 'cbc') throw new UnsupportedAlgorithmError(cipher.oid, 'EnvelopedData must use a CBC cipher.');

  const me = readCertificateIds(decryptor.certificate);
  let cek: Uint8Array | undefined;
  let keyTransport: DecryptedContent['keyTransport'] | undefined;
  for (const ri of recipientInfos) {
    if (ri.tag === Tag.SEQUENCE) {
      const f = ri.children();
      if (!f[1] || !matchesRecipient(f[1], me)) continue;
      const r = await unwrapKtri(f, decryptor, cipher.keyLength);
      cek = r.cek;
      keyTransport = r.transport;
    } else if (ri.tag === ctx(1)) {
      const r = await unwrapKari(ri.children(), decryptor, me);
      if (!r) continue;
      cek = r;
      keyTransport = 'ecdh';
    }
    if (cek) break;
  }
  if (!cek || !keyTransport) throw new DecryptionError('This message is not encrypted to your key.');
  if (cek.length !== cipher.keyLength) throw new DecryptionError('The message could not be decrypted with this key.', { detail: 'content key has the wrong length' });

  try {
    if (cipher.mode === 'gcm') {
      const p = childrenOf(params, Tag.SEQUENCE, 'GCMParameters');
      const nonce = expectTag(p[0], Tag.OCTET_STRING, 'GCM nonce').value;
      const icvLen = p[1] ? Number(readInteger(p[1])) : 12;
      if (!mac || mac.length !== icvLen || icvLen < 12) throw new DecryptionError('The message authentication tag is missing or too short.');
      const d = createDecipheriv(cipher.node as 'aes-256-gcm', cek, nonce, { authTagLength: icvLen });
      d.setAuthTag(mac);
      if (authAttrs) d.setAAD(signedAttributesForSignature(authAttrs.raw));
      const content = joinFinal(d.update(encrypted), d.final());
      return { kind, contentType, content, contentEncryption: cipher.oid, keyTransport };
    }
    const iv = expectTag(params, Tag.OCTET_STRING, 'CBC IV').value;
    const d = createDecipheriv(cipher.node, cek, iv);
    const content = joinFinal(d.update(encrypted), d.final());
    return { kind, contentType, content, contentEncryption: cipher.oid, keyTransport };
  } catch (cause) {
    if (cause instanceof DecryptionError || cause instanceof CmsFormatError) throw cause;
    throw new DecryptionError('The message could not be decrypted: it was altered or is not for this key.', { cause });
  }
}

