import { readCertInfo, validatePath, type CertInfo, type ChainReason, type ChainReasonCode } from '../chain';
import { verifySignedData } from '../cms';
import { SmimeError } from '../errors';
import { orgBundleManifestSchema, type OrgBundleManifest } from './manifest';

/**
 * Verification of an org bundle (SPEC §6): accepted only if the CMS signature verifies, was made by
 * an org signing certificate of the org CA the manifest names, and that org CA chains to an SSMAX
 * root the caller trusts, each certificate in the role its policy OID says, valid now, the
 * manifest's domains inside the org CA's name constraints. TLS plays no part.
 *
 * Pure (bytes in, result out, no I/O). The signer's path (signer → org CA → root) is checked by
 * `smime/chain` `validatePath` at the verification time, and its reasons are mapped onto the
 * bundle's refusal reasons; the encryption certificates (not signers) are checked here.
 */

export type BundleRejection =
  | 'malformed'
  | 'signature-invalid'
  | 'not-signed-by-org'
  | 'untrusted-root'
  | 'wrong-role'
  | 'expired'
  | 'not-yet-valid'
  | 'rolled-back'
  | 'domain-mismatch'
  | 'certificate-invalid';

/** The bundle was refused; `reason` is machine-readable, `userMessage` says why in one line. */
export class BundleRejectedError extends SmimeError {
  constructor(
    readonly reason: BundleRejection,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface BundleVerifyOptions {
  /** The SSMAX root certificate(s), DER: the only trust anchors. */
  readonly roots: readonly Uint8Array[];
  readonly now: Date;
  /** The mail domain the bundle was fetched for: must be one of the org's domains. */
  readonly domain?: string;
  /** The version pinned from an earlier bundle of this org: an older version is a rollback. */
  readonly pinnedVersion?: number;
  /** The org CA pinned earlier (DER): a bundle of a different org CA is not this org's update. */
  readonly pinnedOrgCa?: Uint8Array;
}

export interface VerifiedOrgBundle {
  readonly manifest: OrgBundleManifest;
  readonly orgCa: Uint8Array;
  readonly signingCertificate: Uint8Array;
  /** Valid org encryption certificates, newest (latest notBefore) first. */
  readonly encryptionCertificates: readonly Uint8Array[];
  /** The one senders encrypt to (SPEC §3: the newest). */
  readonly currentEncryptionCertificate: Uint8Array;
  readonly version: number;
  readonly expiresAt: Date;
}

const reject = (reason: BundleRejection, message: string, cause?: unknown): never => {
  throw new BundleRejectedError(reason, message, cause === undefined ? undefined : { cause });
};

function certInfo(der: Uint8Array, what: string): CertInfo {
  try {
    return readCertInfo(der);
  } catch (cause) {
    return reject('malformed', `The ${what} in the bundle is not a readable certificate.`, cause);
  }
}

/** Whether the org CA is signed by one of the anchors (only asked to word a refusal). */
async function orgCaUnderRoot(orgCa: CertInfo, anchors: readonly CertInfo[], now: Date): Promise<boolean> {
  const r = await validatePath(orgCa, { anchors, intermediates: [], crls: [], time: now, now, role: 'org-signing' });
  return r.path.length === 2 && !r.reasons.some((x) => x.code === 'untrusted' || x.code === 'certificate-signature-invalid');
}

/** The first path problem as a bundle refusal, in the order the bundle's reasons were always checked. */
function rejectForPath(reasons: readonly ChainReason[], signer: CertInfo, orgCa: CertInfo): void {
  const first = (...codes: ChainReasonCode[]): ChainReason | undefined => reasons.find((r) => codes.includes(r.code));
  const role = first('policy-role-mismatch', 'ca-constraints', 'key-usage', 'extended-key-usage');
  if (role) {
    const what = orgCa.ssmaxRole !== 'org-ca' ? 'The bundle\'s org CA certificate is not an SSMAX org CA (policy).' : 'The bundle was not signed with an org signing certificate (policy).';
    reject('wrong-role', what);
  }
  const time = first('expired', 'not-yet-valid');
  if (time) reject(time.code === 'expired' ? 'expired' : 'not-yet-valid', time.message);
  const names = first('name-constraints');
  if (names) reject('domain-mismatch', names.message);
  const other = first('path-profile', 'weak-key', 'weak-algorithm', 'unsupported-algorithm', 'certificate-malformed', 'revoked');
  if (other) reject('certificate-invalid', `The signing certificate "${signer.subject}" is not acceptable: ${other.message}`);
  if (reasons.length > 0) reject('certificate-invalid', reasons.map((r) => r.message).join(' '));
}

/** The dNSName subtrees the org CA's name constraints permit (lower case). */
export function permittedDnsNames(orgCa: CertInfo): string[] {
  return (orgCa.nameConstraints?.permitted?.dns ?? []).map((d) => d.toLowerCase());
}

function within(domain: string, constraint: string): boolean {
  const d = domain.toLowerCase();
  const c = constraint.toLowerCase().replace(/^\./, '');
  return d === c || d.endsWith(`.${c}`);
}

function issuedByOrgCa(cert: CertInfo, orgCa: CertInfo): boolean {
  if (cert.issuerDer !== orgCa.subjectDer) return false;
  try {
    return cert.node.verify(orgCa.publicKey);
  } catch {
    return false;
  }
}

function sameDer(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

const fromB64 = (s: string): Uint8Array => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

export async function verifyOrgBundle(bundle: Uint8Array, options: BundleVerifyOptions): Promise<VerifiedOrgBundle> {
  if (options.roots.length === 0) reject('untrusted-root', 'No SSMAX root is configured to verify bundles with.');
  // 1. The CMS signature over the manifest.
  let result: ReturnType<typeof verifySignedData>;
  try {
    result = verifySignedData(bundle);
  } catch (cause) {
    return reject('malformed', 'The bundle is not a readable CMS SignedData.', cause);
  }
  if (result.signers.length !== 1) reject('malformed', `The bundle must have exactly one signer (it has ${result.signers.length}).`);
  const check = result.signers[0]!;
  if (check.status !== 'valid' || !check.certificate) {
    reject('signature-invalid', `The bundle signature does not verify: ${check.reasons.map((r) => r.message).join(' ') || 'unknown reason'}`);
  }
  if (!result.content) return reject('malformed', 'The bundle carries no manifest.');

  // 2. The manifest.
  let manifest: OrgBundleManifest;
  try {
    manifest = orgBundleManifestSchema.parse(JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(result.content)));
  } catch (cause) {
    return reject('malformed', 'The bundle manifest is not a valid SSMAX org bundle manifest.', cause);
  }

  // 3–4. The signer's path: signer → the manifest's org CA → a trusted SSMAX root (smime/chain
  // validatePath: signatures, validity now, CA flags, key usage, roles, name constraints).
  const orgCaDer = fromB64(manifest.orgCa);
  const signerDer = check.certificate!;
  const orgCaInfo = certInfo(orgCaDer, 'org CA');
  const signerInfo = certInfo(signerDer, 'signing certificate');
  const anchors = options.roots.map((r) => certInfo(r, 'SSMAX root'));
  const path = await validatePath(signerInfo, { anchors, intermediates: [orgCaInfo], crls: [], time: options.now, now: options.now, role: 'org-signing' });
  const viaOrgCa = path.path.length >= 2 && path.path[1]!.sha256 === orgCaInfo.sha256;
  const anchored = !path.reasons.some((r) => r.code === 'untrusted' || r.code === 'certificate-signature-invalid');
  if (!viaOrgCa || (path.path.length === 2 && !anchored)) {
    // Either the org CA is not under the root, or the signer is not the org CA's.
    if (!(await orgCaUnderRoot(orgCaInfo, anchors, options.now)))
      reject('untrusted-root', `The org CA "${orgCaInfo.subject}" is not issued by the SSMAX root.`);
    reject('not-signed-by-org', `The bundle was signed by "${signerInfo.subject}", which is not a certificate of the org CA "${orgCaInfo.subject}".`);
  }
  if (!anchored) reject('untrusted-root', `The org CA "${orgCaInfo.subject}" is not issued by the SSMAX root.`);
  if (path.profile !== 'ssmax') reject('untrusted-root', `The org CA "${orgCaInfo.subject}" is not issued by an SSMAX root.`);
  if (options.pinnedOrgCa && !sameDer(options.pinnedOrgCa, orgCaDer)) reject('not-signed-by-org', 'The bundle is of a different org CA than the one pinned for this org.');
  rejectForPath(path.reasons, signerInfo, orgCaInfo);
  if (!manifest.signingCertificates.some((c) => sameDer(fromB64(c), signerDer))) reject('not-signed-by-org', 'The bundle signer is not one of the signing certificates its manifest lists.');
  const orgCa = orgCaInfo;

  // 5. Freshness and rollback.
  const issuedAt = new Date(manifest.issuedAt);
  const expiresAt = new Date(manifest.expiresAt);
  if (options.now.getTime() >= expiresAt.getTime()) reject('expired', `The bundle expired on ${expiresAt.toISOString()}.`);
  if (issuedAt.getTime() > options.now.getTime() + 10 * 60_000) reject('not-yet-valid', `The bundle claims to be issued in the future (${issuedAt.toISOString()}).`);
  if (options.pinnedVersion !== undefined && manifest.version < options.pinnedVersion) {
    reject('rolled-back', `The bundle is version ${manifest.version}, older than version ${options.pinnedVersion} seen before (rollback).`);
  }

  // 6. Domains: inside the org CA's name constraints; the one asked for is the org's.
  const permitted = permittedDnsNames(orgCa);
  for (const d of manifest.org.domains) {
    if (!permitted.some((c) => within(d, c))) reject('domain-mismatch', `The bundle names domain ${d}, which the org CA may not serve.`);
  }
  if (options.domain !== undefined && !manifest.org.domains.some((d) => d.toLowerCase() === options.domain!.toLowerCase())) {
    reject('domain-mismatch', `The bundle is not for ${options.domain} (it is for ${manifest.org.domains.join(', ')}).`);
  }

  // 7. The encryption certificates: this org CA's, in role, valid now; newest first.
  // (Not signers, so not validatePath: issued by the org CA, in role, valid now.)
  const encryption: { der: Uint8Array; cert: CertInfo }[] = [];
  for (const b64 of manifest.encryptionCertificates) {
    const der = fromB64(b64);
    const cert = certInfo(der, 'encryption certificate');
    if (!issuedByOrgCa(cert, orgCa)) reject('certificate-invalid', `The encryption certificate "${cert.subject}" is not issued by the org CA.`);
    if (cert.ssmaxRole !== 'org-encryption') reject('wrong-role', 'An encryption certificate in the bundle is not an org encryption certificate (policy).');
    if (options.now >= cert.notBefore && options.now <= cert.notAfter) encryption.push({ der, cert });
  }
  if (encryption.length === 0) reject('expired', 'The bundle has no currently valid org encryption certificate.');
  encryption.sort((a, b) => b.cert.notBefore.getTime() - a.cert.notBefore.getTime());

  return {
    manifest,
    orgCa: orgCaDer,
    signingCertificate: signerDer,
    encryptionCertificates: encryption.map((e) => e.der),
    currentEncryptionCertificate: encryption[0]!.der,
    version: manifest.version,
    expiresAt,
  };
}

