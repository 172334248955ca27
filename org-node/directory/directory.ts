import { OrgNodeError } from '../errors';

/**
 * The org's directory of members (SPEC §2, §8): who may send as whom, which card certificates they
 * hold now and held before (old 9D keys must stay findable to decrypt old mail), one-time enrollment
 * codes for IT, and an audit log of every change. `sqlite.ts` implements it for the embedded node
 * and the tests; a PostgreSQL implementation takes the same interface at scale (SPEC §10), hence
 * the async methods.
 */

export type MemberStatus = 'active' | 'suspended' | 'revoked';

/** PIV slot of a member certificate: 9C digital signature, 9D key management. */
export type CardSlot = '9C' | '9D';

export interface Member {
  /** Mail address, lower-cased domain; the key of the directory. */
  readonly address: string;
  readonly name: string;
  readonly staffId: string;
  readonly status: MemberStatus;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface NewMember {
  readonly address: string;
  readonly name: string;
  readonly staffId: string;
}

/** RFC 5280 CRLReason names the directory records (a subset: what an org actually says). */
export type RevocationReason = 'unspecified' | 'keyCompromise' | 'affiliationChanged' | 'superseded' | 'cessationOfOperation' | 'certificateHold';

export interface MemberCertificate {
  /** Hex serial number, lower case, no leading zero octets. */
  readonly serial: string;
  readonly address: string;
  readonly slot: CardSlot;
  readonly der: Uint8Array;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly issuedAt: Date;
  readonly revokedAt?: Date;
  readonly revocationReason?: RevocationReason;
}

export interface NewMemberCertificate {
  readonly serial: string;
  readonly address: string;
  readonly slot: CardSlot;
  readonly der: Uint8Array;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export interface RevokedEntry {
  readonly serial: string;
  readonly revokedAt: Date;
  readonly reason: RevocationReason;
}

export interface AuditEntry {
  readonly at: Date;
  /** Who: "cli:<user>", "enrollment-api", "abuse-desk", ... */
  readonly actor: string;
  /** What: "member.add", "member.suspend", "certificate.issue", "enrollment-code.redeem", ... */
  readonly action: string;
  /** The member address or certificate serial concerned. */
  readonly subject: string;
  readonly detail?: string;
}

export interface MemberDirectory {
  addMember(member: NewMember, actor: string): Promise<Member>;
  getMember(address: string): Promise<Member | undefined>;
  listMembers(filter?: { status?: MemberStatus }): Promise<Member[]>;
  /**
   * Suspends or revokes a member and revokes all their unrevoked certificates in one transaction
   * (suspend: reason certificateHold; revoke: the given reason, default cessationOfOperation).
   * Revoked is final. Returns the certificates revoked now, so that the caller reissues the CRL.
   */
  setStatus(address: string, status: 'suspended' | 'revoked', actor: string, reason?: RevocationReason): Promise<MemberCertificate[]>;
  /** Lifts a suspension (the old certificates stay revoked: the card is re-enrolled). */
  reactivate(address: string, actor: string): Promise<void>;

  recordCertificate(certificate: NewMemberCertificate, actor: string): Promise<void>;
  /** Every certificate the member ever had, newest first. */
  certificates(address: string): Promise<MemberCertificate[]>;
  findCertificate(serial: string): Promise<MemberCertificate | undefined>;
  /** Revokes one certificate (lost card). Returns false when it was already revoked. */
  revokeCertificate(serial: string, reason: RevocationReason, actor: string): Promise<boolean>;
  /** All revoked certificates, for the CRL. */
  revokedCertificates(): Promise<RevokedEntry[]>;
  /** The next CRL number (RFC 5280 §5.2.3: monotonically increasing), persisted. */
  nextCrlNumber(): Promise<number>;

  /**
   * Creates a one-time enrollment code for an active member and returns it in clear — the only time
   * it exists in clear; the directory keeps its hash. A new code replaces any unused one.
   */
  createEnrollmentCode(address: string, ttlMs: number, actor: string): Promise<{ code: string; expiresAt: Date }>;
  /** Checks and consumes a code (atomically: a code works once). Throws EnrollmentCodeError. */
  redeemEnrollmentCode(address: string, code: string, actor: string): Promise<Member>;
  /**
   * The same judgement as `redeemEnrollmentCode` without consuming the code: lets IT's tools learn
   * that a code will be refused before they touch the card. A refusal is audited exactly like a
   * refused redemption (it counts as a failed attempt). Throws EnrollmentCodeError.
   */
  checkEnrollmentCode(address: string, code: string, actor: string): Promise<Member>;

  audit(entry: Omit<AuditEntry, 'at'>): Promise<void>;
  auditLog(filter?: { subject?: string }): Promise<AuditEntry[]>;
  close(): Promise<void>;
}

export class DirectoryError extends OrgNodeError {}
export class MemberExistsError extends DirectoryError {}
export class MemberNotFoundError extends DirectoryError {}
export class MemberStatusError extends DirectoryError {}

export type EnrollmentCodeFailure = 'unknown' | 'expired' | 'used' | 'member-not-active';

/** An enrollment code was refused; `reason` says why (the API answers all of them alike). */
export class EnrollmentCodeError extends DirectoryError {
  constructor(
    readonly reason: EnrollmentCodeFailure,
    message: string,
  ) {
    super(message);
  }
}

/** Lower-cases the domain (local parts are case-sensitive in theory, never in an org's directory). */
export function normaliseAddress(address: string): string {
  const a = address.trim().toLowerCase();
  if (!/^[^\s@<>]+@[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(a)) throw new DirectoryError(`"${address}" is not a mail address.`);
  return a;
}
