/**
 * What path validation needs to know about one certificate, read once with @peculiar/x509 (plus
 * asn1js for NameConstraints, which @peculiar/x509 does not type) and node:crypto for the key.
 */
import { X509Certificate as NodeX509, createHash, createPublicKey, type KeyObject } from 'node:crypto';
import * as asn1js from 'asn1js';
import { normaliseOid, roleOfPolicy, type CertificateRole } from '../pki/oids';
import { SmimeError } from '../errors';
import { x509 } from '../x509';

export class CertificateParseError extends SmimeError {}

export interface NameSubtrees {
  readonly rfc822: readonly string[];
  readonly dns: readonly string[];
  /** Other name forms in the constraint (directoryName …): kept as a count, checked nowhere in SSMAX. */
  readonly other: number;
}

export interface NameConstraints {
  readonly permitted: NameSubtrees | undefined;
  readonly excluded: NameSubtrees | undefined;
}

export interface CertInfo {
  readonly der: Uint8Array;
  readonly cert: x509.X509Certificate;
  readonly node: NodeX509;
  readonly subject: string;
  readonly issuer: string;
  /** Exact DER of subject and issuer Names, for chaining. */
  readonly subjectDer: string;
  readonly issuerDer: string;
  readonly serialNumber: string;
  readonly sha256: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly isCa: boolean | undefined;
  readonly pathLength: number | undefined;
  /** KeyUsage bits, undefined when the extension is absent. */
  readonly keyUsage: number | undefined;
  readonly extendedKeyUsage: readonly string[] | undefined;
  /** Policy OIDs, dotted decimal (normalised). */
  readonly policies: readonly string[];
  /** The single SSMAX role named by its policies (undefined: none; 'ambiguous' when several). */
  readonly ssmaxRole: CertificateRole | 'ambiguous' | undefined;
  readonly emails: readonly string[];
  readonly dnsNames: readonly string[];
  readonly nameConstraints: NameConstraints | undefined;
  readonly subjectKeyId: string | undefined;
  readonly authorityKeyId: string | undefined;
  /** Signature algorithm OID of the certificate (how its issuer signed it). */
  readonly signatureAlgorithm: string;
  readonly publicKey: KeyObject;
  readonly orgName: string | undefined;
  readonly commonName: string | undefined;
  /** X.520 serialNumber attribute of the subject: the staff ID. */
  readonly staffId: string | undefined;
  /** Critical extensions this verifier does not understand. */
  readonly unknownCritical: readonly string[];
  /** URIs of its CRL distribution points (where its issuer publishes the CRL that would list it). */
  readonly crlUrls: readonly string[];
}

const EXT = {
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  policies: '2.5.29.32',
  san: '2.5.29.17',
  nameConstraints: '2.5.29.30',
  ski: '2.5.29.14',
  aki: '2.5.29.35',
  crlDp: '2.5.29.31',
} as const;
const KNOWN = new Set<string>(Object.values(EXT));

function hex(bytes: ArrayBuffer | Uint8Array): string {
  return Buffer.from(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes)).toString('hex');
}

function nameDer(name: x509.Name): string {
  return hex(name.toArrayBuffer());
}

function parseSubtrees(block: asn1js.AsnType | undefined): NameSubtrees | undefined {
  if (!(block instanceof asn1js.Constructed)) return undefined;
  const rfc822: string[] = [];
  const dns: string[] = [];
  let other = 0;
  for (const subtree of block.valueBlock.value) {
    const base = subtree instanceof asn1js.Constructed || subtree instanceof asn1js.Sequence ? subtree.valueBlock.value[0] : undefined;
    if (!base) throw new CertificateParseError('A certificate has malformed name constraints.');
    const tag = base.idBlock.tagNumber;
    const ctxClass = base.idBlock.tagClass === 3;
    const text = () => Buffer.from((base as asn1js.Primitive).valueBlock.valueHexView).toString('latin1');
    if (ctxClass && tag === 1 && !base.idBlock.isConstructed) rfc822.push(text().toLowerCase());
    else if (ctxClass && tag === 2 && !base.idBlock.isConstructed) dns.push(text().toLowerCase());
    else other++;
  }
  return { rfc822, dns, other };
}

function parseNameConstraints(ext: x509.Extension): NameConstraints {
  const asn = asn1js.fromBER(new Uint8Array(ext.value));
  if (asn.offset === -1 || !(asn.result instanceof asn1js.Sequence)) throw new CertificateParseError('A certificate has malformed name constraints.');
  let permitted: NameSubtrees | undefined;
  let excluded: NameSubtrees | undefined;
  for (const el of asn.result.valueBlock.value) {
    if (el.idBlock.tagClass !== 3) throw new CertificateParseError('A certificate has malformed name constraints.');
    // [0] / [1] IMPLICIT GeneralSubtrees: asn1js reads them as Constructed with SEQUENCE children.
    if (el.idBlock.tagNumber === 0) permitted = parseSubtrees(el);
    else if (el.idBlock.tagNumber === 1) excluded = parseSubtrees(el);
  }
  return { permitted, excluded };
}

function signatureAlgorithmOid(der: Uint8Array): string {
  const asn = asn1js.fromBER(der);
  const top = asn.result;
  if (asn.offset === -1 || !(top instanceof asn1js.Sequence)) throw new CertificateParseError('A certificate is malformed.');
  const alg = top.valueBlock.value[1];
  const oid = alg instanceof asn1js.Sequence ? alg.valueBlock.value[0] : undefined;
  if (!(oid instanceof asn1js.ObjectIdentifier)) throw new CertificateParseError('A certificate is malformed.');
  return oid.valueBlock.toString();
}

/** Parses a certificate (DER). Throws CertificateParseError on anything malformed. */
export function readCertInfo(der: Uint8Array): CertInfo {
  try {
    const cert = new x509.X509Certificate(der);
    const node = new NodeX509(Buffer.from(der));
    const bc = cert.getExtension(x509.BasicConstraintsExtension);
    const ku = cert.getExtension(x509.KeyUsagesExtension);
    const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
    const pol = cert.getExtension(x509.CertificatePolicyExtension);
    const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
    const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension);
    const aki = cert.getExtension(x509.AuthorityKeyIdentifierExtension);
    const nc = cert.getExtension(EXT.nameConstraints);
    const cdp = cert.getExtension(x509.CRLDistributionPointsExtension);
    const policies = (pol?.policies ?? []).map(normaliseOid);
    const roles = [...new Set((pol?.policies ?? []).map(roleOfPolicy).filter((r): r is CertificateRole => r !== undefined))];
    const names = san?.names.items ?? [];
    const field = (n: string): string | undefined => cert.subjectName.getField(n)[0];
    return {
      der,
      cert,
      node,
      subject: cert.subject,
      issuer: cert.issuer,
      subjectDer: nameDer(cert.subjectName),
      issuerDer: nameDer(cert.issuerName),
      serialNumber: cert.serialNumber.toLowerCase(),
      sha256: createHash('sha256').update(der).digest('hex'),
      notBefore: cert.notBefore,
      notAfter: cert.notAfter,
      isCa: bc?.ca,
      pathLength: bc?.pathLength,
      keyUsage: ku?.usages,
      extendedKeyUsage: eku?.usages.map(String),
      policies,
      ssmaxRole: roles.length > 1 ? 'ambiguous' : roles[0],
      emails: names.filter((n) => n.type === 'email').map((n) => n.value),
      dnsNames: names.filter((n) => n.type === 'dns').map((n) => n.value.toLowerCase()),
      nameConstraints: nc ? parseNameConstraints(nc) : undefined,
      subjectKeyId: ski?.keyId.toLowerCase(),
      authorityKeyId: aki?.keyId?.toLowerCase(),
      signatureAlgorithm: signatureAlgorithmOid(der),
      publicKey: createPublicKey({ key: Buffer.from(new Uint8Array(cert.publicKey.rawData)), format: 'der', type: 'spki' }),
      orgName: field('O'),
      commonName: field('CN'),
      staffId: field('2.5.4.5'),
      unknownCritical: cert.extensions.filter((e) => e.critical && !KNOWN.has(e.type)).map((e) => e.type),
      crlUrls: (cdp?.distributionPoints ?? []).flatMap((dp) =>
        (dp.distributionPoint?.fullName ?? []).flatMap((n) => (n.uniformResourceIdentifier !== undefined ? [n.uniformResourceIdentifier] : [])),
      ),
    };
  } catch (cause) {
    if (cause instanceof CertificateParseError) throw cause;
    throw new CertificateParseError('A certificate is malformed.', { cause });
  }
}

/** Reads a PEM (one or more blocks) or DER input into DER blocks. */
export function derBlocks(input: Uint8Array | string, label = 'CERTIFICATE'): Uint8Array[] {
  const text = typeof input === 'string' ? input : Buffer.from(input).toString('latin1');
  if (!text.includes('-----BEGIN')) return [typeof input === 'string' ? new Uint8Array(Buffer.from(input, 'latin1')) : input];
  const re = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`, 'g');
  return [...text.matchAll(re)].map((m) => new Uint8Array(Buffer.from((m[1] ?? '').replace(/\s+/g, ''), 'base64')));
}
