export { CmsFormatError, DecryptionError, SigningError, UnsupportedAlgorithmError } from './errors';
export { OID } from './oids';
export { signData, type SignOptions } from './sign';
export { MAX_CHAIN_DEPTH, verifySignedData, type Reason, type ReasonCode, type SignatureCheck, type SignatureStatus, type SignedDataResult, type VerifyOptions } from './verify';
export { countersign, lastLinkPath, type CountersignOptions } from './countersign';
export { readContentInfo, type ContentInfo } from './content-info';
export { readSignedData, type SignedDataView, type SignerInfoView, type SignerIdentifier } from './signed-data';
export {
  HOPS,
  VERDICTS,
  SsmaxAttributeError,
  decodeInspectionAttestation,
  decodeSmtpEnvelope,
  encodeInspectionAttestation,
  encodeSmtpEnvelope,
  type AttachmentVerdict,
  type Hop,
  type InspectionAttestation,
  type SmtpEnvelope,
  type Verdict,
} from './ssmax-attributes';
export { decryptContent, encryptContent, type DecryptedContent, type EnvelopeKind, type EnvelopeOptions } from './envelope';
