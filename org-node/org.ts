import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  issueCrl,
  issueEmployeeKeyManagementCert,
  issueEmployeeSignatureCert,
  issueOrgEncryptionCert,
  issueOrgSigningCert,
  roleOfPolicy,
  type CertificateAuthority,
} from '../smime/pki';
import { x509 } from '../smime/x509';
import type { MemberDirectory, RevocationReason } from './directory/directory';
import { SqliteMemberDirectory } from './directory/sqlite';
import { OrgNodeError } from './errors';
import { openKeyStore, type KeyStoreConfig, type SecretFiles } from './keys/open';
import type { OrgKeyAlgorithm, OrgKeyStore } from './keys/store';
import { BUNDLE_PATH, CRL_PATH } from '../smime/bundle/manifest';
import { signOrgBundle } from '../smime/bundle/sign';
import { fromPem, toPem } from './pem';
import { checkCsr, createCsr } from '../smime/pki/csr';

/**
 * One organisation's node state on disk (`--dir`): config, keys, certificates, directory, CRL and
 * bundle. The CLI and the HTTP server are thin layers over this class.
 *
 *   org.json            config (OrgConfig), written by `ssmax org init`
 *   keys/               encrypted key files (file store) — absent with a PKCS#11 token
 *   org-ca.csr.pem      the CSR to hand to the SSMAX authority
 *   org-ca.pem root.pem the org CA certificate from the authority and the SSMAX root (trust anchor)
 *   certs/<key id>.pem  org signing and encryption certificates
 *   directory.sqlite    members, certificates, enrollment codes, audit log
 *   org-ca.crl          the current CRL (DER), reissued on each revocation
 *   bundle.p7s          the current signed org bundle
 */

export interface OrgConfig {
  readonly version: 1;
  readonly name: string;
  readonly domains: readonly string[];
  readonly algorithm: OrgKeyAlgorithm;
  readonly keyStore: KeyStoreConfig;
  readonly keys: { readonly ca: string; readonly signing: string; readonly encryption: readonly string[] };
  /** Base URL of the node's public HTTPS side; CRL and bundle are at well-known paths under it. */
  readonly publicBaseUrl: string;
  readonly submission: { readonly host: string; readonly port: number };
  readonly abuseEndpoint: string;
  /** Where `ssmax org serve` listens, and its TLS certificate and key (PEM files). */
  readonly listen: { readonly host: string; readonly port: number };
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
  readonly bundleValidityDays: number;
  readonly memberCertificateDays: number;
  readonly crlValidityDays: number;
}

export class OrgSetupError extends OrgNodeError {}
export class EnrollmentError extends OrgNodeError {}

const DAY = 86_400_000;
/** Certificates start a little in the past so that a peer whose clock is behind accepts them. */
const BACKDATE_MS = 5 * 60_000;

export interface OrgInitParams {
  readonly name: string;
  readonly domains: readonly string[];
  readonly algorithm?: OrgKeyAlgorithm;
  readonly keyStore?: KeyStoreConfig;
  readonly publicBaseUrl?: string;
  readonly submission?: { host: string; port: number };
  readonly listen?: { host: string; port: number };
}

export interface IssuedMemberCertificates {
  readonly signature: Uint8Array;
  readonly keyManagement: Uint8Array;
  /** org CA then root: what the card stores besides its own certificates. */
  readonly chain: readonly Uint8Array[];
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Writes atomically (temp + rename): a server reading the CRL or bundle never sees half a file. */
async function writeAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, data, { mode: 0o644 });
  await rename(tmp, path);
}

export class Org {
  readonly dir: string;
  #config: OrgConfig;
  readonly keys: OrgKeyStore;
  readonly directory: MemberDirectory;
  readonly #now: () => Date;

  private constructor(dir: string, config: OrgConfig, keys: OrgKeyStore, directory: MemberDirectory, now: () => Date) {
    this.dir = dir;
    this.#config = config;
    this.keys = keys;
    this.directory = directory;
    this.#now = now;
  }

  get config(): OrgConfig {
    return this.#config;
  }

  get crlUrl(): string {
    return `${this.#config.publicBaseUrl}${CRL_PATH}`;
  }

  get bundleUrl(): string {
    return `${this.#config.publicBaseUrl}${BUNDLE_PATH}`;
  }

  /** Creates the org's keys and the CSR for its CA certificate. The directory must not hold an org yet. */
  static async init(dir: string, params: OrgInitParams, secrets: SecretFiles = {}): Promise<{ org: Org; csrPath: string }> {
    if (await exists(join(dir, 'org.json'))) throw new OrgSetupError(`${dir} already holds an org (org.json exists).`);
    const domains = params.domains.map((d) => d.trim().toLowerCase());
    if (domains.length === 0) throw new OrgSetupError('An org needs at least one mail domain (--domain).');
    for (const d of domains) if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/.test(d)) throw new OrgSetupError(`"${d}" is not a mail domain.`);
    const name = params.name.trim();
    if (!name) throw new OrgSetupError('An org needs a name (--name).');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const keyStoreConfig = params.keyStore ?? { kind: 'file', dir: 'keys' };
    const algorithm = params.algorithm ?? 'P-256';
    const keys = await openKeyStore(keyStoreConfig, dir, secrets);
    try {
      const ca = await keys.generate('ca', algorithm);
      const signing = await keys.generate('signing', algorithm);
      const encryption = await keys.generate('encryption', algorithm);
      const primary = domains[0]!;
      const publicBaseUrl = (params.publicBaseUrl ?? `https://ssmax.${primary}`).replace(/\/+$/, '');
      const config: OrgConfig = {
        version: 1,
        name,
        domains,
        algorithm,
        keyStore: keyStoreConfig,
        keys: { ca: ca.id, signing: signing.id, encryption: [encryption.id] },
        publicBaseUrl,
        submission: params.submission ?? { host: `smtp.${primary}`, port: 587 },
        abuseEndpoint: `${publicBaseUrl}/ssmax/abuse/v1`,
        listen: params.listen ?? { host: '0.0.0.0', port: 443 },
        bundleValidityDays: 30,
        memberCertificateDays: 730,
        crlValidityDays: 7,
      };
      const csr = await createCsr([{ CN: [`${name} SSMAX CA`] }, { O: [name] }], ca.spki, await keys.issuingKey(ca.id));
      const csrPath = join(dir, 'org-ca.csr.pem');
      await writeFile(csrPath, toPem(csr, 'CERTIFICATE REQUEST'));
      await writeFile(join(dir, 'org.json'), `${JSON.stringify(config, null, 2)}\n`, { flag: 'wx' });
      const directory = SqliteMemberDirectory.open(join(dir, 'directory.sqlite'));
      return { org: new Org(dir, config, keys, directory, () => new Date()), csrPath };
    } catch (err) {
      await keys.close();
      throw err;
    }
  }

  static async open(dir: string, secrets: SecretFiles = {}, options: { now?: () => Date } = {}): Promise<Org> {
    let config: OrgConfig;
    try {
      config = JSON.parse(await readFile(join(dir, 'org.json'), 'utf8')) as OrgConfig;
    } catch (cause) {
      throw new OrgSetupError(`No org in ${dir} (cannot read org.json; run \`ssmax org init\` first).`, { cause });
    }
    if (config.version !== 1) throw new OrgSetupError(`${dir}/org.json has an unknown version.`);
    const keys = await openKeyStore(config.keyStore, dir, secrets);
    // Every configured key must be there now: a node must fail at startup, not at its first mail.
    try {
      for (const id of [config.keys.ca, config.keys.signing, ...config.keys.encryption]) await keys.get(id);
    } catch (err) {
      await keys.close();
      throw err;
    }
    const directory = SqliteMemberDirectory.open(join(dir, 'directory.sqlite'), options.now ? { now: options.now } : {});
    return new Org(dir, config, keys, directory, options.now ?? (() => new Date()));
  }

  async close(): Promise<void> {
    await this.directory.close();
    await this.keys.close();
  }

  /**
   * Installs the org CA certificate the authority issued (and the root it chains to), then issues
   * the org signing and encryption certificates, the first CRL and the first bundle.
   */
  async installCa(orgCaDer: Uint8Array, rootDer: Uint8Array): Promise<void> {
    const caCert = new x509.X509Certificate(orgCaDer);
    const root = new x509.X509Certificate(rootDer);
    const caKey = await this.keys.get(this.#config.keys.ca);
    if (!sameBytes(caCert.publicKey.rawData, caKey.spki)) throw new OrgSetupError('This org CA certificate is not for this org\'s CA key.');
    if (!(await caCert.verify({ publicKey: root.publicKey, signatureOnly: true })) || caCert.issuer !== root.subject) {
      throw new OrgSetupError('The org CA certificate was not issued by this root.');
    }
    if (policyRoles(caCert)[0] !== 'org-ca') throw new OrgSetupError('The certificate is not an SSMAX org CA certificate (policy).');
    if (policyRoles(root)[0] !== 'ssmax-root') throw new OrgSetupError('The root is not the SSMAX root (policy).');
    await writeFile(join(this.dir, 'org-ca.pem'), toPem(orgCaDer, 'CERTIFICATE'));
    await writeFile(join(this.dir, 'root.pem'), toPem(rootDer, 'CERTIFICATE'));
    await mkdir(join(this.dir, 'certs'), { recursive: true });
    await this.#issueOrgCertificate('signing', this.#config.keys.signing);
    for (const id of this.#config.keys.encryption) await this.#issueOrgCertificate('encryption', id);
    await this.reissueCrl();
    await this.publishBundle();
  }

  async orgCaCertificate(): Promise<Uint8Array> {
    return this.#readCert(join(this.dir, 'org-ca.pem'), 'The org CA certificate is not installed yet (run `ssmax org install-ca`).');
  }

  async rootCertificate(): Promise<Uint8Array> {
    return this.#readCert(join(this.dir, 'root.pem'), 'The SSMAX root certificate is not installed yet (run `ssmax org install-ca`).');
  }

  async orgKeyCertificate(keyId: string): Promise<Uint8Array> {
    return this.#readCert(join(this.dir, 'certs', `${keyId}.pem`), `The certificate of org key ${keyId} is missing.`);
  }

  /** Encryption certificates, newest first (SPEC §3: senders use the newest). */
  async encryptionCertificates(): Promise<Uint8Array[]> {
    return Promise.all([...this.#config.keys.encryption].reverse().map((id) => this.orgKeyCertificate(id)));
  }

  /**
   * Key rollover: a new encryption key and certificate become the newest; the old keys stay in the
   * store and in the config, so mail encrypted to them still decrypts. Publishes a new bundle.
   */
  async rolloverEncryptionKey(): Promise<string> {
    const key = await this.keys.generate('encryption', this.#config.algorithm);
    await this.#issueOrgCertificate('encryption', key.id);
    await this.#saveConfig({ ...this.#config, keys: { ...this.#config.keys, encryption: [...this.#config.keys.encryption, key.id] } });
    await this.publishBundle();
    return key.id;
  }

  /**
   * Issues a member's card certificates from two CSRs made on the card (9C, 9D). Each CSR's
   * signature is the proof that the card holds the private key.
   */
  async issueMemberCertificates(address: string, signatureCsr: Uint8Array, keyManagementCsr: Uint8Array, actor: string): Promise<IssuedMemberCertificates> {
    const member = await this.directory.getMember(address);
    if (!member) throw new EnrollmentError(`${address} is not a member.`);
    assertOrgAddress(this.#config, member.address);
    if (member.status !== 'active') throw new EnrollmentError(`${member.address} is ${member.status}: no certificates can be issued.`);
    const sig = await checkCsr(signatureCsr, 'signature (9C) request');
    const km = await checkCsr(keyManagementCsr, 'key-management (9D) request');
    if (sameBytes(sig.spki, km.spki)) throw new EnrollmentError('The 9C and 9D requests carry the same key; each slot needs its own key.');
    const ca = await this.#authority();
    const now = this.#now();
    const notAfter = new Date(Math.min(now.getTime() + this.#config.memberCertificateDays * DAY, ca.certificate.notAfter.getTime()));
    const params = {
      orgName: this.#config.name,
      personName: member.name,
      staffId: member.staffId,
      email: member.address,
      crlUrl: this.crlUrl,
      notBefore: new Date(now.getTime() - BACKDATE_MS),
      notAfter,
    };
    const signature = await issueEmployeeSignatureCert(ca, { ...params, publicKey: sig.spki });
    const keyManagement = await issueEmployeeKeyManagementCert(ca, { ...params, publicKey: km.spki });
    for (const [slot, cert] of [
      ['9C', signature],
      ['9D', keyManagement],
    ] as const) {
      await this.directory.recordCertificate(
        { serial: cert.serialNumber, address: member.address, slot, der: new Uint8Array(cert.rawData), notBefore: cert.notBefore, notAfter: cert.notAfter },
        actor,
      );
    }
    // One person, one staff card: the certificates of a previous card are superseded now. (Its old
    // 9D certificate stays in the history; revocation does not stop decrypting old mail.)
    const issued = new Set([signature.serialNumber, keyManagement.serialNumber].map((s) => s.toLowerCase().replace(/^(00)+/, '')));
    let superseded = 0;
    for (const old of await this.directory.certificates(member.address)) {
      if (!old.revokedAt && !issued.has(old.serial)) superseded += (await this.directory.revokeCertificate(old.serial, 'superseded', actor)) ? 1 : 0;
    }
    if (superseded > 0) await this.reissueCrl();
    return { signature: new Uint8Array(signature.rawData), keyManagement: new Uint8Array(keyManagement.rawData), chain: [await this.orgCaCertificate(), await this.rootCertificate()] };
  }

  /** Suspends or revokes a member (all their certificates) and reissues the CRL at once. */
  async setMemberStatus(address: string, status: 'suspended' | 'revoked', actor: string, reason?: RevocationReason): Promise<number> {
    const revoked = await this.directory.setStatus(address, status, actor, reason);
    await this.reissueCrl();
    return revoked.length;
  }

  /** Revokes one certificate (a lost card) and reissues the CRL. */
  async revokeCertificate(serial: string, reason: RevocationReason, actor: string): Promise<void> {
    await this.directory.revokeCertificate(serial, reason, actor);
    await this.reissueCrl();
  }

  /** Issues a fresh CRL from the directory and writes it to org-ca.crl (DER). */
  async reissueCrl(): Promise<Uint8Array> {
    const ca = await this.#authority();
    const now = this.#now();
    const revoked = await this.directory.revokedCertificates();
    const crl = await issueCrl(ca, {
      thisUpdate: now,
      nextUpdate: new Date(now.getTime() + this.#config.crlValidityDays * DAY),
      crlNumber: await this.directory.nextCrlNumber(),
      revoked: revoked.map((r) => ({ serialNumber: r.serial, revocationDate: r.revokedAt, reason: x509.X509CrlReason[r.reason] })),
    });
    const der = new Uint8Array(crl.rawData);
    await writeAtomic(join(this.dir, 'org-ca.crl'), der);
    return der;
  }

  async currentCrl(): Promise<Uint8Array> {
    return new Uint8Array(await readFile(join(this.dir, 'org-ca.crl')));
  }

  /** Signs a new bundle (version + 1) and writes it to bundle.p7s. */
  async publishBundle(): Promise<Uint8Array> {
    const signingCert = await this.orgKeyCertificate(this.#config.keys.signing);
    const signer = await this.keys.signer(this.#config.keys.signing, signingCert);
    const state = await this.#bundleState();
    const now = this.#now();
    const bundle = await signOrgBundle(
      {
        org: { name: this.#config.name, domains: [...this.#config.domains] },
        version: state.version + 1,
        issuedAt: now,
        expiresAt: new Date(now.getTime() + this.#config.bundleValidityDays * DAY),
        orgCa: await this.orgCaCertificate(),
        signingCertificates: [signingCert],
        encryptionCertificates: await this.encryptionCertificates(),
        crlUrl: this.crlUrl,
        submission: this.#config.submission,
        abuseEndpoint: this.#config.abuseEndpoint,
      },
      signer,
    );
    await writeAtomic(join(this.dir, 'bundle.p7s'), bundle);
    await writeFile(join(this.dir, 'bundle-state.json'), `${JSON.stringify({ version: state.version + 1 })}\n`);
    return bundle;
  }

  async currentBundle(): Promise<Uint8Array> {
    return new Uint8Array(await readFile(join(this.dir, 'bundle.p7s')));
  }

  async #bundleState(): Promise<{ version: number }> {
    try {
      return JSON.parse(await readFile(join(this.dir, 'bundle-state.json'), 'utf8')) as { version: number };
    } catch {
      return { version: 0 };
    }
  }

  async #authority(): Promise<CertificateAuthority> {
    return { certificate: new x509.X509Certificate(await this.orgCaCertificate()), privateKey: await this.keys.issuingKey(this.#config.keys.ca) };
  }

  async #issueOrgCertificate(purpose: 'signing' | 'encryption', keyId: string): Promise<void> {
    const ca = await this.#authority();
    const key = await this.keys.get(keyId);
    const now = this.#now();
    const params = {
      orgName: this.#config.name,
      domains: this.#config.domains,
      publicKey: key.spki,
      crlUrl: this.crlUrl,
      notBefore: new Date(now.getTime() - BACKDATE_MS),
      notAfter: new Date(Math.min(now.getTime() + 2 * 365 * DAY, ca.certificate.notAfter.getTime())),
    };
    const cert = purpose === 'signing' ? await issueOrgSigningCert(ca, params) : await issueOrgEncryptionCert(ca, params);
    await writeFile(join(this.dir, 'certs', `${keyId}.pem`), toPem(cert.rawData, 'CERTIFICATE'));
  }

  async #saveConfig(config: OrgConfig): Promise<void> {
    await writeAtomic(join(this.dir, 'org.json'), `${JSON.stringify(config, null, 2)}\n`);
    this.#config = config;
  }

  async #readCert(path: string, missing: string): Promise<Uint8Array> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (cause) {
      throw new OrgSetupError(missing, { cause });
    }
    return fromPem(text, ['CERTIFICATE']);
  }
}

/**
 * A member's address must be at one of the org's domains: the org CA's name constraints permit
 * exactly those hosts, so a certificate for any other address would be refused by every verifier.
 */
export function assertOrgAddress(config: Pick<OrgConfig, 'domains' | 'name'>, address: string): void {
  const domain = address.slice(address.lastIndexOf('@') + 1).trim().toLowerCase();
  if (!config.domains.includes(domain)) throw new EnrollmentError(`${address} is not at a domain of ${config.name} (${config.domains.join(', ')}).`);
}

/** The SSMAX roles named by a certificate's policies (CA certificates also carry anyPolicy). */
export function policyRoles(cert: x509.X509Certificate): string[] {
  const ext = cert.getExtension(x509.CertificatePolicyExtension);
  return (ext?.policies ?? []).flatMap((p) => {
    const role = roleOfPolicy(p);
    return role ? [role] : [];
  });
}

function sameBytes(a: Uint8Array | ArrayBuffer, b: Uint8Array | ArrayBuffer): boolean {
  return Buffer.from(a instanceof ArrayBuffer ? new Uint8Array(a) : a).equals(Buffer.from(b instanceof ArrayBuffer ? new Uint8Array(b) : b));
}
