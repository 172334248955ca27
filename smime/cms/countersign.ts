import { digest as hashBytes, type Signer } from '../keys';
import { encodeAttribute, type Attribute } from './attributes';
import { equalBytes, readCertificateIds } from './certificate';
import { encodeContentInfo } from './content-info';
import { Tag, ctx, der, seq, time, tlv, type Chunks } from './der';
import { SigningError } from './errors';
import { OID } from './oids';
import { readSignedData, readSignerInfoBytes, type SignerInfoView } from './signed-data';
import { buildSignerInfo, signingCertificateV2Attribute } from './sign';
import { inspectionAttestationAttribute, smtpEnvelopeAttribute, type InspectionAttestation, type SmtpEnvelope } from './ssmax-attributes';

/**
 * Countersignatures (RFC 5652 §11.4): a SignerInfo over the signature value of another SignerInfo,
 * carried in its unsigned attributes, nested to any depth (③ inside ② inside ①).
 *
 * Adding one re-encodes only the unsignedAttrs of the target SignerInfo and the lengths of the
 * structures around it; every signed byte (content, signed attributes, signature values, other
 * signers) is copied unchanged, so all signatures below stay valid.
 */

export interface CountersignOptions {
  /** Which signature to countersign: [signerIndex, countersignatureIndex, ...] (see SignatureCheck.path). */
  readonly target: readonly number[];
  readonly signer: Signer;
  readonly signingTime?: Date;
  /** SSMAX org countersignature attributes (SPEC §4). */
  readonly envelope?: SmtpEnvelope;
  readonly attestation?: InspectionAttestation;
  /** Certificates to add to SignedData.certificates (the countersigner's is always added). */
  readonly certificates?: readonly Uint8Array[];
}

/** Returns a new ContentInfo(SignedData) with the countersignature added at `target`. */
export async function countersign(input: Uint8Array, options: CountersignOptions): Promise<Uint8Array> {
  const sd = readSignedData(input);
  const [signerIndex, ...rest] = options.target;
  const top = signerIndex === undefined ? undefined : sd.signerInfos[signerIndex];
  if (!top) throw new SigningError('There is no signature to countersign at that position.');
  const targetInfo = locate(top, rest);
  const cs = await buildCountersignature(targetInfo, options);
  const newSignerInfos = sd.signerInfos.map((si, i) => (i === signerIndex ? rewrite(si, rest, cs) : si.raw));

  const certificates = [...sd.certificates];
  for (const c of [options.signer.certificate, ...(options.certificates ?? [])]) {
    if (!certificates.some((x) => equalBytes(x, c))) certificates.push(c);
  }
  // SignedData: version, digestAlgorithms, encapContentInfo and crls are copied as encoded.
  const signedData: Chunks = tlv(
    Tag.SEQUENCE,
    sd.fields.version,
    sd.fields.digestAlgorithms,
    sd.fields.encapContentInfo,
    tlv(ctx(0), ...certificates),
    ...(sd.fields.crls ? [sd.fields.crls] : []),
    // Kept in their order (not re-sorted) so unrelated SignerInfos keep their position and paths stay stable.
    tlv(Tag.SET, ...newSignerInfos),
  );
  return encodeContentInfo(OID.signedData, signedData).toBytes();
}

function countersignatureValues(si: SignerInfoView): Uint8Array[] {
  return si.unsignedAttrs.filter((a) => a.type === OID.countersignature).flatMap((a) => a.values.map((v) => v.raw));
}

function locate(si: SignerInfoView, path: readonly number[]): SignerInfoView {
  let current = si;
  for (const index of path) {
    const next = countersignatureValues(current)[index];
    if (!next) throw new SigningError('There is no countersignature at that position.');
    current = readSignerInfoBytes(next);
  }
  return current;
}

async function buildCountersignature(target: SignerInfoView, options: CountersignOptions): Promise<Uint8Array> {
  const signer = options.signer;
  const cert = readCertificateIds(signer.certificate);
  // RFC 5652 §11.4: messageDigest over the contents octets of the countersigned signature value; no contentType.
  const attrs = [
    encodeAttribute(OID.signingTime, time(options.signingTime ?? new Date())),
    encodeAttribute(OID.messageDigest, der(Tag.OCTET_STRING, hashBytes(signer.algorithm.hash, target.signature))),
    signingCertificateV2Attribute(cert),
    ...(options.envelope ? [smtpEnvelopeAttribute(options.envelope)] : []),
    ...(options.attestation ? [inspectionAttestationAttribute(options.attestation)] : []),
  ];
  return buildSignerInfo(signer, attrs);
}

/** Re-encodes `si` with the countersignature added at `path` below it; only unsignedAttrs change. */
function rewrite(si: SignerInfoView, path: readonly number[], countersignature: Uint8Array): Uint8Array {
  let attrs: Uint8Array[];
  if (path.length === 0) {
    const existing = si.unsignedAttrs.findIndex((a) => a.type === OID.countersignature);
    if (existing < 0) attrs = [...si.unsignedAttrs.map((a) => a.raw), encodeAttribute(OID.countersignature, countersignature)];
    else attrs = si.unsignedAttrs.map((a, i) => (i === existing ? appendValue(a, countersignature) : a.raw));
  } else {
    const [index, ...rest] = path;
    let seen = 0;
    attrs = si.unsignedAttrs.map((a) => {
      if (a.type !== OID.countersignature) return a.raw;
      const values = a.values.map((v) => {
        const mine = seen++ === index;
        return mine ? rewrite(readSignerInfoBytes(v.raw), rest, countersignature) : v.raw;
      });
      return seq(a.typeRaw, der(Tag.SET, ...values));
    });
  }
  return seq(...si.fieldsBeforeUnsigned, der(ctx(1), ...attrs));
}

function appendValue(a: Attribute, value: Uint8Array): Uint8Array {
  return seq(a.typeRaw, der(Tag.SET, ...a.values.map((v) => v.raw), value));
}

/** Path of the last link in the countersignature chain under signer `signerIndex` (follows the last countersignature at each level). */
export function lastLinkPath(input: Uint8Array, signerIndex = 0): number[] {
  const sd = readSignedData(input);
  let si = sd.signerInfos[signerIndex];
  if (!si) throw new SigningError('There is no signature at that position.');
  const path = [signerIndex];
  for (;;) {
    const values = countersignatureValues(si);
    if (values.length === 0) return path;
    path.push(values.length - 1);
    si = readSignerInfoBytes(values[values.length - 1] as Uint8Array);
  }
}
