import * as asn1js from 'asn1js';
import { verifySignedData } from '../../smime/cms';
import { roleOfPolicy, type CertificateRole } from '../../smime/pki';
import { SmimeError } from '../../smime/errors';
import { x509 } from '../../smime/x509';
import { orgBundleManifestSchema, type OrgBundleManifest } from './manifest';

/**
 * Verification of an org bundle (SPEC §6): accepted only if the CMS signature verifies, was made by
 * an org signing certificate of the org CA the manifest names, and that org CA chains to an SSMAX
 * root the caller trusts, each certificate in the role its policy OID says, valid now, the
 * manifest's domains inside the org CA's name constraints. TLS plays no part.
 *
 * Pure (bytes in, result out; WebCrypto for signatures, no I/O) so that it can move to smime/
 * unchanged; the chain checks here are the subset a bundle needs and should be replaced by the
 * core's chain verifier once that is in smime/.
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

function parseCert(der: Uint8Array, what: string): x509.X509Certificate {
  try {
    return new x509.X509Certificate(der);
  } catch (cause) {
    return reject('malformed', `The ${what} in the bundle is not a readable certificate.`, cause);
  }
}

function rolesOf(cert: x509.X509Certificate): CertificateRole[] {
  const ext = cert.getExtension(x509.CertificatePolicyExtension);
  return (ext?.policies ?? []).flatMap((p) => {
    const role = roleOfPolicy(p);
    return role ? [role] : [];
  });
}

function hasRole(cert: x509.X509Certificate, role: CertificateRole): boolean {
  const roles = rolesOf(cert);
  return roles.length === 1 && roles[0] === role;
}

function isCa(cert: x509.X509Certificate): boolean {
  return cert.getExtension(x509.BasicConstraintsExtension)?.ca === true;
}

async function issuedBy(cert: x509.X509Certificate, issuer: x509.X509Certificate): Promise<boolean> {
  if (cert.issuer !== issuer.subject) return false;
  try {
    return await cert.verify({ publicKey: issuer.publicKey, signatureOnly: true });
  } catch {
    return false;
  }
}

function checkValidity(cert: x509.X509Certificate, what: string, now: Date): void {
  if (now.getTime() < cert.notBefore.getTime()) reject('not-yet-valid', `The ${what} is not valid before ${cert.notBefore.toISOString()}.`);
  if (now.getTime() > cert.notAfter.getTime()) reject('expired', `The ${what} expired on ${cert.notAfter.toISOString()}.`);
}

/** The dNSName subtrees the org CA's name constraints permit (lower case). */
export function permittedDnsNames(orgCa: x509.X509Certificate): string[] {
  const ext = orgCa.getExtension('2.5.29.30');
  if (!ext) return [];
  const parsed = asn1js.fromBER(ext.value);
  if (parsed.offset === -1) return [];
  const names: string[] = [];
  for (const part of (parsed.result as asn1js.Sequence).valueBlock.value) {
    if (part.idBlock.tagClass !== 3 || part.idBlock.tagNumber !== 0) continue; // permittedSubtrees [0]
    for (const subtree of (part as asn1js.Constructed).valueBlock.value) {
      const base = (subtree as asn1js.Sequence).valueBlock.value[0];
      if (base && base.idBlock.tagClass === 3 && base.idBlock.tagNumber === 2) {
        names.push(new TextDecoder().decode((base as asn1js.Primitive).valueBlock.valueHexView).toLowerCase());
      }
    }
  }
  return names;
}

function within(domain: string, constraint: string): boolean {
  const d = domain.toLowerCase();
  const c = constraint.toLowerCase().replace(/^\./, '');
  return d === c || d.endsWith(`.${c}`);
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

  // 3. The org CA chains to a trusted SSMAX root.
  const orgCaDer = fromB64(manifest.orgCa);
  const orgCa = parseCert(orgCaDer, 'org CA');
  let anchor: x509.X509Certificate | undefined;
  for (const rootDer of options.roots) {
    const root = parseCert(rootDer, 'SSMAX root');
    if (hasRole(root, 'ssmax-root') && (await issuedBy(orgCa, root))) anchor = root;
  }
  if (!anchor) return reject('untrusted-root', `The org CA "${orgCa.subject}" is not issued by the SSMAX root.`);
  if (!hasRole(orgCa, 'org-ca') || !isCa(orgCa)) reject('wrong-role', 'The bundle\'s org CA certificate is not an SSMAX org CA (policy).');
  checkValidity(anchor, 'SSMAX root', options.now);
  checkValidity(orgCa, 'org CA certificate', options.now);
  if (options.pinnedOrgCa && !sameDer(options.pinnedOrgCa, orgCaDer)) reject('not-signed-by-org', 'The bundle is of a different org CA than the one pinned for this org.');

  // 4. The signer is this org's signing certificate.
  const signerDer = check.certificate!;
  const signer = parseCert(signerDer, 'signing certificate');
  if (!(await issuedBy(signer, orgCa))) reject('not-signed-by-org', `The bundle was signed by "${signer.subject}", which is not a certificate of the org CA "${orgCa.subject}".`);
  if (!hasRole(signer, 'org-signing')) reject('wrong-role', 'The bundle was not signed with an org signing certificate (policy).');
  if (!manifest.signingCertificates.some((c) => sameDer(fromB64(c), signerDer))) reject('not-signed-by-org', 'The bundle signer is not one of the signing certificates its manifest lists.');
  checkValidity(signer, 'org signing certificate', options.now);

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
  const encryption: { der: Uint8Array; cert: x509.X509Certificate }[] = [];
  for (const b64 of manifest.encryptionCertificates) {
    const der = fromB64(b64);
    const cert = parseCert(der, 'encryption certificate');
    if (!(await issuedBy(cert, orgCa))) reject('certificate-invalid', `The encryption certificate "${cert.subject}" is not issued by the org CA.`);
    if (!hasRole(cert, 'org-encryption')) reject('wrong-role', 'An encryption certificate in the bundle is not an org encryption certificate (policy).');
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

