import { X509Certificate as NodeX509 } from 'node:crypto';
import { read, type Element } from '../cms/der';
import { x509 } from '../x509';
import { ProfileError } from './errors';
import { roleOfPolicy, type CertificateRole } from './oids';

/**
 * What the chain verifier, the UI and the CLI need to know about a certificate, read once:
 * addresses, SSMAX roles, key usages, CA constraints, name constraints, CRL URLs, key type.
 */
export interface CertificateSummary {
  readonly der: Uint8Array;
  readonly subject: string;
  readonly issuer: string;
  /** Hex, lower case, as @peculiar/x509 gives it. */
  readonly serialNumber: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Subject CN (the person's or org's name) and the X.520 serialNumber (staff ID), when present. */
  readonly commonName: string | undefined;
  readonly staffId: string | undefined;
  /** SAN rfc822Name values, lower-cased domain part. */
  readonly emails: readonly string[];
  readonly dnsNames: readonly string[];
  /** SSMAX roles from the certificate policies (normally exactly one). */
  readonly roles: readonly CertificateRole[];
  readonly keyUsage: readonly KeyUsageName[];
  readonly extendedKeyUsage: readonly string[];
  readonly isCa: boolean;
  readonly pathLength: number | undefined;
  readonly nameConstraints: NameConstraints | undefined;
  readonly crlDistributionPoints: readonly string[];
  readonly publicKey: { readonly type: 'rsa'; readonly bits: number } | { readonly type: 'ec'; readonly curve: string } | { readonly type: 'other'; readonly name: string };
}

export type KeyUsageName = 'digitalSignature' | 'nonRepudiation' | 'keyEncipherment' | 'dataEncipherment' | 'keyAgreement' | 'keyCertSign' | 'cRLSign' | 'encipherOnly' | 'decipherOnly';
const KEY_USAGES: readonly KeyUsageName[] = ['digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement', 'keyCertSign', 'cRLSign', 'encipherOnly', 'decipherOnly'];

export interface NameConstraints {
  readonly critical: boolean;
  readonly permittedEmail: readonly string[];
  readonly permittedDns: readonly string[];
  readonly excludedEmail: readonly string[];
  readonly excludedDns: readonly string[];
}

const id_ce_nameConstraints = '2.5.29.30';

function parseNameConstraints(value: Uint8Array, critical: boolean): NameConstraints {
  const out = { critical, permittedEmail: [] as string[], permittedDns: [] as string[], excludedEmail: [] as string[], excludedDns: [] as string[] };
  for (const subtrees of read(value, { maxDepth: 8, maxElements: 10_000 }).children()) {
    const permitted = subtrees.tag === 0xa0;
    for (const subtree of subtrees.children()) {
      const base = subtree.children()[0] as Element | undefined;
      if (!base) continue;
      const text = new TextDecoder().decode(base.value).toLowerCase();
      if (base.tag === 0x81) (permitted ? out.permittedEmail : out.excludedEmail).push(text);
      else if (base.tag === 0x82) (permitted ? out.permittedDns : out.excludedDns).push(text);
    }
  }
  return out;
}

/** RFC 5280 §4.2.1.10 rfc822Name matching: a mailbox, a host, or ".domain" for any subdomain. */
export function emailMatchesConstraint(email: string, constraint: string): boolean {
  const e = email.toLowerCase();
  const c = constraint.toLowerCase();
  if (c.includes('@')) return e === c;
  const host = e.slice(e.lastIndexOf('@') + 1);
  return c.startsWith('.') ? host.endsWith(c) : host === c;
}

/** dNSName matching: the name itself or any subdomain of it. */
export function dnsMatchesConstraint(name: string, constraint: string): boolean {
  const n = name.toLowerCase();
  const c = constraint.toLowerCase().replace(/^\./, '');
  return n === c || n.endsWith(`.${c}`);
}

/** Whether an address is allowed by a CA's name constraints (permitted, if any, and not excluded). */
export function emailPermitted(email: string, nc: NameConstraints | undefined): boolean {
  if (!nc) return true;
  if (nc.excludedEmail.some((c) => emailMatchesConstraint(email, c))) return false;
  return nc.permittedEmail.length === 0 || nc.permittedEmail.some((c) => emailMatchesConstraint(email, c));
}

export function dnsPermitted(name: string, nc: NameConstraints | undefined): boolean {
  if (!nc) return true;
  if (nc.excludedDns.some((c) => dnsMatchesConstraint(name, c))) return false;
  return nc.permittedDns.length === 0 || nc.permittedDns.some((c) => dnsMatchesConstraint(name, c));
}

function lowerDomain(email: string): string {
  const at = email.lastIndexOf('@');
  return at < 0 ? email : `${email.slice(0, at)}@${email.slice(at + 1).toLowerCase()}`;
}

export function describeCertificate(der: Uint8Array): CertificateSummary {
  let cert: x509.X509Certificate;
  let node: NodeX509;
  try {
    cert = new x509.X509Certificate(der);
    node = new NodeX509(der);
  } catch (cause) {
    throw new ProfileError('The certificate could not be read.', { cause });
  }
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const names = san?.names.items ?? [];
  const ku = cert.getExtension(x509.KeyUsagesExtension);
  const bc = cert.getExtension(x509.BasicConstraintsExtension);
  const ncExt = cert.extensions.find((e) => e.type === id_ce_nameConstraints);
  const policies = cert.getExtension(x509.CertificatePolicyExtension)?.policies ?? [];
  const cdp = cert.getExtension(x509.CRLDistributionPointsExtension);
  const key = node.publicKey;
  const details = key.asymmetricKeyDetails;
  const attr = (oid: string): string | undefined => cert.subjectName.getField(oid)[0];
  return {
    der,
    subject: cert.subject,
    issuer: cert.issuer,
    serialNumber: cert.serialNumber.toLowerCase(),
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    commonName: attr('CN'),
    staffId: attr('2.5.4.5'),
    emails: names.filter((n) => n.type === 'email').map((n) => lowerDomain(n.value)),
    dnsNames: names.filter((n) => n.type === 'dns').map((n) => n.value.toLowerCase()),
    roles: policies.map(roleOfPolicy).filter((r): r is CertificateRole => r !== undefined),
    keyUsage: ku ? KEY_USAGES.filter((_, i) => (ku.usages & (1 << i)) !== 0) : [],
    extendedKeyUsage: (cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages ?? []).map(String),
    isCa: bc?.ca ?? false,
    pathLength: bc?.pathLength,
    nameConstraints: ncExt ? parseNameConstraints(new Uint8Array(ncExt.value), ncExt.critical) : undefined,
    crlDistributionPoints: (cdp?.distributionPoints ?? []).flatMap((dp) => dp.distributionPoint?.fullName?.flatMap((n) => (n.uniformResourceIdentifier ? [n.uniformResourceIdentifier] : [])) ?? []),
    publicKey:
      key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss'
        ? { type: 'rsa', bits: details?.modulusLength ?? 0 }
        : key.asymmetricKeyType === 'ec'
          ? { type: 'ec', curve: details?.namedCurve ?? 'unknown' }
          : { type: 'other', name: key.asymmetricKeyType ?? 'unknown' },
  };
}


