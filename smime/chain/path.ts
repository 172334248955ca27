/**
 * Certificate path validation for one signature (SPEC §3), written here rather than with PKI.js's
 * CertificateChainValidationEngine: that engine checks one validation date for the whole path and
 * stops at the first error, knows nothing of the SSMAX role policies, does not apply rfc822Name
 * constraints to the SAN the way SSMAX needs (mailbox at a permitted host), and cannot say *which*
 * of several problems (revoked, expired, untrusted …) a link has. SSMAX paths have three fixed
 * levels (leaf → org CA → root), so the logic is short and every rule has its own reason code.
 *
 * Ordinary S/MIME paths (an anchor that is not an SSMAX root, e.g. the RFC 9216 LAMPS CA) get the
 * generic checks only (signatures, validity, CA flags, key usage, EKU, name constraints, CRL) and
 * are marked `generic`: such a link can make a message `signed`, never `verified`.
 */
import { x509 } from '../x509';
import type { CertificateRole } from '../pki/oids';
import { readCertInfo, type CertInfo, type NameSubtrees } from './certificate';
import type { ChainReason, ChainReasonCode, LinkStatus, PathCertificate } from './model';

export type PathProfile = 'ssmax' | 'generic';

export interface CrlInfo {
  readonly der: Uint8Array;
  readonly crl: x509.X509Crl;
  readonly issuerDer: string;
}

/** What a CRL source had for a set of distribution points: the CRLs (parsed) and why any could not be had. */
export interface SourcedCrls {
  readonly crls: readonly CrlInfo[];
  /** One plain phrase per failure (unreachable, timed out, not a CRL …); empty when every URL answered. */
  readonly problems: readonly string[];
}

export interface PathOptions {
  readonly anchors: readonly CertInfo[];
  /** Candidate intermediates (the certificates of the CMS, the org bundle …). */
  readonly intermediates: readonly CertInfo[];
  readonly crls: readonly CrlInfo[];
  /** The time the path must be valid at: the signing time of the link being checked. */
  readonly time: Date;
  /** The evaluation time: a CRL must be current at this time. */
  readonly now: Date;
  /** SSMAX role the leaf must have (ignored for generic paths). */
  readonly role: CertificateRole;
  /**
   * Asked for the CRLs at a certificate's distribution points when `crls` holds no current one of
   * its issuer (the client fetches them; the core does no I/O). Without it a certificate with no
   * current CRL is noted `revocation-not-checked`.
   */
  readonly crlsFor?: (urls: readonly string[]) => Promise<SourcedCrls>;
}

export interface PathResult {
  readonly status: LinkStatus;
  readonly profile: PathProfile | undefined;
  /** Leaf first; ends with the anchor when one was reached. */
  readonly path: readonly CertInfo[];
  /** SSMAX: the org CA the leaf was issued by (when the path is a complete SSMAX path). */
  readonly orgCa: CertInfo | undefined;
  readonly reasons: readonly ChainReason[];
  readonly notes: readonly ChainReason[];
}

const EMAIL_PROTECTION = '1.3.6.1.5.5.7.3.4';
const ANY_EKU = '2.5.29.37.0';
const MAX_PATH = 5;

/** Certificate signature algorithms accepted (RFC 8551 §2.2 minus SHA-1; SSMAX issues SHA-256). */
const ACCEPTED_SIGNATURES = new Set([
  '1.2.840.113549.1.1.11', // sha256WithRSAEncryption
  '1.2.840.113549.1.1.12',
  '1.2.840.113549.1.1.13',
  '1.2.840.113549.1.1.10', // RSASSA-PSS (hash checked below)
  '1.2.840.10045.4.3.2', // ecdsa-with-SHA256
  '1.2.840.10045.4.3.3',
  '1.2.840.10045.4.3.4',
]);
const WEAK_SIGNATURES = new Set(['1.2.840.113549.1.1.5', '1.2.840.113549.1.1.4', '1.2.840.10045.4.1', '1.2.840.10040.4.3', '1.3.14.3.2.29']);

const KU = { digitalSignature: 1, nonRepudiation: 2, keyCertSign: 32, cRLSign: 64 } as const;

export function reason(code: ChainReasonCode, message: string): ChainReason {
  return { code, message };
}

/** Status of a set of reasons: a broken signature first, then untrusted, revoked, expired, then any other rule. */
export function statusOf(reasons: readonly ChainReason[]): LinkStatus {
  if (reasons.length === 0) return 'valid';
  const has = (...codes: ChainReasonCode[]): boolean => reasons.some((r) => codes.includes(r.code));
  if (has('signature-invalid', 'digest-mismatch', 'certificate-signature-invalid', 'certificate-malformed', 'malformed', 'content-conflict', 'certificate-not-found', 'signing-certificate-mismatch'))
    return 'invalid';
  if (has('untrusted')) return 'untrusted';
  if (has('revoked')) return 'revoked';
  if (has('expired', 'not-yet-valid')) return 'expired';
  return 'invalid';
}

export function describePath(path: readonly CertInfo[]): PathCertificate[] {
  return path.map((c) => ({
    subject: c.subject,
    issuer: c.issuer,
    serialNumber: c.serialNumber,
    sha256: c.sha256,
    notBefore: c.notBefore,
    notAfter: c.notAfter,
    ssmaxRole: c.ssmaxRole,
  }));
}

/** Parses CRLs (DER); malformed ones are dropped and reported by the caller. */
export function readCrl(der: Uint8Array): CrlInfo {
  const crl = new x509.X509Crl(der);
  return { der, crl, issuerDer: Buffer.from(new Uint8Array(crl.issuerName.toArrayBuffer())).toString('hex') };
}

function issuedBy(child: CertInfo, issuer: CertInfo): boolean {
  if (child.issuerDer !== issuer.subjectDer) return false;
  if (child.authorityKeyId && issuer.subjectKeyId && child.authorityKeyId !== issuer.subjectKeyId) return false;
  return true;
}

function signatureValid(child: CertInfo, issuer: CertInfo): boolean {
  try {
    return child.node.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

interface Built {
  readonly path: CertInfo[];
  readonly anchored: boolean;
  readonly badSignature: boolean;
}

/** Depth-first search leaf → anchor; anchors tried first at each level. */
function build(leaf: CertInfo, options: PathOptions): Built {
  let best: Built = { path: [leaf], anchored: false, badSignature: false };
  const visit = (path: CertInfo[]): Built | undefined => {
    const cur = path[path.length - 1] as CertInfo;
    if (path.length > MAX_PATH) return undefined;
    for (const anchor of options.anchors) {
      if (!issuedBy(cur, anchor)) continue;
      if (signatureValid(cur, anchor)) return { path: [...path, anchor], anchored: true, badSignature: false };
      best = { path: [...path, anchor], anchored: false, badSignature: true };
    }
    for (const next of options.intermediates) {
      if (path.some((p) => p.sha256 === next.sha256) || !issuedBy(cur, next)) continue;
      if (!signatureValid(cur, next)) {
        if (!best.badSignature) best = { path: [...path, next], anchored: false, badSignature: true };
        continue;
      }
      if (!best.badSignature && path.length + 1 > best.path.length) best = { path: [...path, next], anchored: false, badSignature: false };
      const found = visit([...path, next]);
      if (found) return found;
    }
    return undefined;
  };
  return visit([leaf]) ?? best;
}

function keyReasons(c: CertInfo, out: ChainReason[]): void {
  const k = c.publicKey;
  const d = k.asymmetricKeyDetails;
  if (k.asymmetricKeyType === 'rsa' || k.asymmetricKeyType === 'rsa-pss') {
    if ((d?.modulusLength ?? 0) < 2048) out.push(reason('weak-key', `The certificate "${c.subject}" has an RSA key of ${d?.modulusLength ?? 0} bits (2048 required).`));
  } else if (k.asymmetricKeyType === 'ec') {
    if (!['prime256v1', 'secp384r1', 'secp521r1'].includes(d?.namedCurve ?? ''))
      out.push(reason('unsupported-algorithm', `The certificate "${c.subject}" uses the curve ${d?.namedCurve ?? 'unknown'}, which is not accepted.`));
  } else out.push(reason('unsupported-algorithm', `The certificate "${c.subject}" has a ${k.asymmetricKeyType ?? 'unknown'} key, which is not accepted.`));
}

function signatureAlgorithmReasons(c: CertInfo, out: ChainReason[]): void {
  if (WEAK_SIGNATURES.has(c.signatureAlgorithm)) {
    out.push(reason('weak-algorithm', `The certificate "${c.subject}" is signed with SHA-1 or MD5, which is not accepted.`));
    return;
  }
  if (!ACCEPTED_SIGNATURES.has(c.signatureAlgorithm)) {
    out.push(reason('unsupported-algorithm', `The certificate "${c.subject}" is signed with an algorithm that is not accepted (${c.signatureAlgorithm}).`));
    return;
  }
  if (c.signatureAlgorithm === '1.2.840.113549.1.1.10') {
    const hash = (c.cert.signatureAlgorithm as { hash?: { name?: string } }).hash?.name ?? '';
    if (!['SHA-256', 'SHA-384', 'SHA-512'].includes(hash)) out.push(reason('weak-algorithm', `The certificate "${c.subject}" uses RSA-PSS with ${hash || 'an unknown hash'}.`));
  }
}

function validityReasons(c: CertInfo, time: Date, out: ChainReason[]): void {
  if (time.getTime() > c.notAfter.getTime())
    out.push(reason('expired', `The certificate "${c.subject}" expired on ${c.notAfter.toISOString()}, before the signing time ${time.toISOString()}.`));
  else if (time.getTime() < c.notBefore.getTime())
    out.push(reason('not-yet-valid', `The certificate "${c.subject}" was not yet valid at the signing time ${time.toISOString()}.`));
}

/** RFC 5280 §4.2.1.10 matching for the SSMAX name forms. */
export function emailWithin(email: string, constraint: string): boolean {
  const at = email.lastIndexOf('@');
  if (at < 0) return false;
  const host = email.slice(at + 1).toLowerCase();
  const c = constraint.toLowerCase();
  if (c.includes('@')) return email.slice(0, at) === c.slice(0, c.lastIndexOf('@')) && host === c.slice(c.lastIndexOf('@') + 1);
  if (c.startsWith('.')) return host.endsWith(c);
  return host === c;
}

export function dnsWithin(name: string, constraint: string): boolean {
  const n = name.toLowerCase().replace(/\.$/, '');
  const c = constraint.toLowerCase().replace(/^\./, '');
  if (c === '') return true;
  return n === c || n.endsWith(`.${c}`);
}

function nameConstraintReasons(ca: CertInfo, below: readonly CertInfo[], out: ChainReason[]): void {
  const nc = ca.nameConstraints;
  if (!nc) return;
  const permits = (t: NameSubtrees | undefined, kind: 'rfc822' | 'dns', value: string): boolean => {
    const list = t?.[kind] ?? [];
    if (list.length === 0) return true; // this name form is not constrained
    return list.some((c) => (kind === 'rfc822' ? emailWithin(value, c) : dnsWithin(value, c)));
  };
  const excludes = (t: NameSubtrees | undefined, kind: 'rfc822' | 'dns', value: string): boolean =>
    (t?.[kind] ?? []).some((c) => (kind === 'rfc822' ? emailWithin(value, c) : dnsWithin(value, c)));
  for (const c of below) {
    for (const email of c.emails) {
      if (!permits(nc.permitted, 'rfc822', email) || excludes(nc.excluded, 'rfc822', email))
        out.push(reason('name-constraints', `The address ${email} is outside the domains "${ca.subject}" may issue for.`));
    }
    for (const dns of c.dnsNames) {
      if (!permits(nc.permitted, 'dns', dns) || excludes(nc.excluded, 'dns', dns))
        out.push(reason('name-constraints', `The domain ${dns} is outside the domains "${ca.subject}" may issue for.`));
    }
  }
}

function stripSerial(s: string): string {
  return s.toLowerCase().replace(/^0+/, '');
}

type CrlOutcome = 'revoked' | 'checked' | 'not-checked';

/** Checks `c` against the CRLs of `issuer` among `crls`: revoked (a reason is added), checked (a current CRL), or not. */
async function checkCrls(c: CertInfo, issuer: CertInfo, crls: readonly CrlInfo[], options: PathOptions, out: ChainReason[], notes: ChainReason[]): Promise<CrlOutcome> {
  let checked = false;
  for (const info of crls) {
    if (info.issuerDer !== issuer.subjectDer) continue;
    let ok = false;
    try {
      ok = await info.crl.verify({ publicKey: issuer.cert.publicKey });
    } catch {
      ok = false;
    }
    const alg = (info.crl.signatureAlgorithm as { hash?: { name?: string } }).hash?.name;
    if (!ok || alg === 'SHA-1') {
      notes.push(reason('crl-invalid', `A CRL naming "${issuer.subject}" as issuer is not signed by it (or uses SHA-1); it was ignored.`));
      continue;
    }
    const next = info.crl.nextUpdate;
    const current = info.crl.thisUpdate.getTime() <= options.now.getTime() && (next === undefined || options.now.getTime() <= next.getTime());
    const entry = info.crl.entries.find((e) => stripSerial(e.serialNumber) === stripSerial(c.serialNumber));
    if (entry) {
      if (entry.revocationDate.getTime() <= options.time.getTime()) {
        out.push(reason('revoked', `The certificate "${c.subject}" was revoked on ${entry.revocationDate.toISOString()}, before the signing time ${options.time.toISOString()}.`));
        return 'revoked';
      }
      notes.push(reason('revoked', `The certificate "${c.subject}" was revoked on ${entry.revocationDate.toISOString()}, after this signature was made.`));
    }
    if (current) checked = true;
    else notes.push(reason('crl-stale', `The CRL of "${issuer.subject}" is not current (this update ${info.crl.thisUpdate.toISOString()}).`));
  }
  return checked ? 'checked' : 'not-checked';
}

async function revocationReasons(c: CertInfo, issuer: CertInfo, options: PathOptions, out: ChainReason[], notes: ChainReason[]): Promise<void> {
  const given = await checkCrls(c, issuer, options.crls, options, out, notes);
  if (given !== 'not-checked') return;
  if (options.crlsFor) {
    // A certificate that names no distribution point has no CRL to ask for: its issuer publishes
    // none for it (SSMAX org CAs under the root). Only member certificates are revoked (SPEC §3).
    if (c.crlUrls.length === 0) return;
    const sourced = await options.crlsFor(c.crlUrls);
    const known = new Set(options.crls.map((i) => Buffer.from(i.der).toString('base64')));
    const fresh = sourced.crls.filter((i) => !known.has(Buffer.from(i.der).toString('base64')));
    const fetched = await checkCrls(c, issuer, fresh, options, out, notes);
    if (fetched !== 'not-checked') return;
    if (sourced.problems.length > 0) {
      notes.push(reason('revocation-unavailable', `Revocation of "${c.subject}" could not be checked: ${sourced.problems.join('; ')}.`));
      return;
    }
  }
  notes.push(reason('revocation-not-checked', `No current CRL of "${issuer.subject}" was available: revocation of "${c.subject}" was not checked.`));
}

/** Validates the path of `leaf` for a signature made at `options.time`. Never throws. */
export async function validatePath(leaf: CertInfo, options: PathOptions): Promise<PathResult> {
  const reasons: ChainReason[] = [];
  const notes: ChainReason[] = [];
  const built = build(leaf, options);
  const path = built.path;
  if (built.badSignature) reasons.push(reason('certificate-signature-invalid', `The certificate "${(path[path.length - 2] ?? leaf).subject}" is not validly signed by its issuer.`));
  if (!built.anchored) {
    if (!built.badSignature) reasons.push(reason('untrusted', `The certificate "${path[path.length - 1]?.subject ?? leaf.subject}" does not chain to a trusted root.`));
    return { status: statusOf(reasons), profile: undefined, path, orgCa: undefined, reasons, notes };
  }
  const anchor = path[path.length - 1] as CertInfo;
  const profile: PathProfile = anchor.ssmaxRole === 'ssmax-root' ? 'ssmax' : 'generic';

  for (const c of path) {
    validityReasons(c, options.time, reasons);
    keyReasons(c, reasons);
    if (c !== anchor) signatureAlgorithmReasons(c, reasons);
    if (c.unknownCritical.length > 0) reasons.push(reason('certificate-malformed', `The certificate "${c.subject}" has critical extensions this verifier does not know (${c.unknownCritical.join(', ')}).`));
  }
  // Issuers: CA flag, keyCertSign, pathLen, name constraints over everything below them.
  for (let i = 1; i < path.length; i++) {
    const ca = path[i] as CertInfo;
    if (ca.isCa !== true) reasons.push(reason('ca-constraints', `"${ca.subject}" issued a certificate but is not a CA.`));
    if (ca.keyUsage !== undefined && (ca.keyUsage & KU.keyCertSign) === 0) reasons.push(reason('key-usage', `"${ca.subject}" may not sign certificates (key usage).`));
    const intermediatesBelow = i - 1;
    if (ca.pathLength !== undefined && intermediatesBelow > ca.pathLength) reasons.push(reason('ca-constraints', `"${ca.subject}" allows ${ca.pathLength} CA levels below it; the path has ${intermediatesBelow}.`));
    nameConstraintReasons(ca, path.slice(0, i), reasons);
  }
  // The signer.
  if (leaf.isCa === true) reasons.push(reason('ca-constraints', `The signer's certificate "${leaf.subject}" is a CA certificate.`));
  if (leaf.keyUsage !== undefined && (leaf.keyUsage & (KU.digitalSignature | KU.nonRepudiation)) === 0)
    reasons.push(reason('key-usage', `The certificate "${leaf.subject}" may not be used for signatures (key usage).`));
  if (leaf.extendedKeyUsage !== undefined && !leaf.extendedKeyUsage.some((u) => u === EMAIL_PROTECTION || u === ANY_EKU))
    reasons.push(reason('extended-key-usage', `The certificate "${leaf.subject}" is not for e-mail protection (extended key usage).`));

  let orgCa: CertInfo | undefined;
  if (profile === 'ssmax') {
    if (path.length !== 3) reasons.push(reason('path-profile', `An SSMAX signer certificate must be issued by an org CA under the SSMAX root (path of ${path.length} certificates).`));
    else {
      orgCa = path[1] as CertInfo;
      if (orgCa.ssmaxRole !== 'org-ca') reasons.push(reason('policy-role-mismatch', `"${orgCa.subject}" is not an SSMAX org CA (certificate policy).`));
      if (!orgCa.nameConstraints?.permitted || (orgCa.nameConstraints.permitted.rfc822.length === 0 && orgCa.nameConstraints.permitted.dns.length === 0))
        reasons.push(reason('name-constraints', `The org CA "${orgCa.subject}" has no name constraints for its mail domains.`));
    }
    if (leaf.ssmaxRole !== options.role)
      reasons.push(reason('policy-role-mismatch', `The certificate "${leaf.subject}" is a ${leaf.ssmaxRole ?? 'non-SSMAX'} certificate; this link needs a ${options.role} certificate.`));
    if (options.role === 'employee-signature' && leaf.emails.length === 0) reasons.push(reason('path-profile', `The certificate "${leaf.subject}" names no mail address.`));
    if (options.role === 'org-signing' && leaf.dnsNames.length === 0) reasons.push(reason('path-profile', `The org certificate "${leaf.subject}" names no domain.`));
  } else notes.push(reason('generic-pki', `The certificate chains to "${anchor.subject}", which is not an SSMAX root: ordinary S/MIME.`));

  for (let i = 0; i + 1 < path.length; i++) await revocationReasons(path[i] as CertInfo, path[i + 1] as CertInfo, options, reasons, notes);
  return { status: statusOf(reasons), profile, path, orgCa, reasons, notes };
}

/** Reads certificates leniently: malformed ones are skipped (they can only make a path not found). */
export function readCertInfos(ders: readonly Uint8Array[]): CertInfo[] {
  return ders.flatMap((d) => {
    try {
      return [readCertInfo(d)];
    } catch {
      return [];
    }
  });
}
