import { digest as hashBytes, type HashName, type Signer } from '../keys';
import { encodeAttribute, encodeAttributeSet, signedAttributesForSignature } from './attributes';
import { digestAlgorithmIdentifier, signatureAlgorithmIdentifier } from './algorithms';
import { readCertificateIds, equalBytes, sha256, type CertificateIds } from './certificate';
import { encodeContentInfo } from './content-info';
import { Tag, ctx, der, integer, octetString, oid, seq, setOf, time, tlv } from './der';
import { SigningError } from './errors';
import { OID } from './oids';

/** Content-encryption algorithms we announce in smimeCapabilities (RFC 8551 §2.5.2), best first. */
const CAPABILITIES = [OID.aes256Gcm, OID.aes128Gcm, OID.aes256Cbc, OID.aes128Cbc];

export function smimeCapabilitiesAttribute(): Uint8Array {
  return encodeAttribute(OID.smimeCapabilities, seq(...CAPABILITIES.map((c) => seq(oid(c)))));
}

/**
 * ESS signingCertificateV2 (RFC 5035): binds the signature to the signer's certificate (SHA-256 of
 * it, plus issuer and serial) so that another certificate with the same key cannot be substituted.
 */
export function signingCertificateV2Attribute(cert: CertificateIds): Uint8Array {
  const issuerSerial = seq(seq(der(ctx(4), cert.issuer)), cert.serialNumberDer);
  // hashAlgorithm is DEFAULT id-sha256 and so omitted (DER).
  const essCertIdV2 = seq(der(Tag.OCTET_STRING, sha256(cert.der)), issuerSerial);
  return encodeAttribute(OID.signingCertificateV2, seq(seq(essCertIdV2)));
}

export function issuerAndSerialNumber(cert: CertificateIds): Uint8Array {
  return seq(cert.issuer, cert.serialNumberDer);
}

/**
 * Builds one SignerInfo (version 1, issuerAndSerialNumber) over the given signed attributes:
 * the Signer is asked to sign hash(DER SET OF attributes).
 */
export async function buildSignerInfo(signer: Signer, signedAttributes: readonly Uint8Array[]): Promise<Uint8Array> {
  const cert = readCertificateIds(signer.certificate);
  const hash = signer.algorithm.hash;
  const signedAttrs = encodeAttributeSet(ctx(0), signedAttributes, true);
  const toBeSigned = signedAttributesForSignature(signedAttrs);
  let signature: Uint8Array;
  try {
    signature = await signer.sign({ digest: hashBytes(hash, toBeSigned), data: toBeSigned });
  } catch (cause) {
    throw new SigningError('The message could not be signed.', { cause });
  }
  return seq(integer(1), issuerAndSerialNumber(cert), digestAlgorithmIdentifier(hash), signedAttrs, signatureAlgorithmIdentifier(signer.algorithm), der(Tag.OCTET_STRING, signature));
}

export interface SignOptions {
  /** The content: for S/MIME the canonical (CRLF) MIME entity bytes. Not copied until the output is assembled. */
  readonly content: Uint8Array;
  readonly signers: readonly Signer[];
  /** Detached (multipart/signed) or encapsulated (opaque application/pkcs7-mime). */
  readonly detached: boolean;
  /** eContentType, default id-data. */
  readonly contentType?: string;
  /** Default: now. */
  readonly signingTime?: Date;
  /** Further certificates to carry (e.g. the org CA), besides the signers' own. */
  readonly certificates?: readonly Uint8Array[];
  /** Extra signed attributes (encoded Attribute), e.g. for tests or future profiles. */
  readonly extraSignedAttributes?: readonly Uint8Array[];
}

/** Signs content into a CMS ContentInfo(SignedData), DER. */
export async function signData(options: SignOptions): Promise<Uint8Array> {
  if (options.signers.length === 0) throw new SigningError('At least one signer is needed.');
  const contentType = options.contentType ?? OID.data;
  const signingTime = options.signingTime ?? new Date();
  const digests = new Map<HashName, Uint8Array>();
  const signerInfos: Uint8Array[] = [];
  const certificates: Uint8Array[] = [];
  const addCert = (c: Uint8Array): void => {
    if (!certificates.some((x) => equalBytes(x, c))) certificates.push(c);
  };
  for (const signer of options.signers) {
    const hash = signer.algorithm.hash;
    let d = digests.get(hash);
    if (!d) {
      d = hashBytes(hash, options.content);
      digests.set(hash, d);
    }
    const cert = readCertificateIds(signer.certificate);
    addCert(signer.certificate);
    signerInfos.push(
      await buildSignerInfo(signer, [
        encodeAttribute(OID.contentType, oid(contentType)),
        encodeAttribute(OID.signingTime, time(signingTime)),
        encodeAttribute(OID.messageDigest, der(Tag.OCTET_STRING, d)),
        smimeCapabilitiesAttribute(),
        signingCertificateV2Attribute(cert),
        ...(options.extraSignedAttributes ?? []),
      ]),
    );
  }
  for (const c of options.certificates ?? []) addCert(c);
  const encap = options.detached ? seq(oid(contentType)) : tlv(Tag.SEQUENCE, oid(contentType), tlv(ctx(0), octetString(options.content)));
  const signedData = tlv(
    Tag.SEQUENCE,
    integer(contentType === OID.data ? 1 : 3),
    setOf([...digests.keys()].map(digestAlgorithmIdentifier)),
    encap,
    der(ctx(0), ...certificates),
    // In the order of options.signers, so that result paths ([i]) match the caller's signers. Only
    // signed attributes must be DER (RFC 5652 §5.3); OpenSSL does not sort SignerInfos either.
    der(Tag.SET, ...signerInfos),
  );
  return encodeContentInfo(OID.signedData, signedData).toBytes();
}
