import { readCrl } from '../../smime/chain';
import type { BundleSource } from './resolver';

/**
 * Other orgs' CRLs for the inbound check (SPEC §3: nodes refuse mail from a revoked card): the CRL
 * URL comes from the org's verified bundle, the CRL is fetched and kept until `maxAgeMs` (or until
 * its nextUpdate, whichever comes first); a failed refresh keeps using the last CRL while it is
 * younger than `staleMaxAgeMs` (then the lookup throws and the relay answers 4xx: never accept
 * unchecked). The CRL's signature, issuer and currency (thisUpdate ≤ now ≤ nextUpdate) are checked by
 * verifyMessage; the relay answers 4xx for a link whose issuer has no current CRL, so a stale
 * fallback is bounded by the CRL's own nextUpdate too.
 */
export interface PeerCrlOptions {
  readonly bundles: BundleSource;
  /** GET a URL (e.g. `httpsBundleFetcher({ timeoutMs: 5000, label: 'CRL' })` of org-node/bundle). */
  readonly fetch: (url: string) => Promise<Uint8Array>;
  readonly now?: () => Date;
  /** Default 10 minutes (a lost card is revoked within minutes). */
  readonly maxAgeMs?: number;
  /** Default 24 hours. */
  readonly staleMaxAgeMs?: number;
}

/** The CRL's nextUpdate in ms, undefined when it has none or does not parse (the core reports that). */
function nextUpdateOf(der: Uint8Array): number | undefined {
  try {
    return readCrl(der).crl.nextUpdate?.getTime();
  } catch {
    return undefined;
  }
}

export function peerCrls(o: PeerCrlOptions): (domain: string) => Promise<readonly Uint8Array[]> {
  const cache = new Map<string, { crl: Uint8Array; at: number; nextUpdate: number | undefined }>();
  const now = (): number => (o.now?.() ?? new Date()).getTime();
  return async (domain) => {
    const bundle = await o.bundles.forDomain(domain);
    const url = bundle.manifest.crlUrl;
    const hit = cache.get(url);
    const t = now();
    if (hit && t - hit.at < (o.maxAgeMs ?? 600_000) && (hit.nextUpdate === undefined || t <= hit.nextUpdate)) return [hit.crl];
    try {
      const crl = await o.fetch(url);
      cache.set(url, { crl, at: now(), nextUpdate: nextUpdateOf(crl) });
      return [crl];
    } catch (err) {
      if (hit && t - hit.at < (o.staleMaxAgeMs ?? 86_400_000)) return [hit.crl];
      throw err;
    }
  };
}
