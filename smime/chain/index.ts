/** The SSMAX chain and its verification: see README.md in this folder. */
export type { ChainLink, ChainReason, ChainReasonCode, ChainRole, LinkStatus, MessageState, MessageVerification, PathCertificate, SignedContent } from './model';
export { verifyMessage, type CrlAnswer, type CrlSource, type VerifyMessageOptions } from './verify-message';
export { validatePath, readCrl, readCertInfos, statusOf, emailWithin, dnsWithin, type CrlInfo, type PathOptions, type PathProfile, type PathResult, type SourcedCrls } from './path';
export { readCertInfo, derBlocks, CertificateParseError, type CertInfo, type NameConstraints, type NameSubtrees } from './certificate';
export { displayedSender, sameAddress } from './address';
