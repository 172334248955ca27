import { constants, createPublicKey, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { digest as hashBytes, nodeHashName, type HashName } from '../keys';
import { ssmaxAttributeOid } from '../pki/oids';
import { readDigestAlgorithm, readSignatureAlgorithm, type VerifyAlgorithm } from './algorithms';
import { signedAttributesForSignature } from './attributes';
import { equalBytes, readCertificateIds, sha256, type CertificateIds } from './certificate';
import { Tag, childrenOf, ctx, decodeOid, expectTag, readInteger, readTime, type Element } from './der';
import { CmsFormatError, UnsupportedAlgorithmError } from './errors';
import { OID } from './oids';
import { attributeValues, readSignedData, readSignerInfoBytes, type SignerIdentifier, type SignerInfoView } from './signed-data';
import { decodeInspectionAttestation, decodeSmtpEnvelope, type InspectionAttestation, type SmtpEnvelope } from './ssmax-attributes';

/**
 * Cryptographic verification of every SignerInfo and every countersignature, each on its own.
 * This layer says whether each signature is mathematically valid over what it claims to sign and
 * which certificate made it; whether that certificate is trusted (path, CRL, role, name
 * constraints) is the chain verifier's job, which builds on these per-signature results.
 */

export type SignatureStatus = 'valid' | 'invalid' | 'unsupported';

export type ReasonCode =
  | 'certificate-not-found'
  | 'digest-mismatch'
  | 'signature-invalid'
  | 'content-type-mismatch'
  | 'missing-signed-attribute'
  | 'unsupported-algorithm'
  | 'weak-key'
  | 'signing-certificate-mismatch'
  | 'content-conflict'
  | 'no-content'
  | 'malformed'
  | 'countersignature-has-content-type';

export interface Reason {
  readonly code: ReasonCode;
  readonly message: string;
}

export interface SignatureCheck {
  /** Position: [signerIndex] for a SignerInfo, then the index among countersignatures at each level. */
  readonly path: readonly number[];
  readonly status: SignatureStatus;
  readonly reasons: readonly Reason[];
  readonly sid: SignerIdentifier | undefined;
  /** The signer's certificate (DER) when it was found. */
  readonly certificate: Uint8Array | undefined;
  readonly signingTime: Date | undefined;
  readonly digestAlgorithm: HashName | undefined;
  /** The signature value: what a countersignature of this one signs. */
  readonly signatureValue: Uint8Array;
  /** SSMAX countersignature attributes, when present and well-formed. */
  readonly envelope: SmtpEnvelope | undefined;
  readonly attestation: InspectionAttestation | undefined;
  readonly countersignatures: readonly SignatureCheck[];
}

export interface SignedDataResult {
  readonly contentType: string;
  /** The signed content: eContent, or the detached content given. */
  readonly content: Uint8Array | undefined;
  readonly detached: boolean;
  readonly certificates: readonly Uint8Array[];
  readonly signers: readonly SignatureCheck[];
}

export interface VerifyOptions {
  /** The content of a detached signature (multipart/signed first part, canonical CRLF). */
  readonly detachedContent?: Uint8Array;
  /** Certificates known from elsewhere (e.g. the org bundle) to find signers by. */
  readonly extraCertificates?: readonly Uint8Array[];
}

/** Countersignature levels verified below a SignerInfo (an SSMAX chain has 2-3; forwards do not nest). */
export const MAX_CHAIN_DEPTH = 32;

/** Verifies a DER/BER ContentInfo(SignedData). Throws CmsFormatError only when the structure itself is unreadable. */
export function verifySignedData(input: Uint8Array, options: VerifyOptions = {}): SignedDataResult {
  const sd = readSignedData(input);
  const certs = [...sd.certificates, ...(options.extraCertificates ?? [])].flatMap((c) => {
    try {
      return [readCertificateIds(c)];
    } catch {
      return []; // a malformed certificate can only make its signer "not found"
    }
  });
  const conflict = sd.eContent !== undefined && options.detachedContent !== undefined && !equalBytes(sd.eContent, options.detachedContent);
  const content = sd.eContent ?? options.detachedContent;
  const digestCache = new Map<HashName, Uint8Array>();
  const contentDigest = (h: HashName): Uint8Array | undefined => {
    if (!content) return undefined;
    let d = digestCache.get(h);
    if (!d) digestCache.set(h, (d = hashBytes(h, content)));
    return d;
  };
  const signers = sd.signerInfos.map((si, index) => {
    const pre: Reason[] = [];
    if (conflict) pre.push({ code: 'content-conflict', message: 'The message carries signed content and different detached content.' });
    if (!content) pre.push({ code: 'no-content', message: 'The signature is detached but no content was given.' });
    return checkSignerInfo(si, [index], certs, { contentType: sd.eContentType, digestOf: contentDigest }, pre);
  });
  return { contentType: sd.eContentType, content, detached: sd.eContent === undefined, certificates: sd.certificates, signers };
}

interface Signed {
  /** eContentType for a SignerInfo; undefined for a countersignature (which must not carry contentType). */
  readonly contentType: string | undefined;
  readonly digestOf: (hash: HashName) => Uint8Array | undefined;
}

function findCertificate(sid: SignerIdentifier, certs: readonly CertificateIds[]): CertificateIds | undefined {
  return certs.find((c) =>
    sid.kind === 'issuerAndSerialNumber'
      ? c.serialNumber === sid.serialNumber && equalBytes(c.issuer, sid.issuer)
      : c.subjectKeyIdentifier !== undefined && equalBytes(c.subjectKeyIdentifier, sid.keyIdentifier),
  );
}

function result(partial: Omit<SignatureCheck, 'status'>): SignatureCheck {
  const status: SignatureStatus = partial.reasons.length === 0 ? 'valid' : partial.reasons.some((r) => r.code === 'unsupported-algorithm' || r.code === 'weak-key') && partial.reasons.every((r) => r.code === 'unsupported-algorithm' || r.code === 'weak-key') ? 'unsupported' : 'invalid';
  return { ...partial, status };
}

function checkSignerInfo(si: SignerInfoView, path: number[], certs: readonly CertificateIds[], signed: Signed, preReasons: Reason[]): SignatureCheck {
  const reasons = [...preReasons];
  const cert = findCertificate(si.sid, certs);
  let signingTime: Date | undefined;
  let envelope: SmtpEnvelope | undefined;
  let attestation: InspectionAttestation | undefined;
  let digestAlgorithm: HashName | undefined;

  // Countersignatures first: they are results of their own whatever happens to this signer.
  const countersignatures = attributeValues(si.unsignedAttrs, OID.countersignature).map((value, i) => {
    const csPath = [...path, i];
    try {
      if (csPath.length - 1 > MAX_CHAIN_DEPTH) throw new CmsFormatError(`Countersignatures are nested more than ${MAX_CHAIN_DEPTH} deep.`);
      // Re-read with fresh limits: the depth budget of the whole message would otherwise run out
      // after ~14 levels; MAX_CHAIN_DEPTH bounds the (quadratic) re-reading instead.
      const cs = readSignerInfoBytes(value.raw);
      return checkSignerInfo(cs, csPath, certs, { contentType: undefined, digestOf: (h) => hashBytes(h, si.signature) }, []);
    } catch (cause) {
      return malformedCheck(csPath, cause);
    }
  });

  try {
    digestAlgorithm = readDigestAlgorithm(si.digestAlgorithm);
    const alg = readSignatureAlgorithm(si.signatureAlgorithm);
    if (alg.hash && alg.hash !== digestAlgorithm) throw new UnsupportedAlgorithmError(`${alg.hash} signature over a ${digestAlgorithm} digest`);
    const expectedDigest = signed.digestOf(digestAlgorithm);
    let toBeVerified: Uint8Array | undefined;
    if (si.signedAttrsRaw && si.signedAttrs) {
      const attrs = si.signedAttrs;
      const md = attributeValues(attrs, OID.messageDigest);
      const ct = attributeValues(attrs, OID.contentType);
      if (md.length !== 1) reasons.push({ code: 'missing-signed-attribute', message: 'The signed attributes lack a single messageDigest.' });
      else if (expectedDigest && !equalBytes(expectTag(md[0], Tag.OCTET_STRING, 'messageDigest').value, expectedDigest)) {
        reasons.push({ code: 'digest-mismatch', message: signed.contentType === undefined ? 'The countersignature was made over a different signature.' : 'The content does not match what was signed (digest mismatch).' });
      }
      if (signed.contentType === undefined) {
        if (ct.length > 0) reasons.push({ code: 'countersignature-has-content-type', message: 'A countersignature must not carry a contentType attribute (RFC 5652 §11.4).' });
      } else if (ct.length !== 1) reasons.push({ code: 'missing-signed-attribute', message: 'The signed attributes lack a single contentType.' });
      else if (decodeOid(expectTag(ct[0], Tag.OID, 'contentType')) !== signed.contentType) {
        reasons.push({ code: 'content-type-mismatch', message: 'The signed contentType differs from the content type of the message.' });
      }
      const st = attributeValues(attrs, OID.signingTime)[0];
      if (st) signingTime = readTime(st);
      const env = attributeValues(attrs, ssmaxAttributeOid.smtpEnvelope)[0];
      if (env) envelope = decodeSmtpEnvelope(env.raw);
      const att = attributeValues(attrs, ssmaxAttributeOid.inspectionAttestation)[0];
      if (att) attestation = decodeInspectionAttestation(att.raw);
      if (cert) checkSigningCertificate(attrs, cert, reasons);
      toBeVerified = signedAttributesForSignature(si.signedAttrsRaw);
    }
    if (!cert) reasons.push({ code: 'certificate-not-found', message: "The signer's certificate is not in the message." });
    else {
      const key = publicKey(cert);
      const ok = toBeVerified ? verifyRaw(alg, digestAlgorithm, key, toBeVerified, si.signature) : verifyDigestOnly();
      if (!ok) reasons.push({ code: 'signature-invalid', message: 'The signature value is not valid for the signed data and the certificate.' });
    }
  } catch (cause) {
    if (cause instanceof UnsupportedAlgorithmError) reasons.push({ code: cause.algorithm === 'weak key' ? 'weak-key' : 'unsupported-algorithm', message: cause.userMessage });
    else if (cause instanceof CmsFormatError) reasons.push({ code: 'malformed', message: cause.userMessage });
    else throw cause;
  }
  return result({ path, reasons, sid: si.sid, certificate: cert?.der, signingTime, digestAlgorithm, signatureValue: si.signature, envelope, attestation, countersignatures });
}

function malformedCheck(path: number[], cause: unknown): SignatureCheck {
  const message = cause instanceof CmsFormatError ? cause.userMessage : 'The countersignature is malformed.';
  return result({ path, reasons: [{ code: 'malformed', message }], sid: undefined, certificate: undefined, signingTime: undefined, digestAlgorithm: undefined, signatureValue: new Uint8Array(), envelope: undefined, attestation: undefined, countersignatures: [] });
}

/** ESS signingCertificateV2 / signingCertificate, if present, must name the certificate we verify with. */
function checkSigningCertificate(attrs: NonNullable<SignerInfoView['signedAttrs']>, cert: CertificateIds, reasons: Reason[]): void {
  const v2 = attributeValues(attrs, OID.signingCertificateV2)[0];
  if (!v2) return;
  const [certsSeq] = childrenOf(v2, Tag.SEQUENCE, 'SigningCertificateV2');
  const [first] = childrenOf(certsSeq, Tag.SEQUENCE, 'ESSCertIDv2 list');
  const fields = childrenOf(first, Tag.SEQUENCE, 'ESSCertIDv2');
  let i = 0;
  let hash: HashName = 'SHA-256';
  if (fields[0]?.tag === Tag.SEQUENCE) hash = readDigestAlgorithm(fields[i++] as Element);
  const certHash = expectTag(fields[i++], Tag.OCTET_STRING, 'certHash').value;
  const actual = hash === 'SHA-256' ? sha256(cert.der) : hashBytes(hash, cert.der);
  let ok = equalBytes(certHash, actual);
  const issuerSerial = fields[i];
  if (ok && issuerSerial) {
    const [names, serial] = childrenOf(issuerSerial, Tag.SEQUENCE, 'IssuerSerial');
    ok = readInteger(expectTag(serial, Tag.INTEGER, 'serial')) === cert.serialNumber && (names?.children() ?? []).some((n) => n.tag === ctx(4) && equalBytes(n.children()[0]?.raw ?? new Uint8Array(), cert.issuer));
  }
  if (!ok) reasons.push({ code: 'signing-certificate-mismatch', message: 'The signature names a different certificate than the one it was verified with (ESS signingCertificateV2).' });
}

function publicKey(cert: CertificateIds): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(cert.spki), format: 'der', type: 'spki' });
  } catch (cause) {
    throw new UnsupportedAlgorithmError('public key type', "The signer's public key type is not supported.", { cause });
  }
  const d = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss') {
    if ((d?.modulusLength ?? 0) < 2048) throw new UnsupportedAlgorithmError('weak key', `The signer's RSA key has only ${d?.modulusLength ?? 0} bits (2048 required).`);
  } else if (key.asymmetricKeyType === 'ec') {
    if (!['prime256v1', 'secp384r1', 'secp521r1'].includes(d?.namedCurve ?? '')) throw new UnsupportedAlgorithmError(`curve ${d?.namedCurve ?? 'unknown'}`);
  } else throw new UnsupportedAlgorithmError(key.asymmetricKeyType ?? 'unknown key type', `The signer's key type (${key.asymmetricKeyType ?? 'unknown'}) is not accepted.`);
  return key;
}

function keyMatches(alg: VerifyAlgorithm, key: KeyObject): boolean {
  return alg.kind === 'ecdsa' ? key.asymmetricKeyType === 'ec' : key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss';
}

function verifyRaw(alg: VerifyAlgorithm, hash: HashName, key: KeyObject, data: Uint8Array, signature: Uint8Array): boolean {
  if (!keyMatches(alg, key)) return false;
  try {
    if (alg.kind === 'ecdsa') return nodeVerify(nodeHashName[hash], data, { key, dsaEncoding: 'der' }, signature);
    if (alg.kind === 'rsa-pss') return nodeVerify(nodeHashName[hash], data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: alg.saltLength }, signature);
    return nodeVerify(nodeHashName[hash], data, { key, padding: constants.RSA_PKCS1_PADDING }, signature);
  } catch {
    return false;
  }
}

/**
 * No signed attributes: the signature would be directly over the content (RFC 5652 §5.4). S/MIME
 * (RFC 8551 §2.5) always uses signed attributes, and without them nothing binds the content type or
 * the signing certificate, so SSMAX does not accept such signatures.
 */
function verifyDigestOnly(): boolean {
  throw new UnsupportedAlgorithmError('signature without signed attributes', 'Signatures without signed attributes are not accepted.');
}
