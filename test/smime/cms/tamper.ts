import { readSignedData } from '../../../smime/cms';
import { encodeContentInfo } from '../../../smime/cms/content-info';
import { Tag, ctx, der, seq, tlv } from '../../../smime/cms/der';
import { OID } from '../../../smime/cms/oids';

/** Test-only surgery on SignedData, as an attacker would do it: replace SignerInfos or their unsigned attributes. */
export function replaceSignerInfos(cms: Uint8Array, signerInfos: readonly Uint8Array[], certificates?: readonly Uint8Array[]): Uint8Array {
  const sd = readSignedData(cms);
  const certs = certificates ?? sd.certificates;
  return encodeContentInfo(
    OID.signedData,
    tlv(Tag.SEQUENCE, sd.fields.version, sd.fields.digestAlgorithms, sd.fields.encapContentInfo, der(ctx(0), ...certs), der(Tag.SET, ...signerInfos)),
  ).toBytes();
}

/** The SignerInfo `index` of `cms` with its unsigned attributes replaced by the given encoded Attributes. */
export function withUnsignedAttributes(cms: Uint8Array, index: number, attributes: readonly Uint8Array[]): Uint8Array {
  const si = readSignedData(cms).signerInfos[index];
  if (!si) throw new Error('no such signer');
  return seq(...si.fieldsBeforeUnsigned, ...(attributes.length ? [der(ctx(1), ...attributes)] : []));
}
