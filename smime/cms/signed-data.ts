import { readAttributes, type Attribute } from './attributes';
import { CMS_READ_LIMITS, readContentInfo } from './content-info';
import { Tag, childrenOf, ctx, decodeOid, expectTag, octets, read, readInteger, type Element } from './der';
import { CmsFormatError } from './errors';
import { OID } from './oids';

/**
 * Parsed view of a SignedData (RFC 5652 §5). Everything is a view into the input; each SignerInfo
 * keeps its exact encoding and the encodings of its fields, so that a countersignature can be
 * added by re-encoding only the unsignedAttrs of its target and the lengths of its parents.
 */

export type SignerIdentifier =
  | { readonly kind: 'issuerAndSerialNumber'; readonly issuer: Uint8Array; readonly serialNumber: bigint }
  | { readonly kind: 'subjectKeyIdentifier'; readonly keyIdentifier: Uint8Array };

export interface SignerInfoView {
  readonly raw: Uint8Array;
  readonly version: bigint;
  readonly sid: SignerIdentifier;
  readonly digestAlgorithm: Element;
  /** The [0] IMPLICIT signedAttrs as encoded (tag 0xA0), if present. */
  readonly signedAttrsRaw: Uint8Array | undefined;
  readonly signedAttrs: Attribute[] | undefined;
  readonly signatureAlgorithm: Element;
  readonly signature: Uint8Array;
  readonly unsignedAttrs: Attribute[];
  /** Encodings of all fields before unsignedAttrs, in order (what a countersignature never changes). */
  readonly fieldsBeforeUnsigned: Uint8Array[];
}

export interface SignedDataView {
  readonly version: bigint;
  readonly digestAlgorithms: Element[];
  readonly eContentType: string;
  /** eContent bytes when encapsulated (a view unless the input used a constructed OCTET STRING). */
  readonly eContent: Uint8Array | undefined;
  readonly certificates: Uint8Array[];
  readonly crls: Uint8Array[];
  readonly signerInfos: SignerInfoView[];
  /** Field encodings for re-assembly. */
  readonly fields: { readonly version: Uint8Array; readonly digestAlgorithms: Uint8Array; readonly encapContentInfo: Uint8Array; readonly crls: Uint8Array | undefined };
}

export function readSignerIdentifier(el: Element): SignerIdentifier {
  if (el.tag === Tag.SEQUENCE) {
    const [issuer, serial] = el.children();
    return { kind: 'issuerAndSerialNumber', issuer: expectTag(issuer, Tag.SEQUENCE, 'issuer Name').raw, serialNumber: readInteger(expectTag(serial, Tag.INTEGER, 'serialNumber')) };
  }
  if (el.tag === ctx(0, false)) return { kind: 'subjectKeyIdentifier', keyIdentifier: el.value };
  throw new CmsFormatError('Malformed CMS: unknown signer identifier.');
}

export function readSignerInfo(el: Element): SignerInfoView {
  const fields = childrenOf(el, Tag.SEQUENCE, 'SignerInfo');
  let i = 0;
  const version = readInteger(expectTag(fields[i++], Tag.INTEGER, 'SignerInfo version'));
  const sidEl = fields[i++];
  if (!sidEl) throw new CmsFormatError('Malformed CMS: SignerInfo without sid.');
  const sid = readSignerIdentifier(sidEl);
  // RFC 5652 §5.3: version 1 with issuerAndSerialNumber, 3 with subjectKeyIdentifier. The version is
  // not covered by the signature, so anything else is refused rather than silently accepted.
  if (version !== (sid.kind === 'issuerAndSerialNumber' ? 1n : 3n)) throw new CmsFormatError('Malformed CMS: SignerInfo version does not match its signer identifier.');
  const digestAlgorithm = expectTag(fields[i++], Tag.SEQUENCE, 'digestAlgorithm');
  let signedAttrsRaw: Uint8Array | undefined;
  let signedAttrs: Attribute[] | undefined;
  if (fields[i]?.tag === ctx(0)) {
    const sa = fields[i++] as Element;
    signedAttrsRaw = sa.raw;
    signedAttrs = readAttributes(sa);
  }
  const signatureAlgorithm = expectTag(fields[i++], Tag.SEQUENCE, 'signatureAlgorithm');
  const signatureEl = expectTag(fields[i++], Tag.OCTET_STRING, 'signature');
  const before = fields.slice(0, i).map((f) => f.raw);
  let unsignedAttrs: Attribute[] = [];
  if (fields[i]?.tag === ctx(1)) unsignedAttrs = readAttributes(fields[i++] as Element);
  if (i !== fields.length) throw new CmsFormatError('Malformed CMS: unexpected fields in SignerInfo.');
  return { raw: el.raw, version, sid, digestAlgorithm, signedAttrsRaw, signedAttrs, signatureAlgorithm, signature: signatureEl.value, unsignedAttrs, fieldsBeforeUnsigned: before };
}

export function readSignedDataElement(sd: Element): SignedDataView {
  const fields = childrenOf(sd, Tag.SEQUENCE, 'SignedData');
  let i = 0;
  const versionEl = expectTag(fields[i++], Tag.INTEGER, 'SignedData version');
  const digestAlgorithmsEl = expectTag(fields[i++], Tag.SET, 'digestAlgorithms');
  const encap = expectTag(fields[i++], Tag.SEQUENCE, 'EncapsulatedContentInfo');
  const [typeEl, eContentWrap] = encap.children();
  const eContentType = decodeOid(expectTag(typeEl, Tag.OID, 'eContentType'));
  let eContent: Uint8Array | undefined;
  if (eContentWrap) {
    const [os] = expectTag(eContentWrap, ctx(0), 'eContent [0]').children();
    if (!os || (os.tag & ~0x20) !== Tag.OCTET_STRING) throw new CmsFormatError('Malformed CMS: eContent is not an OCTET STRING.');
    eContent = octets(os);
  }
  let certificates: Uint8Array[] = [];
  if (fields[i]?.tag === ctx(0)) certificates = (fields[i++] as Element).children().filter((c) => c.tag === Tag.SEQUENCE).map((c) => c.raw);
  let crlsEl: Element | undefined;
  if (fields[i]?.tag === ctx(1)) crlsEl = fields[i++];
  const signerInfosEl = expectTag(fields[i++], Tag.SET, 'signerInfos');
  if (i !== fields.length) throw new CmsFormatError('Malformed CMS: unexpected fields in SignedData.');
  return {
    version: readInteger(versionEl),
    digestAlgorithms: digestAlgorithmsEl.children(),
    eContentType,
    eContent,
    certificates,
    crls: crlsEl ? crlsEl.children().map((c) => c.raw) : [],
    signerInfos: signerInfosEl.children().map(readSignerInfo),
    fields: { version: versionEl.raw, digestAlgorithms: digestAlgorithmsEl.raw, encapContentInfo: encap.raw, crls: crlsEl?.raw },
  };
}

/** Parses a ContentInfo holding SignedData. Throws CmsFormatError on anything malformed. */
export function readSignedData(input: Uint8Array): SignedDataView {
  const ci = readContentInfo(input);
  if (ci.contentType !== OID.signedData) throw new CmsFormatError('This CMS message is not signed data.', { detail: ci.contentType });
  return readSignedDataElement(ci.content);
}

/** Parses a bare SignerInfo encoding (a countersignature attribute value). */
export function readSignerInfoBytes(bytes: Uint8Array): SignerInfoView {
  return readSignerInfo(read(bytes, CMS_READ_LIMITS));
}

export function attributeValues(attrs: readonly Attribute[] | undefined, type: string): Element[] {
  return (attrs ?? []).filter((a) => a.type === type).flatMap((a) => a.values);
}
