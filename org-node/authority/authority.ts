import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { issueOrgCa, issueRootCa } from '../../smime/pki';
import { x509 } from '../../smime/x509';
import { OrgNodeError } from '../errors';
import { openKeyStore, type KeyStoreConfig, type SecretFiles } from '../keys/open';
import type { OrgKeyAlgorithm, OrgKeyStore } from '../keys/store';
import { fromPem, toPem } from '../pem';
import { checkCsr, importPublicKey } from '../../smime/pki/csr';

/**
 * The SSMAX authority on disk (`--dir`): the root CA key and certificate, and the register of admitted
 * organisations. Admitting an org = issuing its org CA certificate from the CSR the org made with
 * `ssmax org init`, name-constrained to the org's mail domains (SPEC §3).
 *
 *   authority.json    config and the register of admitted orgs
 *   keys/             the root key (encrypted key file) — or a PKCS#11 token
 *   root.pem          the SSMAX root certificate (the trust anchor shipped to clients and nodes)
 *   orgs/<serial>.pem each org CA certificate issued
 */

export class AuthorityError extends OrgNodeError {}

export interface AdmittedOrg {
  readonly name: string;
  readonly domains: readonly string[];
  readonly serial: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly admittedAt: string;
}

interface AuthorityConfig {
  readonly version: 1;
  readonly name: string;
  readonly keyStore: KeyStoreConfig;
  readonly rootKey: string;
  readonly orgs: AdmittedOrg[];
}

const YEAR = 365 * 86_400_000;

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

export class Authority {
  readonly dir: string;
  #config: AuthorityConfig;
  readonly #keys: OrgKeyStore;

  private constructor(dir: string, config: AuthorityConfig, keys: OrgKeyStore) {
    this.dir = dir;
    this.#config = config;
    this.#keys = keys;
  }

  static async init(
    dir: string,
    params: { name?: string; algorithm?: OrgKeyAlgorithm; years?: number; keyStore?: KeyStoreConfig; now?: Date },
    secrets: SecretFiles = {},
  ): Promise<Authority> {
    if (await exists(join(dir, 'authority.json'))) throw new AuthorityError(`${dir} already holds an authority (authority.json exists).`);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const keyStore = params.keyStore ?? { kind: 'file', dir: 'keys' };
    const keys = await openKeyStore(keyStore, dir, secrets);
    try {
      const key = await keys.generate('ca', params.algorithm ?? 'P-256');
      const publicKey = await importPublicKey(key.spki);
      const now = params.now ?? new Date();
      const root = await issueRootCa({
        ...(params.name ? { name: params.name } : {}),
        keys: { publicKey, privateKey: await keys.issuingKey(key.id) },
        notBefore: new Date(now.getTime() - 5 * 60_000),
        notAfter: new Date(now.getTime() + (params.years ?? 20) * YEAR),
      });
      await writeFile(join(dir, 'root.pem'), toPem(root.certificate.rawData, 'CERTIFICATE'));
      const config: AuthorityConfig = { version: 1, name: root.certificate.subject, keyStore, rootKey: key.id, orgs: [] };
      await writeFile(join(dir, 'authority.json'), `${JSON.stringify(config, null, 2)}\n`, { flag: 'wx' });
      return new Authority(dir, config, keys);
    } catch (err) {
      await keys.close();
      throw err;
    }
  }

  static async open(dir: string, secrets: SecretFiles = {}): Promise<Authority> {
    const config = await Authority.#readConfig(dir);
    return new Authority(dir, config, await openKeyStore(config.keyStore, dir, secrets));
  }

  /** The register only: no key needed (for `ssmax authority list`). */
  static async listOrgs(dir: string): Promise<AdmittedOrg[]> {
    return (await Authority.#readConfig(dir)).orgs;
  }

  static async #readConfig(dir: string): Promise<AuthorityConfig> {
    try {
      return JSON.parse(await readFile(join(dir, 'authority.json'), 'utf8')) as AuthorityConfig;
    } catch (cause) {
      throw new AuthorityError(`No SSMAX authority in ${dir} (run \`ssmax authority init\` first).`, { cause });
    }
  }

  async rootCertificate(): Promise<Uint8Array> {
    return fromPem(await readFile(join(this.dir, 'root.pem'), 'utf8'), ['CERTIFICATE']);
  }

  /**
   * Issues an org CA certificate for the CSR: CA, pathLen 0, name constraints = the domains, policy
   * org-ca. Refuses a CSR whose signature does not verify, and a domain another org already has.
   */
  async admit(params: { orgName: string; domains: readonly string[]; csr: Uint8Array; years?: number; now?: Date }): Promise<Uint8Array> {
    const orgName = params.orgName.trim();
    if (!orgName) throw new AuthorityError('The org needs a name (--org).');
    const domains = params.domains.map((d) => d.trim().toLowerCase());
    if (domains.length === 0) throw new AuthorityError('The org needs at least one mail domain (--domain).');
    for (const d of domains) {
      const holder = this.#config.orgs.find((o) => o.domains.includes(d) && new Date(o.notAfter).getTime() > Date.now());
      if (holder) throw new AuthorityError(`Domain ${d} already belongs to ${holder.name}.`);
    }
    const csr = await checkCsr(params.csr, 'org CA request');
    const rootDer = await this.rootCertificate();
    const root = { certificate: new x509.X509Certificate(rootDer), privateKey: await this.#keys.issuingKey(this.#config.rootKey) };
    const publicKey = await importPublicKey(csr.spki);
    const now = params.now ?? new Date();
    const notAfter = new Date(Math.min(now.getTime() + (params.years ?? 5) * YEAR, root.certificate.notAfter.getTime()));
    // issueOrgCa reads only keys.publicKey; the org's private key never comes here.
    const orgCa = await issueOrgCa(root, { orgName, domains, keys: { publicKey, privateKey: publicKey }, notBefore: new Date(now.getTime() - 5 * 60_000), notAfter });
    const cert = orgCa.certificate;
    await mkdir(join(this.dir, 'orgs'), { recursive: true });
    await writeFile(join(this.dir, 'orgs', `${cert.serialNumber}.pem`), toPem(cert.rawData, 'CERTIFICATE'));
    const entry: AdmittedOrg = { name: orgName, domains, serial: cert.serialNumber, notBefore: cert.notBefore.toISOString(), notAfter: cert.notAfter.toISOString(), admittedAt: now.toISOString() };
    this.#config = { ...this.#config, orgs: [...this.#config.orgs, entry] };
    await writeFile(join(this.dir, 'authority.json'), `${JSON.stringify(this.#config, null, 2)}\n`);
    return new Uint8Array(cert.rawData);
  }

  async close(): Promise<void> {
    await this.#keys.close();
  }
}
