import { randomBytes, type webcrypto } from 'node:crypto';
import * as asn1js from 'asn1js';
import { x509 } from '../x509';
import { ProfileError } from './errors';
import { ssmaxPolicyOid, type CertificateRole } from './oids';

/**
 * Certificate and CRL builders for the SSMAX PKI profile (SPEC §3):
 *
 *   SSMAX root CA ── Org CA (pathLen 0, nameConstraints = org mail domains)
 *                      ├── org signing cert      digitalSignature, SAN dNSName
 *                      ├── org encryption cert   keyEncipherment (RSA) / keyAgreement (EC), SAN dNSName
 *                      ├── employee signature    (card 9C) digitalSignature+nonRepudiation, SAN rfc822Name
 *                      └── employee key mgmt     (card 9D) keyEncipherment / keyAgreement, SAN rfc822Name
 *
 * Every certificate carries the SSMAX policy OID of its role (oids.ts) and every member certificate
 * the org CA's CRL distribution point. Keys are RSA-2048+ or P-256, signatures SHA-256.
 * The issuer signs with a WebCrypto CryptoKey (software CA keys; @peculiar/x509 needs one).
 */

export type KeyAlgorithm = 'RSA-2048' | 'P-256';

// The project compiles without the DOM lib; these are Node's WebCrypto types under their usual names.
type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
type SigningAlgorithm = webcrypto.Algorithm | webcrypto.EcdsaParams;

/** A CA able to issue: its certificate and private key. */
export interface CertificateAuthority {
  readonly certificate: x509.X509Certificate;
  readonly privateKey: CryptoKey;
}

/** The subject public key: a WebCrypto key, or SubjectPublicKeyInfo DER (e.g. from a card's CSR). */
export type SubjectPublicKey = CryptoKey | Uint8Array;

export interface Validity {
  readonly notBefore: Date;
  readonly notAfter: Date;
}

const id_emailProtection = '1.3.6.1.5.5.7.3.4';
const id_ce_nameConstraints = '2.5.29.30';
const id_ce_cRLNumber = '2.5.29.20';
const id_at_serialNumber = '2.5.4.5';

const rsaParams = { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' };
const ecParams = { name: 'ECDSA', namedCurve: 'P-256' };

/** Generates a key pair in the profile. Extractable so tests and the software org node can export PKCS#8. */
export async function generateProfileKeyPair(algorithm: KeyAlgorithm): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey(algorithm === 'RSA-2048' ? rsaParams : ecParams, true, ['sign', 'verify']);
}

/** Exports a WebCrypto private key as PKCS#8 DER (input for SoftwareSigner / softwareDecryptor). */
export async function exportPkcs8(key: CryptoKey): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.exportKey('pkcs8', key));
}

function keyKind(publicKey: SubjectPublicKey): 'rsa' | 'ec' {
  const name = publicKey instanceof Uint8Array ? new x509.PublicKey(publicKey).algorithm.name : publicKey.algorithm.name;
  if (name.startsWith('RSA')) return 'rsa';
  if (name === 'ECDSA' || name === 'ECDH') return 'ec';
  throw new ProfileError(`Key algorithm ${name} is not in the SSMAX profile.`);
}

function checkProfileKey(publicKey: SubjectPublicKey): void {
  const key = publicKey instanceof Uint8Array ? new x509.PublicKey(publicKey) : undefined;
  const alg = (key ? key.algorithm : (publicKey as CryptoKey).algorithm) as { name: string; modulusLength?: number; namedCurve?: string };
  if (alg.name.startsWith('RSA')) {
    // @peculiar/x509's PublicKey.algorithm may not report modulusLength for raw SPKI; only check when known.
    if (alg.modulusLength !== undefined && alg.modulusLength < 2048) throw new ProfileError('RSA keys must have at least 2048 bits.');
  } else if (alg.namedCurve !== undefined && alg.namedCurve !== 'P-256') {
    throw new ProfileError(`Curve ${alg.namedCurve} is not in the SSMAX profile (P-256 only).`);
  }
}

function signingAlgorithmFor(issuerKey: CryptoKey): SigningAlgorithm {
  return issuerKey.algorithm.name === 'ECDSA' ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
}

function toPublicKeyInput(publicKey: SubjectPublicKey): x509.PublicKeyType {
  return publicKey instanceof Uint8Array ? new x509.PublicKey(publicKey) : publicKey;
}

/** A positive 128-bit serial number (RFC 5280 §4.1.2.2: ≤ 20 octets, unpredictable). */
function newSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01;
  return bytes.toString('hex');
}

const anyPolicy = '2.5.29.32.0';

/**
 * The role policy. CA certificates also assert anyPolicy so that RFC 5280 policy processing with an
 * explicit policy (e.g. `openssl verify -policy <employee-signature> -explicit_policy`) passes
 * through them to the leaf's role; a leaf carries only its own role.
 */
function policy(role: CertificateRole): x509.Extension {
  const isCa = role === 'ssmax-root' || role === 'org-ca';
  return new x509.CertificatePolicyExtension(isCa ? [ssmaxPolicyOid[role], anyPolicy] : [ssmaxPolicyOid[role]]);
}

function emailProtection(): x509.Extension {
  return new x509.ExtendedKeyUsageExtension([id_emailProtection]);
}

function crlDistributionPoint(url: string | undefined): x509.Extension[] {
  return url ? [new x509.CRLDistributionPointsExtension([url])] : [];
}

/**
 * NameConstraints (RFC 5280 §4.2.1.10) permitting only the org's mail domains: for each domain an
 * rfc822Name "example.jp" (every mailbox at that host) and a dNSName "example.jp" (the host and
 * its subdomains, which the org signing/encryption certs name). Built with asn1js because
 * @peculiar/x509 has no typed NameConstraints extension.
 */
export function nameConstraintsExtension(domains: readonly string[], critical = true): x509.Extension {
  if (domains.length === 0) throw new ProfileError('An org CA needs at least one mail domain.');
  const subtree = (tag: 1 | 2, value: string): asn1js.Sequence =>
    new asn1js.Sequence({ value: [new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber: tag }, valueHex: new TextEncoder().encode(value) })] });
  const permitted = new asn1js.Constructed({
    idBlock: { tagClass: 3, tagNumber: 0 },
    value: domains.flatMap((d) => [subtree(1, normaliseDomain(d)), subtree(2, normaliseDomain(d))]),
  });
  const der = new asn1js.Sequence({ value: [permitted] }).toBER(false);
  return new x509.Extension(id_ce_nameConstraints, critical, der);
}

function normaliseDomain(domain: string): string {
  const d = domain.trim().toLowerCase();
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/.test(d)) throw new ProfileError(`"${domain}" is not a mail domain.`);
  return d;
}

function normaliseEmail(email: string): string {
  const at = email.lastIndexOf('@');
  if (at <= 0 || /[\s<>]/.test(email)) throw new ProfileError(`"${email}" is not a mail address.`);
  return `${email.slice(0, at)}@${normaliseDomain(email.slice(at + 1))}`;
}

async function issue(
  issuer: CertificateAuthority,
  subject: x509.JsonName,
  publicKey: SubjectPublicKey,
  validity: Validity,
  extensions: x509.Extension[],
): Promise<x509.X509Certificate> {
  checkProfileKey(publicKey);
  const pub = toPublicKeyInput(publicKey);
  return x509.X509CertificateGenerator.create({
    serialNumber: newSerial(),
    subject,
    issuer: issuer.certificate.subjectName,
    notBefore: validity.notBefore,
    notAfter: validity.notAfter,
    publicKey: pub,
    signingKey: issuer.privateKey,
    signingAlgorithm: signingAlgorithmFor(issuer.privateKey),
    extensions: [
      ...extensions,
      await x509.SubjectKeyIdentifierExtension.create(pub),
      await x509.AuthorityKeyIdentifierExtension.create(issuer.certificate.publicKey),
    ],
  });
}

export interface RootCaParams extends Validity {
  readonly name?: string;
  readonly keys: CryptoKeyPair;
}

/** The SSMAX authority's self-signed root (the trust anchor shipped with clients and nodes). */
export async function issueRootCa(params: RootCaParams): Promise<CertificateAuthority> {
  const name: x509.JsonName = [{ CN: [params.name ?? 'SSMAX Root CA'] }, { O: ['SSMAX'] }];
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: newSerial(),
    name,
    notBefore: params.notBefore,
    notAfter: params.notAfter,
    keys: params.keys,
    signingAlgorithm: signingAlgorithmFor(params.keys.privateKey),
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      policy('ssmax-root'),
      await x509.SubjectKeyIdentifierExtension.create(params.keys.publicKey),
    ],
  });
  return { certificate, privateKey: params.keys.privateKey };
}

export interface OrgCaParams extends Validity {
  readonly orgName: string;
  /** The org's mail domains; the name constraints permit exactly these. */
  readonly domains: readonly string[];
  readonly keys: CryptoKeyPair;
  /** Where the root publishes its CRL of org CAs, if it does. */
  readonly crlUrl?: string;
  /**
   * RFC 5280 requires nameConstraints to be critical (default). gpgsm 2.2 (libksba) does not
   * implement name constraints and so refuses any chain through a critical one; `false` trades that
   * refusal for gpgsm accepting without enforcing (OpenSSL, NSS and our verifier enforce either way).
   */
  readonly criticalNameConstraints?: boolean;
}

/** An org CA "<org> SSMAX CA": CA with pathLen 0, name-constrained to the org's mail domains. */
export async function issueOrgCa(root: CertificateAuthority, params: OrgCaParams): Promise<CertificateAuthority> {
  const certificate = await issue(root, [{ CN: [`${params.orgName} SSMAX CA`] }, { O: [params.orgName] }], params.keys.publicKey, params, [
    new x509.BasicConstraintsExtension(true, 0, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    nameConstraintsExtension(params.domains, params.criticalNameConstraints ?? true),
    policy('org-ca'),
    ...crlDistributionPoint(params.crlUrl),
  ]);
  return { certificate, privateKey: params.keys.privateKey };
}

export interface OrgKeyCertParams extends Validity {
  readonly orgName: string;
  /** The org's mail domains, as SAN dNSName. */
  readonly domains: readonly string[];
  readonly publicKey: SubjectPublicKey;
  /** The org CA's CRL (SPEC §3: in every member cert). */
  readonly crlUrl: string;
}

/** The org signing cert: makes the org's countersignatures. */
export async function issueOrgSigningCert(orgCa: CertificateAuthority, params: OrgKeyCertParams): Promise<x509.X509Certificate> {
  return issue(orgCa, [{ CN: [`${params.orgName} SSMAX signing`] }, { O: [params.orgName] }], params.publicKey, params, [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation, true),
    emailProtection(),
    new x509.SubjectAlternativeNameExtension(params.domains.map((d) => ({ type: 'dns' as const, value: normaliseDomain(d) }))),
    policy('org-signing'),
    ...crlDistributionPoint(params.crlUrl),
  ]);
}

/** The org encryption cert ("the org public key"): keyEncipherment for RSA, keyAgreement for P-256. */
export async function issueOrgEncryptionCert(orgCa: CertificateAuthority, params: OrgKeyCertParams): Promise<x509.X509Certificate> {
  return issue(orgCa, [{ CN: [`${params.orgName} SSMAX encryption`] }, { O: [params.orgName] }], params.publicKey, params, [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(encryptionUsage(params.publicKey), true),
    emailProtection(),
    new x509.SubjectAlternativeNameExtension(params.domains.map((d) => ({ type: 'dns' as const, value: normaliseDomain(d) }))),
    policy('org-encryption'),
    ...crlDistributionPoint(params.crlUrl),
  ]);
}

export interface EmployeeCertParams extends Validity {
  readonly orgName: string;
  /** The person's name as shown to recipients (subject CN). */
  readonly personName: string;
  /** Staff ID (subject serialNumber attribute, X.520): the traceability handle of SPEC §8. */
  readonly staffId: string;
  /** The person's mail address (SAN rfc822Name); must be in the org CA's domains. */
  readonly email: string;
  readonly publicKey: SubjectPublicKey;
  readonly crlUrl: string;
}

function employeeName(p: EmployeeCertParams): x509.JsonName {
  if (!/^[A-Za-z0-9 '()+,\-./:=?]+$/.test(p.staffId)) throw new ProfileError('A staff ID must be printable ASCII (X.520 PrintableString).');
  return [{ CN: [p.personName] }, { [id_at_serialNumber]: [p.staffId] }, { O: [p.orgName] }];
}

/** Employee signature cert, card slot 9C. */
export async function issueEmployeeSignatureCert(orgCa: CertificateAuthority, params: EmployeeCertParams): Promise<x509.X509Certificate> {
  return issue(orgCa, employeeName(params), params.publicKey, params, [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation, true),
    emailProtection(),
    new x509.SubjectAlternativeNameExtension([{ type: 'email', value: normaliseEmail(params.email) }]),
    policy('employee-signature'),
    ...crlDistributionPoint(params.crlUrl),
  ]);
}

/** Employee key-management cert, card slot 9D. */
export async function issueEmployeeKeyManagementCert(orgCa: CertificateAuthority, params: EmployeeCertParams): Promise<x509.X509Certificate> {
  return issue(orgCa, employeeName(params), params.publicKey, params, [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(encryptionUsage(params.publicKey), true),
    emailProtection(),
    new x509.SubjectAlternativeNameExtension([{ type: 'email', value: normaliseEmail(params.email) }]),
    policy('employee-key-management'),
    ...crlDistributionPoint(params.crlUrl),
  ]);
}

function encryptionUsage(publicKey: SubjectPublicKey): x509.KeyUsageFlags {
  return keyKind(publicKey) === 'rsa' ? x509.KeyUsageFlags.keyEncipherment : x509.KeyUsageFlags.keyAgreement;
}

export interface RevokedCertificate {
  /** Hex serial number of the revoked certificate. */
  readonly serialNumber: string;
  readonly revocationDate: Date;
  readonly reason?: x509.X509CrlReason;
}

export interface CrlParams {
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  /** Monotonic CRL number (RFC 5280 §5.2.3). */
  readonly crlNumber: number;
  readonly revoked: readonly RevokedCertificate[];
}

/** A CRL issued by `ca` (the org CA for members, the root for org CAs). */
export async function issueCrl(ca: CertificateAuthority, params: CrlParams): Promise<x509.X509Crl> {
  if (!Number.isSafeInteger(params.crlNumber) || params.crlNumber < 0) throw new ProfileError('The CRL number must be a non-negative integer.');
  return x509.X509CrlGenerator.create({
    issuer: ca.certificate.subjectName,
    thisUpdate: params.thisUpdate,
    nextUpdate: params.nextUpdate,
    signingKey: ca.privateKey,
    signingAlgorithm: signingAlgorithmFor(ca.privateKey),
    entries: params.revoked.map((r) => ({
      serialNumber: r.serialNumber,
      revocationDate: r.revocationDate,
      ...(r.reason === undefined ? {} : { reason: r.reason }),
    })),
    extensions: [
      await x509.AuthorityKeyIdentifierExtension.create(ca.certificate.publicKey),
      new x509.Extension(id_ce_cRLNumber, false, new asn1js.Integer({ value: params.crlNumber }).toBER(false)),
    ],
  });
}
