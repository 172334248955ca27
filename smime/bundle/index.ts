/** The signed org bundle (SPEC §6): manifest, signing, verification, bundle client. See README.md. */
export { BUNDLE_FORMAT, BUNDLE_PATH, CRL_PATH, ENROLL_PATH, bundleUrlForDomain, orgBundleManifestSchema, type OrgBundleManifest } from './manifest';
export { manifestOf, signOrgBundle, type OrgBundleContent } from './sign';
export { BundleRejectedError, permittedDnsNames, verifyOrgBundle, type BundleRejection, type BundleVerifyOptions, type VerifiedOrgBundle } from './verify';
export { OrgBundleClient, type BundleCache, type BundleClientOptions, type BundleFetcher, type CachedBundle } from './client';
