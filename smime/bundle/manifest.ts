import { z } from 'zod';

/**
 * The org bundle manifest (SPEC §6): what a client or another org node needs to trust and reach an
 * organisation. It travels as the eContent (id-data, UTF-8 JSON) of a CMS SignedData made by the
 * org signing key, with the org signing certificate and the org CA in its certificate set.
 * Pure: no I/O, so that it can move to smime/ unchanged.
 */

export const BUNDLE_FORMAT = 'ssmax-org-bundle/1';

/** The well-known path of the bundle on the org's node host (`https://ssmax.<mail domain>`). */
export const BUNDLE_PATH = '/.well-known/ssmax/bundle.p7s';
/** The well-known path of the org CA's CRL on the same host. */
export const CRL_PATH = '/.well-known/ssmax/org-ca.crl';
/** The org node's enrollment API (POST JSON, org-node/http/server.ts), on the same host as the bundle. */
export const ENROLL_PATH = '/ssmax/enroll/v1';

/** Where a bundle is looked up for a mail domain: host `ssmax.<domain>`, well-known path. */
export function bundleUrlForDomain(domain: string): string {
  return `https://ssmax.${domain.toLowerCase()}${BUNDLE_PATH}`;
}

const base64Der = z.string().regex(/^[A-Za-z0-9+/]+={0,2}$/, 'base64 DER expected');
const isoTime = z.string().datetime({ offset: true });

export const orgBundleManifestSchema = z
  .object({
    format: z.literal(BUNDLE_FORMAT),
    org: z.object({ name: z.string().min(1).max(200), domains: z.array(z.string().min(3).max(253)).min(1).max(50) }).strict(),
    /** Increases with every bundle the org publishes; clients refuse to go back (rollback). */
    version: z.number().int().positive(),
    issuedAt: isoTime,
    expiresAt: isoTime,
    /** The org CA certificate, base64 DER. */
    orgCa: base64Der,
    /** The current org signing certificate(s), base64 DER, current first. */
    signingCertificates: z.array(base64Der).min(1).max(10),
    /** The org encryption certificates ("the org public key"), base64 DER, newest first; senders use the newest. */
    encryptionCertificates: z.array(base64Der).min(1).max(10),
    crlUrl: z.string().url(),
    submission: z.object({ host: z.string().min(1), port: z.number().int().min(1).max(65535) }).strict(),
    abuseEndpoint: z.string().url(),
  })
  .strict();

export type OrgBundleManifest = z.infer<typeof orgBundleManifestSchema>;
