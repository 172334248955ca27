import type { VerifiedOrgBundle } from '../../smime/bundle/verify';
import type { DestinationOrg, OrgResolver } from './types';

/**
 * Org resolvers: through the bundle client (production: `OrgBundleClient.forDomain`), or a fixed map
 * (tests, air-gapped set-ups with imported bundles).
 */

/** The bundle lookup the relay needs (`OrgBundleClient` satisfies it). */
export interface BundleSource {
  forDomain(domain: string): Promise<VerifiedOrgBundle>;
}

/**
 * A domain with no bundle is not an SSMAX org only when `isMember` says so (e.g. a register of
 * admitted domains); otherwise a failed lookup is a temporary failure (never a silent downgrade).
 */
export function bundleResolver(source: BundleSource, isMember: (domain: string) => boolean | Promise<boolean> = () => true): OrgResolver {
  return async (domain) => {
    if (!(await isMember(domain))) return undefined;
    const b = await source.forDomain(domain);
    return { id: b.manifest.org.domains[0]?.toLowerCase() ?? domain, encryptionCertificate: b.currentEncryptionCertificate };
  };
}

/** A fixed map domain → org (the org's id and newest encryption certificate). */
export function staticResolver(orgs: Readonly<Record<string, DestinationOrg>>): OrgResolver {
  return (domain) => Promise.resolve(orgs[domain.toLowerCase()]);
}
