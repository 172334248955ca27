import type { Org } from '../org';
import type { Inspector, OrgResolver, RelayDeps } from '../relay/types';

/**
 * The relay's dependencies from an opened `Org` (org.ts): its domains, org CA, signing key and every
 * encryption key (newest first: mail encrypted to a previous key during rollover still opens), the
 * SSMAX root, its own CRL, and its member directory.
 */
export async function relayDepsFromOrg(org: Org, extra: { inspect: Inspector; resolveOrg: OrgResolver; now?: () => Date }): Promise<RelayDeps> {
  const cfg = org.config;
  const signer = await org.keys.signer(cfg.keys.signing, await org.orgKeyCertificate(cfg.keys.signing));
  const decryptors = [];
  for (const id of [...cfg.keys.encryption].reverse()) decryptors.push(await org.keys.decryptor(id, await org.orgKeyCertificate(id)));
  return {
    org: { domains: cfg.domains, caCertificate: await org.orgCaCertificate(), signer, decryptors },
    trustAnchors: [await org.rootCertificate()],
    crls: async () => [await org.currentCrl()],
    directory: org.directory,
    resolveOrg: extra.resolveOrg,
    inspect: extra.inspect,
    now: extra.now ?? (() => new Date()),
  };
}
