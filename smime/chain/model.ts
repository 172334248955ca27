/**
 * The result model of SSMAX chain verification (SPEC §4–§5). It never merges states: every link
 * keeps its own status and reasons, and the message state is derived from them by the rules in
 * verify-message.ts (see README.md in this folder). Everything here is plain data except
 * `content.entity` (a parsed MIME tree of the signed content, for the client to render).
 */
import type { InspectionAttestation, SmtpEnvelope } from '../cms';
import type { HeaderComparison, MimeEntity } from '../mime';

/** The one state shown per message. */
export type MessageState = 'verified' | 'signed' | 'unsigned' | 'failed';

/**
 * Where a signature sits in the chain.
 * - `sender` ① the person (card 9C); `forwarder` ④ the person who forwarded (the message carries a forward);
 * - `sending-org` ② countersigns ①; `forwarder-org` ⑤ countersigns ④;
 * - `receiving-org` ③ countersigns ② (or ⑤): the user's own org, which delivered the mail;
 * - `single-org` the one org countersignature of mail inside one organisation (stands for ② and ③);
 * - `external-org` an org link that has no place in the chain (a third org, a link beyond ③);
 * - `additional-signer` a second top-level SignerInfo (never part of a verified chain).
 */
export type ChainRole =
  | 'sender'
  | 'sending-org'
  | 'receiving-org'
  | 'single-org'
  | 'forwarder'
  | 'forwarder-org'
  | 'external-org'
  | 'additional-signer';

/**
 * - `valid`: signature, certificate path, role, name constraints, validity and revocation all check out;
 * - `invalid`: the signature or the certificate is wrong for this link (bad signature, wrong role, wrong org …);
 * - `untrusted`: no path to a trust anchor;
 * - `revoked` / `expired`: the certificate was revoked / not valid at the link's signing time;
 * - `not-checked`: the link could not be examined (e.g. malformed countersignature below a failed one).
 */
export type LinkStatus = 'valid' | 'invalid' | 'untrusted' | 'revoked' | 'expired' | 'not-checked';

/** Reason codes (README.md has the table). Stable identifiers: tests and the client match on them. */
export type ChainReasonCode =
  // message structure and input
  | 'malformed'
  | 'limit-exceeded'
  | 'not-decrypted'
  | 'decryption-failed'
  | 'unsupported-structure'
  | 'unsigned'
  | 'partially-signed'
  | 'no-signers'
  | 'multiple-signers'
  | 'signer-invalid'
  // signature (from smime/cms)
  | 'signature-invalid'
  | 'digest-mismatch'
  | 'content-conflict'
  | 'certificate-not-found'
  | 'signing-certificate-mismatch'
  | 'unsupported-algorithm'
  | 'weak-key'
  | 'weak-algorithm'
  | 'missing-signed-attribute'
  | 'content-type-mismatch'
  | 'no-content'
  | 'countersignature-has-content-type'
  // certificate path
  | 'untrusted'
  | 'certificate-signature-invalid'
  | 'certificate-malformed'
  | 'expired'
  | 'not-yet-valid'
  | 'revoked'
  | 'ca-constraints'
  | 'key-usage'
  | 'extended-key-usage'
  | 'policy-role-mismatch'
  | 'path-profile'
  | 'name-constraints'
  | 'crl-stale'
  | 'crl-invalid'
  | 'revocation-not-checked'
  | 'revocation-unavailable'
  | 'signing-time-invalid'
  // chain rules (SPEC §5)
  | 'from-mismatch'
  | 'from-ambiguous'
  | 'display-name-spoof'
  | 'header-from-mismatch'
  | 'header-mismatch'
  | 'wrong-org'
  | 'not-own-org'
  | 'own-org-unknown'
  | 'chain-incomplete'
  | 'chain-ambiguous'
  | 'link-order'
  | 'attestation-missing'
  | 'recipient-not-in-envelope'
  | 'external'
  | 'generic-pki'
  | 'forward-not-verified';

export interface ChainReason {
  readonly code: ChainReasonCode;
  /** One plain sentence for a user or an IT admin. */
  readonly message: string;
}

/** One certificate of a validated (or attempted) path, leaf first. */
export interface PathCertificate {
  readonly subject: string;
  readonly issuer: string;
  readonly serialNumber: string;
  /** SHA-256 of the DER, lower-case hex. */
  readonly sha256: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** The SSMAX role its policy OID names, if any. */
  readonly ssmaxRole: string | undefined;
}

export interface ChainLink {
  readonly role: ChainRole;
  readonly status: LinkStatus;
  /** Position of the signature in the CMS: [signer, countersignature index per level …]. */
  readonly position: readonly number[];
  /** Subject DN of the signer certificate ('' when unknown). */
  readonly subject: string;
  /** Subject CN: the person's name, or the org key's name. */
  readonly name: string | undefined;
  /** rfc822Name of a person's certificate. */
  readonly email: string | undefined;
  /** dNSName(s) of an org certificate (the org's domains). */
  readonly domains: readonly string[];
  /** Subject O. */
  readonly orgName: string | undefined;
  /** Staff ID (subject serialNumber attribute) of a person's certificate. */
  readonly staffId: string | undefined;
  /** Leaf first, anchor last (as far as it could be built). */
  readonly path: readonly PathCertificate[];
  readonly signingTime: Date | undefined;
  readonly envelope: SmtpEnvelope | undefined;
  readonly attestation: InspectionAttestation | undefined;
  /** Why the link is not valid (empty when valid). */
  readonly reasons: readonly ChainReason[];
  /** Facts that do not change the status (e.g. no CRL was given). */
  readonly notes: readonly ChainReason[];
}

/** The signed content the client may display: exactly the bytes covered by the sender's signature. */
export interface SignedContent {
  /** The signed MIME entity, CRLF-canonical (what ① signed). */
  readonly bytes: Uint8Array;
  /** Parsed tree of `bytes`. */
  readonly entity: MimeEntity;
  /** Whether the content came out of an encryption layer. */
  readonly encrypted: boolean;
  /** RFC 9788 mode of the payload, undefined when it has no header protection. */
  readonly headerProtection: 'cipher' | 'clear' | undefined;
}

export interface MessageVerification {
  readonly state: MessageState;
  /** Why the state is not `verified` (empty when verified). */
  readonly reasons: readonly ChainReason[];
  /** Non-fatal findings (e.g. a Subject that differs from the protected one). */
  readonly warnings: readonly ChainReason[];
  /** The chain, ① first, then each countersignature level; extra signers last. */
  readonly links: readonly ChainLink[];
  /** The address the client shows as sender (protected From when present), undefined when none or ambiguous. */
  readonly displayedFrom: { readonly name: string; readonly address: string } | undefined;
  /** Protected vs outer header fields (RFC 9788); empty when the message is not signed. */
  readonly headers: readonly HeaderComparison[];
  /** Content lies outside the signature (text added around a signed part, extra parts). */
  readonly partiallySigned: boolean;
  /** Mail from outside SSMAX delivered by the receiving org marked as external (never verified). */
  readonly external: boolean;
  /** The signed content, only when a signature covers the whole message. */
  readonly content: SignedContent | undefined;
  /** Forwarded messages (message/rfc822 inside the signed content), each verified on its own. */
  readonly forwards: readonly MessageVerification[];
}
