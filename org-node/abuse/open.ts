import type { BundleSource } from '../relay/resolver';
import type { Org } from '../org';
import { AbuseDesk, type AbuseDeskOptions } from './desk';

/**
 * Production wiring of the desk: the forward endpoint of another org is the `abuseEndpoint` of its
 * verified bundle (the same bundle client the relay uses: `OrgBundleClient`, verified against the SSMAX
 * root, cached). A lookup that fails throws, so the report is recorded as `failed` with the reason.
 */
export function bundleAbuseEndpoint(bundles: BundleSource): AbuseDeskOptions['resolveAbuseEndpoint'] {
  return async (domain) => (await bundles.forDomain(domain)).manifest.abuseEndpoint;
}

/** Opens the org's desk (`abuse.sqlite` in the org directory) with the bundle-based forward lookup. */
export function openAbuseDesk(org: Org, options: { bundles: BundleSource } & Omit<AbuseDeskOptions, 'resolveAbuseEndpoint'>): AbuseDesk {
  const { bundles, ...rest } = options;
  return AbuseDesk.open(org, { ...rest, resolveAbuseEndpoint: bundleAbuseEndpoint(bundles) });
}
