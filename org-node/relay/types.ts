import type { InspectionAttestation, SmtpEnvelope } from '../../smime/cms';
import type { Decryptor, Signer } from '../../smime/keys';
import type { MemberCertificate, Member } from '../directory/directory';

/**
 * The relay pipeline's injected dependencies and its typed outcomes (SPEC §4, §5). The pipeline works
 * on bytes only: no sockets, no files. The SMTP servers and the spool call it and act on the outcomes.
 */

/** The part of the member directory the relay reads (`MemberDirectory` satisfies it). */
export interface MemberLookup {
  getMember(address: string): Promise<Member | undefined>;
  certificates(address: string): Promise<MemberCertificate[]>;
}

/** Another SSMAX org as found through its bundle. */
export interface DestinationOrg {
  /** Stable key of the org (e.g. its first domain): recipients of one org share one relay copy. */
  readonly id: string;
  /** The encryption certificate to encrypt to: the newest valid one (rollover). */
  readonly encryptionCertificate: Uint8Array;
}

/**
 * Finds the org of a mail domain: undefined when the domain is not in SSMAX (not a member org);
 * throws when the lookup could not be made (network, expired bundle …) → tempfail.
 * `OrgBundleClient`-based adapter: `bundleResolver()` in resolver.ts.
 */
export type OrgResolver = (domain: string) => Promise<DestinationOrg | undefined>;

/** What the inspector is asked to look at: the signed content (exact bytes ① covers). */
export interface InspectionRequest {
  /** The signed MIME entity, CRLF-canonical. */
  readonly content: Uint8Array;
  readonly direction: 'outbound' | 'inbound' | 'internal';
  readonly envelope: SmtpEnvelope;
}

/** What the inspector answers: the attestation (without the hop, which the relay sets) and the policy decision. */
export interface InspectionResult {
  readonly attestation: Omit<InspectionAttestation, 'hop'>;
  /**
   * `block`: refuse with a clear reason (Danger, or Unsupported under a blocking policy);
   * `hold`: accept, but keep the copies for an administrator's review (they are released or deleted).
   */
  readonly decision: { readonly action: 'pass' } | { readonly action: 'block'; readonly reason: string } | { readonly action: 'hold'; readonly reason: string };
}

/** Inspection + policy in one call (adapter over org-node/inspection when it lands). Throws → tempfail. */
export type Inspector = (request: InspectionRequest) => Promise<InspectionResult>;

/** Keys and facts of the node's own org. */
export interface OwnOrg {
  /** Mail domains of the org (lower case). */
  readonly domains: readonly string[];
  /** Org CA certificate, DER (carried in countersignatures so paths can be built). */
  readonly caCertificate: Uint8Array;
  /** The org signing key (counter-signs ② / ③ / single-org). */
  readonly signer: Signer;
  /** The org encryption keys, newest first: every key a valid bundle still lists (rollover). */
  readonly decryptors: readonly Decryptor[];
}

export interface RelayDeps {
  readonly org: OwnOrg;
  /** SSMAX root(s). */
  readonly trustAnchors: readonly (Uint8Array | string)[];
  /** CRLs to check links against (the own org CA's). */
  readonly crls?: () => Promise<readonly Uint8Array[]>;
  /**
   * Inbound: the current CRL of the org a sender's domain belongs to (from its bundle's crlUrl, see
   * crl.ts), so that a card revoked at the sending org is refused here too. Throws → tempfail.
   */
  readonly peerCrls?: (domain: string) => Promise<readonly Uint8Array[]>;
  readonly directory: MemberLookup;
  readonly resolveOrg: OrgResolver;
  readonly inspect: Inspector;
  readonly now: () => Date;
  /**
   * Mail to a domain outside SSMAX (SPEC §5: policy decides, never a silent downgrade):
   * 'refuse' (default) bounces those recipients with the reason; 'deliver-signed' sends them one
   * signed-only copy per domain (① + the org's ②, not encrypted: they hold no SSMAX key), which the
   * SMTP side hands on only over verified TLS and tells the sender about.
   */
  readonly nonMemberPolicy?: NonMemberPolicy;
}

export type NonMemberPolicy = 'refuse' | 'deliver-signed';

/** Handed to another org node (SMTP relay) — one copy per destination org. */
export interface RelayOutcome {
  readonly kind: 'relay';
  readonly org: string;
  readonly mailFrom: string;
  readonly rcptTo: readonly string[];
  readonly message: Buffer;
  /** Set when the policy holds the message for review: why. */
  readonly held?: string;
  /** A signed-only copy to a domain outside SSMAX (`org` is the domain), under policy 'deliver-signed'. */
  readonly nonMember?: true;
}

/** Handed to the own mailbox store (LMTP) — one copy per recipient, encrypted to their 9D. */
export interface DeliverOutcome {
  readonly kind: 'deliver';
  readonly mailFrom: string;
  readonly rcptTo: readonly [string];
  readonly message: Buffer;
  /** Set when the policy holds the message for review: why. */
  readonly held?: string;
}

/** Permanently refused for these recipients; `reason` is one sentence for the sender. */
export interface BounceOutcome {
  readonly kind: 'bounce';
  readonly rcptTo: readonly string[];
  readonly reason: string;
  /** Machine-readable cause, for logs and tests. */
  readonly code: BounceCode;
}

/** Could not be processed now; the previous hop keeps the message and retries. */
export interface TempfailOutcome {
  readonly kind: 'tempfail';
  readonly rcptTo: readonly string[];
  readonly reason: string;
}

export type Outcome = RelayOutcome | DeliverOutcome | BounceOutcome | TempfailOutcome;

export type BounceCode =
  | 'not-encrypted'
  | 'not-for-this-org'
  | 'malformed'
  | 'signature'
  | 'not-submitter'
  | 'member'
  | 'envelope'
  | 'chain'
  | 'inspection'
  | 'unknown-recipient'
  | 'non-member-domain'
  | 'external-member-domain';

/** The result of one message: one outcome per recipient group; every envelope recipient appears exactly once. */
export interface PipelineResult {
  readonly outcomes: readonly Outcome[];
  /** Facts for the structured log: Message-ID, the chain (signer subjects), verdict. */
  readonly log: RelayLog;
}

export interface RelayLog {
  readonly messageId: string | undefined;
  readonly chain: readonly { role: string; status: string; subject: string }[];
  readonly verdict?: string;
}
