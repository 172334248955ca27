import { bundleUrlForDomain } from './manifest';
import { BundleRejectedError, verifyOrgBundle, type VerifiedOrgBundle } from './verify';

/**
 * The bundle client shared by the desktop client and org nodes (SPEC §6): finds an org's bundle
 * for a mail domain, verifies it against the SSMAX root, pins the version so that an older bundle
 * is refused (rollback), caches it until it is due for refresh, and keeps using a cached bundle
 * that still verifies when a refresh fails. Network and storage are injected, so this class does
 * no I/O itself and can move to smime/ unchanged (`https-fetcher.ts` and `file-cache.ts` are the
 * Node implementations).
 */

export interface BundleFetcher {
  /** GETs the URL and returns the body; throws on network errors and non-200 answers. */
  fetch(url: string): Promise<Uint8Array>;
}

export interface CachedBundle {
  readonly bundle: Uint8Array;
  readonly version: number;
  readonly fetchedAt: Date;
}

export interface BundleCache {
  load(domain: string): Promise<CachedBundle | undefined>;
  save(domain: string, entry: CachedBundle): Promise<void>;
}

export interface BundleClientOptions {
  readonly roots: readonly Uint8Array[];
  readonly fetcher: BundleFetcher;
  readonly cache: BundleCache;
  readonly now?: () => Date;
  /** A cached bundle younger than this is used without asking the network (default 1 hour). */
  readonly refreshAfterMs?: number;
  /** Where a domain's bundle is (default `https://ssmax.<domain>/.well-known/ssmax/bundle.p7s`). */
  readonly urlFor?: (domain: string) => string;
  /** Told when a refresh failed and the cached bundle was used instead. */
  readonly onStale?: (domain: string, problem: Error) => void;
}

export class OrgBundleClient {
  readonly #o: BundleClientOptions;

  constructor(options: BundleClientOptions) {
    this.#o = options;
  }

  #now(): Date {
    return this.#o.now?.() ?? new Date();
  }

  /** The verified bundle for a mail domain, from the cache when fresh, else fetched. */
  async forDomain(domain: string, options: { forceRefresh?: boolean } = {}): Promise<VerifiedOrgBundle> {
    const d = domain.trim().toLowerCase();
    const cached = await this.#o.cache.load(d);
    const now = this.#now();
    let cachedValid: VerifiedOrgBundle | undefined;
    let cachedProblem: Error | undefined;
    if (cached) {
      try {
        cachedValid = await verifyOrgBundle(cached.bundle, { roots: this.#o.roots, now, domain: d });
      } catch (err) {
        cachedProblem = err as Error; // expired or no longer trusted: fetch a new one
      }
      const fresh = now.getTime() - cached.fetchedAt.getTime() < (this.#o.refreshAfterMs ?? 3_600_000);
      if (cachedValid && fresh && !options.forceRefresh) return cachedValid;
    }
    try {
      const bytes = await this.#o.fetcher.fetch((this.#o.urlFor ?? bundleUrlForDomain)(d));
      return await this.#accept(d, bytes, cached?.version);
    } catch (err) {
      if (cachedValid) {
        this.#o.onStale?.(d, err as Error);
        return cachedValid;
      }
      if (err instanceof BundleRejectedError || !cachedProblem) throw err;
      throw cachedProblem;
    }
  }

  /** A bundle from a file (offline distribution): verified and pinned like a fetched one. */
  async importBundle(bytes: Uint8Array, domain: string): Promise<VerifiedOrgBundle> {
    const d = domain.trim().toLowerCase();
    return this.#accept(d, bytes, (await this.#o.cache.load(d))?.version);
  }

  /** The org encryption certificate mail to this domain is encrypted to: the newest valid one. */
  async encryptionCertificateFor(domain: string): Promise<Uint8Array> {
    return (await this.forDomain(domain)).currentEncryptionCertificate;
  }

  async #accept(domain: string, bytes: Uint8Array, pinnedVersion: number | undefined): Promise<VerifiedOrgBundle> {
    const verified = await verifyOrgBundle(bytes, { roots: this.#o.roots, now: this.#now(), domain, ...(pinnedVersion === undefined ? {} : { pinnedVersion }) });
    await this.#o.cache.save(domain, { bundle: bytes, version: verified.version, fetchedAt: this.#now() });
    return verified;
  }
}
