import { createHash } from 'node:crypto';
import { Tag, childrenOf, ctx, decodeOid, expectTag, read, readInteger, type Element } from './der';
import { CmsFormatError } from './errors';

/** What CMS needs to know about a certificate, read straight from its DER. */
export interface CertificateIds {
  readonly der: Uint8Array;
  /** Issuer Name, exact encoding. */
  readonly issuer: Uint8Array;
  /** serialNumber INTEGER, exact encoding (tag included). */
  readonly serialNumberDer: Uint8Array;
  readonly serialNumber: bigint;
  readonly subject: Uint8Array;
  /** SubjectPublicKeyInfo, exact encoding. */
  readonly spki: Uint8Array;
  readonly subjectKeyIdentifier: Uint8Array | undefined;
}

const id_ce_subjectKeyIdentifier = '2.5.29.14';

export function readCertificateIds(der: Uint8Array): CertificateIds {
  let tbs: Element[];
  try {
    const [tbsEl] = childrenOf(read(der, { maxDepth: 32, maxElements: 10_000 }), Tag.SEQUENCE, 'Certificate');
    tbs = childrenOf(tbsEl, Tag.SEQUENCE, 'TBSCertificate');
  } catch (cause) {
    throw new CmsFormatError('A certificate in the message is malformed.', { cause });
  }
  let i = tbs[0]?.tag === ctx(0) ? 1 : 0;
  const serialEl = expectTag(tbs[i++], Tag.INTEGER, 'serialNumber');
  i++; // signature
  const issuer = expectTag(tbs[i++], Tag.SEQUENCE, 'issuer');
  i++; // validity
  const subject = expectTag(tbs[i++], Tag.SEQUENCE, 'subject');
  const spki = expectTag(tbs[i++], Tag.SEQUENCE, 'subjectPublicKeyInfo');
  let ski: Uint8Array | undefined;
  const extsWrap = tbs.find((f) => f.tag === ctx(3));
  for (const ext of extsWrap?.children()[0]?.children() ?? []) {
    const [idEl, ...rest] = ext.children();
    if (idEl && decodeOid(idEl) === id_ce_subjectKeyIdentifier) {
      const value = rest[rest.length - 1];
      if (value) ski = read(value.value).value;
    }
  }
  return { der, issuer: issuer.raw, serialNumberDer: serialEl.raw, serialNumber: readInteger(serialEl), subject: subject.raw, spki: spki.raw, subjectKeyIdentifier: ski };
}

export function sha256(bytes: Uint8Array): Uint8Array {
  return createHash('sha256').update(bytes).digest();
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0;
}

export { equalBytes };
