import { signData } from '../cms';
import type { Signer } from '../keys';
import { BUNDLE_FORMAT, type OrgBundleManifest } from './manifest';

export interface OrgBundleContent {
  readonly org: { readonly name: string; readonly domains: string[] };
  readonly version: number;
  readonly issuedAt: Date;
  readonly expiresAt: Date;
  readonly orgCa: Uint8Array;
  readonly signingCertificates: readonly Uint8Array[];
  readonly encryptionCertificates: readonly Uint8Array[];
  readonly crlUrl: string;
  readonly submission: { readonly host: string; readonly port: number };
  readonly abuseEndpoint: string;
}

const b64 = (der: Uint8Array): string => Buffer.from(der).toString('base64');

export function manifestOf(content: OrgBundleContent): OrgBundleManifest {
  return {
    format: BUNDLE_FORMAT,
    org: { name: content.org.name, domains: [...content.org.domains] },
    version: content.version,
    issuedAt: content.issuedAt.toISOString(),
    expiresAt: content.expiresAt.toISOString(),
    orgCa: b64(content.orgCa),
    signingCertificates: content.signingCertificates.map(b64),
    encryptionCertificates: content.encryptionCertificates.map(b64),
    crlUrl: content.crlUrl,
    submission: { host: content.submission.host, port: content.submission.port },
    abuseEndpoint: content.abuseEndpoint,
  };
}

/**
 * Signs the manifest into an opaque CMS SignedData (eContent id-data = the UTF-8 JSON), carrying the
 * org signing certificate and the org CA so that `openssl cms -verify -CAfile root.pem` checks it.
 */
export async function signOrgBundle(content: OrgBundleContent, signer: Signer): Promise<Uint8Array> {
  const json = `${JSON.stringify(manifestOf(content), null, 2)}\n`;
  return signData({ content: new TextEncoder().encode(json), signers: [signer], detached: false, certificates: [content.orgCa], signingTime: content.issuedAt });
}
