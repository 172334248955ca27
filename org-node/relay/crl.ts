import type { BundleSource } from './resolver';

/**
 * Other orgs' CRLs for the inbound check (SPEC §3: nodes refuse mail from a revoked card): the CRL
 * URL comes from the org's verified bundle, the CRL is fetched and kept until `maxAgeMs`; a failed
 * refresh keeps using the last CRL while it is younger than `staleMaxAgeMs` (then the lookup throws
 * and the relay answers 4xx: never accept unchecked). The CRL's signature and issuer are checked
 * by verifyMessage (a CRL that does not verify against the org CA only becomes a note).
 */
export interface PeerCrlOptions {
  readonly bundles: BundleSource;
  /** GET a URL (e.g. `httpsBundleFetcher()` of org-node/bundle). */
  readonly fetch: (url: string) => Promise<Uint8Array>;
  readonly now?: () => Date;
  /** Default 10 minutes (a lost card is revoked within minutes). */
  readonly maxAgeMs?: number;
  /** Default 24 hours. */
  readonly staleMaxAgeMs?: number;
}

export function peerCrls(o: PeerCrlOptions): (domain: string) => Promise<readonly Uint8Array[]> {
  const cache = new Map<string, { crl: Uint8Array; at: number }>();
  const now = (): number => (o.now?.() ?? new Date()).getTime();
  return async (domain) => {
    const bundle = await o.bundles.forDomain(domain);
    const url = bundle.manifest.crlUrl;
    const hit = cache.get(url);
    if (hit && now() - hit.at < (o.maxAgeMs ?? 600_000)) return [hit.crl];
    try {
      const crl = await o.fetch(url);
      cache.set(url, { crl, at: now() });
      return [crl];
    } catch (err) {
      if (hit && now() - hit.at < (o.staleMaxAgeMs ?? 86_400_000)) return [hit.crl];
      throw err;
    }
  };
}
