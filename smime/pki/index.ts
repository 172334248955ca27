export { CERTIFICATE_ROLES, SSMAX_ARC, normaliseOid, roleOfPolicy, ssmaxAttributeOid, ssmaxModuleOid, ssmaxPolicyOid, type CertificateRole } from './oids';
export { ProfileError } from './errors';
export * from './profile';
export { describeCertificate, dnsMatchesConstraint, dnsPermitted, emailMatchesConstraint, emailPermitted, type CertificateSummary, type KeyUsageName, type NameConstraints } from './inspect';
export { authorityFromSigner, signerIssuingKey } from './signer-issuer';
export { CsrError, algorithmOfSpki, checkCsr, createCsr, importPublicKey, signingAlgorithm, type CheckedCsr } from './csr';
