import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { readCertInfo } from '../../smime/chain';
import { BundleRejectedError, bundleUrlForDomain, verifyOrgBundle, type BundleFetcher, type VerifiedOrgBundle } from '../../smime/bundle';
import { BundleUnreachable, FirstLaunchError } from './errors';
import { httpsBundleFetcher } from './https-fetcher';
import { PinStore, type PinRecord } from './pin-store';
import { certificatesFromPem, orgDomainOf, parseProvisioning, type Provisioning } from './provisioning';

/**
 * First launch and the pinned org bundle (SPEC §6): find the user's address (argument, provisioning
 * file from IT, or the card's 9C certificate), fetch the org bundle over HTTPS from the org's
 * well-known URL, verify it with the core to the SSMAX root (never trusting TLS), let the user
 * confirm org name and key fingerprint, pin it in the data dir, and refresh it in the background:
 * a newer version under the same org CA replaces the pin (key rollover: the newest encryption
 * certificate wins), anything else — rollback, another org CA, a bad signature — is refused loudly
 * and the pin is kept; unreachable hosts mean "offline" while the pin stays valid.
 */

/** The part of the card service first launch needs (`native/card-service` `CardServiceClient.status`). */
export interface CardAddressSource {
  status(): Promise<{ state: string; signatureCertificate?: Uint8Array | undefined }>;
}

export interface OrgSummary {
  name: string;
  domains: string[];
  /** SHA-256 of the org encryption certificate senders use now (the newest), `AB:CD:…`. */
  encryptionKeyFingerprint: string;
  /** SHA-256 of the org CA certificate, `AB:CD:…`. */
  orgCaFingerprint: string;
  version: number;
  expiresAt: string;
}

export interface MailSettingsFromOrg {
  /** From the provisioning file (the manifest names no IMAP host); absent: manual entry. */
  imap?: { host: string; port: number; security: 'tls' | 'starttls' };
  /** The bundle's submission host. */
  smtp: { host: string; port: number };
}

export interface Discovery {
  id: string;
  address: string;
  domain: string;
  org: OrgSummary;
  mail: MailSettingsFromOrg;
}

export type OrgState = 'none' | 'pinned' | 'offline' | 'refresh-refused' | 'expired';

export interface OrgStatusValue {
  state: OrgState;
  address?: string;
  org?: OrgSummary;
  mail?: MailSettingsFromOrg;
  lastRefreshAt?: string;
  /** Why the last refresh did not replace the pin (offline or refused). */
  problem?: { code: 'offline' | 'rejected'; reason?: string; message: string };
}

export interface RefreshProblem {
  code: 'offline' | 'rejected' | 'expired';
  reason?: string;
  message: string;
  /** The pinned version still in use. */
  keptVersion: number;
}

export interface FirstLaunchOptions {
  dataDir: string;
  /** SSMAX roots (DER). Default: the provisioning file's `trustAnchorsPem`, else `trustAnchorFile`. */
  roots?: readonly Uint8Array[];
  /** The built-in root (`build/trust/ssmax-root.pem`), replaceable by IT. */
  trustAnchorFile?: string;
  /** IT's provisioning file (JSON, see provisioning.ts). */
  provisioningFile?: string;
  card?: CardAddressSource;
  /** Base URL replacing `https://ssmax.<domain>` (tests, a node on another host). */
  bundleBaseUrl?: string;
  /** A CA for the TLS connection to the bundle host. */
  tlsCaPem?: string;
  /** Replaces the HTTPS fetcher (given the TLS CA in effect). */
  fetcher?: (tlsCaPem: string | undefined) => BundleFetcher;
  now?: () => Date;
  /** Background refresh interval (default 6 h); 0 = no timer. */
  refreshIntervalMs?: number;
  onChanged?: (status: OrgStatusValue) => void;
  onRefreshFailed?: (problem: RefreshProblem) => void;
}

export const DEFAULT_TRUST_ANCHOR_FILE = new URL('../../build/trust/ssmax-root.pem', import.meta.url);

export function fingerprint(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex').toUpperCase().match(/../g)!.join(':');
}

const sha256hex = (der: Uint8Array): string => createHash('sha256').update(der).digest('hex');

interface Pending extends Discovery {
  bytes: Uint8Array;
  verified: VerifiedOrgBundle;
  url: string;
  tlsCaPem: string | undefined;
}

export class FirstLaunchService {
  readonly #o: FirstLaunchOptions;
  readonly #store: PinStore;
  readonly #pending = new Map<string, Pending>();
  #pin: { record: PinRecord; verified: VerifiedOrgBundle | undefined } | undefined;
  #state: OrgState = 'none';
  #problem: OrgStatusValue['problem'];
  #timer: NodeJS.Timeout | undefined;
  #refreshing: Promise<OrgStatusValue> | undefined;
  #seq = 0;

  private constructor(o: FirstLaunchOptions) {
    this.#o = o;
    this.#store = new PinStore(o.dataDir);
  }

  /** Loads (and re-verifies) the pin, and starts the background refresh when one exists. */
  static async open(o: FirstLaunchOptions): Promise<FirstLaunchService> {
    const s = new FirstLaunchService(o);
    const pinned = await s.#store.load();
    if (pinned) {
      try {
        const roots = await s.#roots(await s.#provisioning().catch(() => undefined));
        const verified = await verifyOrgBundle(pinned.bundle, { roots, now: s.#now(), domain: pinned.record.domain });
        s.#pin = { record: pinned.record, verified };
        s.#state = 'pinned';
      } catch (err) {
        s.#pin = { record: pinned.record, verified: undefined };
        s.#state = 'expired';
        s.#problem = { code: 'rejected', ...(err instanceof BundleRejectedError ? { reason: err.reason } : {}), message: (err as Error).message };
      }
      s.#startTimer();
    }
    return s;
  }

  #now(): Date {
    return this.#o.now?.() ?? new Date();
  }

  async #provisioning(): Promise<Provisioning | undefined> {
    if (!this.#o.provisioningFile) return undefined;
    let text: string;
    try {
      text = await readFile(this.#o.provisioningFile, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    return parseProvisioning(text);
  }

  async #roots(provisioning?: Provisioning): Promise<Uint8Array[]> {
    if (provisioning?.trustAnchorsPem) return provisioning.trustAnchorsPem.flatMap(certificatesFromPem);
    if (this.#o.roots && this.#o.roots.length > 0) return [...this.#o.roots];
    const file = this.#o.trustAnchorFile ?? DEFAULT_TRUST_ANCHOR_FILE;
    let roots: Uint8Array[] = [];
    try {
      roots = certificatesFromPem(await readFile(file, 'utf8'));
    } catch {
      roots = [];
    }
    if (roots.length === 0)
      throw new FirstLaunchError('no-trust-anchor', `No SSMAX root certificate is configured (${String(file)}); ask IT for the root or a provisioning file.`);
    // A damaged file, or an org CA put there instead of the authority's root, is not a trust anchor.
    const isRoot = (der: Uint8Array): boolean => {
      try {
        return readCertInfo(der).ssmaxRole === 'ssmax-root';
      } catch {
        return false;
      }
    };
    if (!roots.every(isRoot))
      throw new FirstLaunchError('no-trust-anchor', `${String(file)} does not hold an SSMAX root certificate; ask IT for the root or a provisioning file.`);
    return roots;
  }

  /** The SSMAX roots in effect (option, IT's provisioning file, or `build/trust/ssmax-root.pem`), e.g. to verify mail with. */
  async trustAnchors(): Promise<Uint8Array[]> {
    return this.#roots(await this.#provisioning().catch(() => undefined));
  }

  /** The user's address: the argument, else the provisioning file, else the card's 9C certificate. */
  async findAddress(explicit?: string): Promise<{ address: string; from: 'argument' | 'provisioning' | 'card' }> {
    if (explicit) return { address: explicit.trim(), from: 'argument' };
    const p = await this.#provisioning();
    if (p) return { address: p.address, from: 'provisioning' };
    if (this.#o.card) {
      const status = await this.#o.card.status().catch(() => undefined);
      const der = status?.state === 'present' ? status.signatureCertificate : undefined;
      const email = der ? readCertInfo(der).emails[0] : undefined;
      if (email) return { address: email, from: 'card' };
    }
    throw new FirstLaunchError('no-address', 'No mail address is known: insert the staff card, use the provisioning file from IT, or enter the address.');
  }

  #fetcher(tlsCaPem: string | undefined): BundleFetcher {
    return this.#o.fetcher ? this.#o.fetcher(tlsCaPem) : httpsBundleFetcher(tlsCaPem ? { ca: tlsCaPem } : {});
  }

  #urlFor(domain: string, p: Provisioning | undefined): string {
    if (p?.bundleUrl) return p.bundleUrl;
    if (this.#o.bundleBaseUrl) return `${this.#o.bundleBaseUrl.replace(/\/+$/, '')}/.well-known/ssmax/bundle.p7s`;
    return bundleUrlForDomain(domain);
  }

  async #fetch(url: string, tlsCaPem: string | undefined): Promise<Uint8Array> {
    try {
      return await this.#fetcher(tlsCaPem).fetch(url);
    } catch (err) {
      const message = err instanceof BundleUnreachable ? err.message : `The org bundle at ${url} could not be fetched: ${(err as Error).message}`;
      throw new FirstLaunchError('offline', message, { cause: err });
    }
  }

  async #verify(bytes: Uint8Array, domain: string, roots: Uint8Array[], pinned?: PinRecord): Promise<VerifiedOrgBundle> {
    try {
      const v = await verifyOrgBundle(bytes, { roots, now: this.#now(), domain, ...(pinned ? { pinnedVersion: pinned.version } : {}) });
      if (pinned && sha256hex(v.orgCa) !== pinned.orgCaSha256)
        throw new BundleRejectedError('not-signed-by-org', 'The bundle is of a different org CA than the one pinned for this org.');
      return v;
    } catch (err) {
      if (err instanceof BundleRejectedError) throw new FirstLaunchError('rejected', `The org bundle was refused: ${err.message}`, { reason: err.reason, cause: err });
      throw err;
    }
  }

  /**
   * Finds the address, fetches and verifies the org bundle; nothing is pinned until `confirm`.
   * Offline → `FirstLaunchError('offline')`; failed verification → `FirstLaunchError('rejected')`.
   */
  async discover(address?: string): Promise<Discovery> {
    const provisioning = await this.#provisioning();
    const found = await this.findAddress(address);
    const domain = provisioning && (!address || address.toLowerCase() === provisioning.address.toLowerCase()) ? orgDomainOf(provisioning) : orgDomainOf({ address: found.address });
    const roots = await this.#roots(provisioning);
    // The file's URL, TLS CA and mail settings are for its own org only.
    const p = provisioning && orgDomainOf(provisioning) === domain ? provisioning : undefined;
    const tlsCaPem = p?.tlsCaPem ?? this.#o.tlsCaPem;
    const url = this.#urlFor(domain, p);
    const bytes = await this.#fetch(url, tlsCaPem);
    const samePin = this.#pin && this.#pin.record.domain === domain ? this.#pin.record : undefined;
    const verified = await this.#verify(bytes, domain, roots, samePin);
    const imap = p?.imap;
    const mail: MailSettingsFromOrg = {
      ...(imap ? { imap } : {}),
      smtp: p?.smtp ?? { host: verified.manifest.submission.host, port: verified.manifest.submission.port },
    };
    const id = `org-${++this.#seq}-${sha256hex(bytes).slice(0, 12)}`;
    const d: Pending = { id, address: found.address, domain, org: summary(verified), mail, bytes, verified, url, tlsCaPem };
    this.#pending.set(id, d);
    return { id, address: d.address, domain, org: d.org, mail };
  }

  /** A discovery not confirmed yet (its address and mail settings), e.g. to create the mail account with it. */
  discovered(id: string): (Discovery & { tlsCaPem: string | undefined }) | undefined {
    const d = this.#pending.get(id);
    return d ? { id: d.id, address: d.address, domain: d.domain, org: d.org, mail: d.mail, tlsCaPem: d.tlsCaPem } : undefined;
  }

  /** Pins a discovered bundle (after the user confirmed the org name and fingerprint). */
  async confirm(id: string): Promise<OrgStatusValue> {
    const d = this.#pending.get(id);
    if (!d) throw new FirstLaunchError('not-discovered', 'Nothing to confirm: discover the organisation first.');
    const now = this.#now().toISOString();
    const record: PinRecord = {
      format: 'ssmax-pin/1',
      address: d.address,
      domain: d.domain,
      orgName: d.org.name,
      domains: d.org.domains,
      orgCaSha256: sha256hex(d.verified.orgCa),
      version: d.verified.version,
      encryptionKeyFingerprint: d.org.encryptionKeyFingerprint,
      bundleUrl: d.url,
      ...(d.tlsCaPem ? { tlsCaPem: d.tlsCaPem } : {}),
      mail: d.mail,
      pinnedAt: now,
      refreshedAt: now,
    };
    try {
      await this.#store.save({ record, bundle: d.bytes });
    } catch (cause) {
      throw new FirstLaunchError('storage', 'The org bundle could not be saved in the data folder.', { cause });
    }
    this.#pending.clear();
    this.#pin = { record, verified: d.verified };
    this.#state = 'pinned';
    this.#problem = undefined;
    this.#startTimer();
    const s = this.status();
    this.#o.onChanged?.(s);
    return s;
  }

  status(): OrgStatusValue {
    if (!this.#pin) return { state: 'none' };
    const { record, verified } = this.#pin;
    return {
      state: this.#state,
      address: record.address,
      ...(verified ? { org: summary(verified) } : {}),
      mail: record.mail,
      lastRefreshAt: record.refreshedAt,
      ...(this.#problem ? { problem: this.#problem } : {}),
    };
  }

  /** The org encryption certificate to encrypt to now (the newest valid one), or undefined. */
  currentEncryptionCertificate(): Uint8Array | undefined {
    return this.#state === 'expired' ? undefined : this.#pin?.verified?.currentEncryptionCertificate;
  }

  /** The pinned org CA certificate (DER), e.g. to carry in a signature so any S/MIME client can build the path. */
  currentOrgCaCertificate(): Uint8Array | undefined {
    return this.#state === 'expired' ? undefined : this.#pin?.verified?.orgCa;
  }

  /** The pinned org's abuse desk (SPEC §8): the bundle's endpoint and the TLS CA the bundle was fetched with. */
  abuseDesk(): { url: string; tlsCaPem: string | undefined } | undefined {
    if (this.#state === 'expired' || !this.#pin?.verified) return undefined;
    return { url: this.#pin.verified.manifest.abuseEndpoint, tlsCaPem: this.#pin.record.tlsCaPem };
  }

  /** The private CA IT gave for the org nodes' TLS (provisioning `tlsCaPem`), if any: also for CRL fetches. */
  pinnedTlsCaPem(): string | undefined {
    return this.#pin?.record.tlsCaPem;
  }

  /** Where IT mode enrolls cards: the pinned bundle's URL (the node serves its enrollment API on that origin) and its TLS CA. */
  enrollmentTarget(): { bundleUrl: string; tlsCaPem: string | undefined } | undefined {
    if (!this.#pin) return undefined;
    return { bundleUrl: this.#pin.record.bundleUrl, tlsCaPem: this.#pin.record.tlsCaPem };
  }

  /** One refresh of the pinned bundle (the timer calls this; concurrent calls share one run). */
  refresh(): Promise<OrgStatusValue> {
    this.#refreshing ??= this.#refresh().finally(() => (this.#refreshing = undefined));
    return this.#refreshing;
  }

  async #refresh(): Promise<OrgStatusValue> {
    const pin = this.#pin;
    if (!pin) return this.status();
    const record = pin.record;
    const roots = await this.#roots(await this.#provisioning().catch(() => undefined));
    // Is the pin itself still usable?
    let current: VerifiedOrgBundle | undefined;
    try {
      current = pin.verified ? await verifyOrgBundle((await this.#store.load())?.bundle ?? new Uint8Array(), { roots, now: this.#now(), domain: record.domain }) : undefined;
    } catch {
      current = undefined;
    }
    try {
      const bytes = await this.#fetch(record.bundleUrl, record.tlsCaPem);
      const v = await this.#verify(bytes, record.domain, roots, record);
      const now = this.#now().toISOString();
      const next: PinRecord =
        v.version > record.version
          ? { ...record, orgName: v.manifest.org.name, domains: v.manifest.org.domains, version: v.version, encryptionKeyFingerprint: fingerprint(v.currentEncryptionCertificate), mail: { ...record.mail, smtp: record.mail.smtp }, refreshedAt: now }
          : { ...record, refreshedAt: now };
      await this.#store.save({ record: next, bundle: v.version > record.version ? bytes : ((await this.#store.load())?.bundle ?? bytes) });
      this.#pin = { record: next, verified: v.version > record.version ? v : (current ?? v) };
      this.#state = 'pinned';
      this.#problem = undefined;
      this.#o.onChanged?.(this.status());
    } catch (err) {
      if (!(err instanceof FirstLaunchError) || (err.code !== 'offline' && err.code !== 'rejected')) throw err;
      this.#pin = { record, verified: current };
      this.#state = current ? (err.code === 'offline' ? 'offline' : 'refresh-refused') : 'expired';
      this.#problem = { code: err.code, ...(err.reason ? { reason: err.reason } : {}), message: err.message };
      this.#o.onRefreshFailed?.({ code: current ? err.code : 'expired', ...(err.reason ? { reason: err.reason } : {}), message: current ? err.message : `${err.message} The pinned org bundle is no longer valid.`, keptVersion: record.version });
      this.#o.onChanged?.(this.status());
    }
    return this.status();
  }

  #startTimer(): void {
    const every = this.#o.refreshIntervalMs ?? 6 * 3_600_000;
    if (every <= 0 || this.#timer) return;
    this.#timer = setInterval(() => {
      this.refresh().catch((err: unknown) => console.error('ssmax: org bundle refresh failed:', err));
    }, every);
    this.#timer.unref();
  }

  /** Stops the background refresh (waits for one in progress). */
  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#refreshing?.catch(() => undefined);
  }
}

function summary(v: VerifiedOrgBundle): OrgSummary {
  return {
    name: v.manifest.org.name,
    domains: [...v.manifest.org.domains],
    encryptionKeyFingerprint: fingerprint(v.currentEncryptionCertificate),
    orgCaFingerprint: fingerprint(v.orgCa),
    version: v.version,
    expiresAt: v.expiresAt.toISOString(),
  };
}
