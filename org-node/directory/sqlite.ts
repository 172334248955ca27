import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import Database from 'better-sqlite3';
import {
  DirectoryError,
  EnrollmentCodeError,
  MemberExistsError,
  MemberNotFoundError,
  MemberStatusError,
  normaliseAddress,
  type AuditEntry,
  type CardSlot,
  type Member,
  type MemberCertificate,
  type MemberDirectory,
  type MemberStatus,
  type NewMember,
  type NewMemberCertificate,
  type RevocationReason,
  type RevokedEntry,
} from './directory';

/**
 * The member directory in one SQLite file (WAL, foreign keys on). Times are stored as ISO strings in
 * UTC so that the file stays readable with the sqlite3 shell. Schema changes go through
 * `PRAGMA user_version` migrations below; never edit a released migration.
 */

const migrations: readonly string[] = [
  `CREATE TABLE member (
     address    TEXT PRIMARY KEY,
     name       TEXT NOT NULL,
     staff_id   TEXT NOT NULL UNIQUE,
     status     TEXT NOT NULL CHECK (status IN ('active','suspended','revoked')),
     created_at TEXT NOT NULL,
     updated_at TEXT NOT NULL
   );
   CREATE TABLE certificate (
     serial            TEXT PRIMARY KEY,
     address           TEXT NOT NULL REFERENCES member(address),
     slot              TEXT NOT NULL CHECK (slot IN ('9C','9D')),
     der               BLOB NOT NULL,
     not_before        TEXT NOT NULL,
     not_after         TEXT NOT NULL,
     issued_at         TEXT NOT NULL,
     revoked_at        TEXT,
     revocation_reason TEXT
   );
   CREATE INDEX certificate_by_address ON certificate(address, issued_at);
   CREATE TABLE enrollment_code (
     address    TEXT PRIMARY KEY REFERENCES member(address),
     code_hash  TEXT NOT NULL UNIQUE,
     expires_at TEXT NOT NULL,
     used_at    TEXT
   );
   CREATE TABLE counter (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
   CREATE TABLE audit (
     id      INTEGER PRIMARY KEY AUTOINCREMENT,
     at      TEXT NOT NULL,
     actor   TEXT NOT NULL,
     action  TEXT NOT NULL,
     subject TEXT NOT NULL,
     detail  TEXT
   );`,
];

interface MemberRow {
  address: string;
  name: string;
  staff_id: string;
  status: MemberStatus;
  created_at: string;
  updated_at: string;
}

interface CertificateRow {
  serial: string;
  address: string;
  slot: CardSlot;
  der: Buffer;
  not_before: string;
  not_after: string;
  issued_at: string;
  revoked_at: string | null;
  revocation_reason: RevocationReason | null;
}

const toMember = (r: MemberRow): Member => ({
  address: r.address,
  name: r.name,
  staffId: r.staff_id,
  status: r.status,
  createdAt: new Date(r.created_at),
  updatedAt: new Date(r.updated_at),
});

const toCertificate = (r: CertificateRow): MemberCertificate => ({
  serial: r.serial,
  address: r.address,
  slot: r.slot,
  der: new Uint8Array(r.der),
  notBefore: new Date(r.not_before),
  notAfter: new Date(r.not_after),
  issuedAt: new Date(r.issued_at),
  ...(r.revoked_at ? { revokedAt: new Date(r.revoked_at), revocationReason: r.revocation_reason ?? 'unspecified' } : {}),
});

/** Enrollment codes: 20 Crockford base-32 characters (100 bits) in groups of four, easy to read out. */
const CODE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

function newCode(): string {
  const bytes = randomBytes(20);
  const chars = Array.from(bytes, (b) => CODE_ALPHABET[b & 31]).join('');
  return chars.match(/.{4}/g)!.join('-');
}

/** Codes are compared by hash; normalising lets IT type them in lower case or without dashes. */
function codeHash(code: string): string {
  const normal = code.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
  return createHash('sha256').update(`ssmax-enrollment-code:${normal}`).digest('hex');
}

export function normaliseSerial(serial: string): string {
  const hex = serial.toLowerCase().replace(/^(00)+/, '');
  if (!/^[0-9a-f]+$/.test(hex)) throw new DirectoryError(`"${serial}" is not a certificate serial number.`);
  return hex;
}

export class SqliteMemberDirectory implements MemberDirectory {
  readonly #db: Database.Database;
  readonly #now: () => Date;

  private constructor(db: Database.Database, now: () => Date) {
    this.#db = db;
    this.#now = now;
  }

  /** Opens or creates the directory file (`:memory:` for tests); `now` is injectable for expiry tests. */
  static open(path: string, options: { now?: () => Date } = {}): SqliteMemberDirectory {
    let db: Database.Database;
    try {
      db = new Database(path);
      db.pragma('journal_mode = WAL');
      db.pragma('foreign_keys = ON');
      db.pragma('busy_timeout = 5000');
      const version = db.pragma('user_version', { simple: true }) as number;
      if (version > migrations.length) throw new DirectoryError(`The directory ${path} was written by a newer SSMAX (schema ${version}).`);
      for (let v = version; v < migrations.length; v++) {
        db.transaction(() => {
          db.exec(migrations[v]!);
          db.pragma(`user_version = ${v + 1}`);
        })();
      }
    } catch (cause) {
      if (cause instanceof DirectoryError) throw cause;
      throw new DirectoryError(`Cannot open the member directory ${path}.`, { cause });
    }
    return new SqliteMemberDirectory(db, options.now ?? (() => new Date()));
  }

  async addMember(member: NewMember, actor: string): Promise<Member> {
    const address = normaliseAddress(member.address);
    const name = member.name.trim();
    const staffId = member.staffId.trim();
    if (!name) throw new DirectoryError('A member needs a name.');
    if (!/^[A-Za-z0-9 '()+,\-./:=?]+$/.test(staffId)) throw new DirectoryError(`Staff ID "${member.staffId}" must be printable ASCII (letters, digits, - . / : and spaces).`);
    const now = this.#now().toISOString();
    const tx = this.#db.transaction(() => {
      const clash = this.#db.prepare('SELECT address, staff_id FROM member WHERE address = ? OR staff_id = ?').get(address, staffId) as MemberRow | undefined;
      if (clash) {
        throw new MemberExistsError(clash.address === address ? `${address} is already a member.` : `Staff ID ${staffId} already belongs to ${clash.address}.`);
      }
      this.#db
        .prepare("INSERT INTO member (address, name, staff_id, status, created_at, updated_at) VALUES (?, ?, ?, 'active', ?, ?)")
        .run(address, name, staffId, now, now);
      this.#audit(actor, 'member.add', address, `${name} (${staffId})`);
    });
    tx();
    return (await this.getMember(address))!;
  }

  async getMember(address: string): Promise<Member | undefined> {
    const row = this.#db.prepare('SELECT * FROM member WHERE address = ?').get(normaliseAddress(address)) as MemberRow | undefined;
    return row ? toMember(row) : undefined;
  }

  async listMembers(filter: { status?: MemberStatus } = {}): Promise<Member[]> {
    const rows = (
      filter.status
        ? this.#db.prepare('SELECT * FROM member WHERE status = ? ORDER BY address').all(filter.status)
        : this.#db.prepare('SELECT * FROM member ORDER BY address').all()
    ) as MemberRow[];
    return rows.map(toMember);
  }

  async setStatus(address: string, status: 'suspended' | 'revoked', actor: string, reason?: RevocationReason): Promise<MemberCertificate[]> {
    const addr = normaliseAddress(address);
    const certReason: RevocationReason = status === 'suspended' ? 'certificateHold' : (reason ?? 'cessationOfOperation');
    const tx = this.#db.transaction((): string[] => {
      const member = this.#requireMember(addr);
      if (member.status === 'revoked') throw new MemberStatusError(`${addr} is already revoked.`);
      if (member.status === status) throw new MemberStatusError(`${addr} is already ${status}.`);
      const now = this.#now().toISOString();
      this.#db.prepare('UPDATE member SET status = ?, updated_at = ? WHERE address = ?').run(status, now, addr);
      const serials = (this.#db.prepare('SELECT serial FROM certificate WHERE address = ? AND revoked_at IS NULL').all(addr) as { serial: string }[]).map((r) => r.serial);
      this.#db.prepare('UPDATE certificate SET revoked_at = ?, revocation_reason = ? WHERE address = ? AND revoked_at IS NULL').run(now, certReason, addr);
      // A suspended or revoked member must not enrol a card with a code handed out earlier.
      this.#db.prepare('DELETE FROM enrollment_code WHERE address = ?').run(addr);
      this.#audit(actor, `member.${status === 'suspended' ? 'suspend' : 'revoke'}`, addr, `${serials.length} certificate(s) revoked (${certReason})`);
      return serials;
    });
    const serials = tx();
    const revoked: MemberCertificate[] = [];
    for (const s of serials) revoked.push((await this.findCertificate(s))!);
    return revoked;
  }

  async reactivate(address: string, actor: string): Promise<void> {
    const addr = normaliseAddress(address);
    this.#db.transaction(() => {
      const member = this.#requireMember(addr);
      if (member.status !== 'suspended') throw new MemberStatusError(`${addr} is ${member.status}, not suspended.`);
      this.#db.prepare("UPDATE member SET status = 'active', updated_at = ? WHERE address = ?").run(this.#now().toISOString(), addr);
      this.#audit(actor, 'member.reactivate', addr);
    })();
  }

  async recordCertificate(certificate: NewMemberCertificate, actor: string): Promise<void> {
    const addr = normaliseAddress(certificate.address);
    const serial = normaliseSerial(certificate.serial);
    this.#db.transaction(() => {
      const member = this.#requireMember(addr);
      if (member.status !== 'active') throw new MemberStatusError(`${addr} is ${member.status}: no certificate can be issued.`);
      this.#db
        .prepare('INSERT INTO certificate (serial, address, slot, der, not_before, not_after, issued_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(serial, addr, certificate.slot, Buffer.from(certificate.der), certificate.notBefore.toISOString(), certificate.notAfter.toISOString(), this.#now().toISOString());
      this.#audit(actor, 'certificate.issue', addr, `${certificate.slot} serial ${serial}`);
    })();
  }

  async certificates(address: string): Promise<MemberCertificate[]> {
    const rows = this.#db.prepare('SELECT * FROM certificate WHERE address = ? ORDER BY issued_at DESC, rowid DESC').all(normaliseAddress(address)) as CertificateRow[];
    return rows.map(toCertificate);
  }

  async findCertificate(serial: string): Promise<MemberCertificate | undefined> {
    const row = this.#db.prepare('SELECT * FROM certificate WHERE serial = ?').get(normaliseSerial(serial)) as CertificateRow | undefined;
    return row ? toCertificate(row) : undefined;
  }

  async revokeCertificate(serial: string, reason: RevocationReason, actor: string): Promise<boolean> {
    const s = normaliseSerial(serial);
    return this.#db.transaction(() => {
      const row = this.#db.prepare('SELECT * FROM certificate WHERE serial = ?').get(s) as CertificateRow | undefined;
      if (!row) throw new DirectoryError(`No member certificate with serial ${s}.`);
      if (row.revoked_at) return false;
      this.#db.prepare('UPDATE certificate SET revoked_at = ?, revocation_reason = ? WHERE serial = ?').run(this.#now().toISOString(), reason, s);
      this.#audit(actor, 'certificate.revoke', row.address, `${row.slot} serial ${s} (${reason})`);
      return true;
    })();
  }

  async revokedCertificates(): Promise<RevokedEntry[]> {
    const rows = this.#db.prepare('SELECT serial, revoked_at, revocation_reason FROM certificate WHERE revoked_at IS NOT NULL ORDER BY revoked_at').all() as CertificateRow[];
    return rows.map((r) => ({ serial: r.serial, revokedAt: new Date(r.revoked_at!), reason: r.revocation_reason ?? 'unspecified' }));
  }

  async nextCrlNumber(): Promise<number> {
    return this.#db.transaction(() => {
      this.#db.prepare("INSERT INTO counter (name, value) VALUES ('crl', 1) ON CONFLICT(name) DO UPDATE SET value = value + 1").run();
      return (this.#db.prepare("SELECT value FROM counter WHERE name = 'crl'").get() as { value: number }).value;
    })();
  }

  async createEnrollmentCode(address: string, ttlMs: number, actor: string): Promise<{ code: string; expiresAt: Date }> {
    const addr = normaliseAddress(address);
    if (!(ttlMs > 0)) throw new DirectoryError('An enrollment code needs a positive lifetime.');
    const code = newCode();
    const expiresAt = new Date(this.#now().getTime() + ttlMs);
    this.#db.transaction(() => {
      const member = this.#requireMember(addr);
      if (member.status !== 'active') throw new MemberStatusError(`${addr} is ${member.status}: no enrollment code can be issued.`);
      this.#db
        .prepare('INSERT INTO enrollment_code (address, code_hash, expires_at, used_at) VALUES (?, ?, ?, NULL) ON CONFLICT(address) DO UPDATE SET code_hash = excluded.code_hash, expires_at = excluded.expires_at, used_at = NULL')
        .run(addr, codeHash(code), expiresAt.toISOString());
      this.#audit(actor, 'enrollment-code.create', addr, `expires ${expiresAt.toISOString()}`);
    })();
    return { code, expiresAt };
  }

  async redeemEnrollmentCode(address: string, code: string, actor: string): Promise<Member> {
    return this.#judgeEnrollmentCode(address, code, actor, 'redeem');
  }

  async checkEnrollmentCode(address: string, code: string, actor: string): Promise<Member> {
    return this.#judgeEnrollmentCode(address, code, actor, 'check');
  }

  /**
   * One judgement for both the check and the redemption, so that a check can never say yes where the
   * redemption would say no (or answer faster or differently). A refused check is audited as the same
   * `enrollment-code.refuse` as a refused redemption: whatever counts failed attempts counts both.
   */
  #judgeEnrollmentCode(address: string, code: string, actor: string, mode: 'check' | 'redeem'): Member {
    const addr = normaliseAddress(address);
    const hash = Buffer.from(codeHash(code), 'hex');
    const failure = this.#db.transaction((): EnrollmentCodeError | Member => {
      const row = this.#db.prepare('SELECT * FROM enrollment_code WHERE address = ?').get(addr) as
        | { code_hash: string; expires_at: string; used_at: string | null }
        | undefined;
      const fail = (reason: EnrollmentCodeError['reason'], message: string): EnrollmentCodeError => {
        this.#audit(actor, 'enrollment-code.refuse', addr, mode === 'check' ? `${reason} (check)` : reason);
        return new EnrollmentCodeError(reason, message);
      };
      // Constant time: the comparison of the stored hash with the offered one does not depend on where they differ.
      if (!row || !timingSafeEqual(Buffer.from(row.code_hash, 'hex'), hash)) return fail('unknown', 'The enrollment code is not valid for this address.');
      if (row.used_at) return fail('used', 'The enrollment code has already been used.');
      if (new Date(row.expires_at).getTime() <= this.#now().getTime()) return fail('expired', 'The enrollment code has expired.');
      const member = this.#requireMember(addr);
      if (member.status !== 'active') return fail('member-not-active', `${addr} is ${member.status}.`);
      if (mode === 'check') {
        this.#audit(actor, 'enrollment-code.check', addr);
        return member;
      }
      this.#db.prepare('UPDATE enrollment_code SET used_at = ? WHERE address = ?').run(this.#now().toISOString(), addr);
      this.#audit(actor, 'enrollment-code.redeem', addr);
      return member;
    })();
    // The refusal is audited (committed) before it is thrown.
    if (failure instanceof EnrollmentCodeError) throw failure;
    return failure;
  }

  async audit(entry: Omit<AuditEntry, 'at'>): Promise<void> {
    this.#audit(entry.actor, entry.action, entry.subject, entry.detail);
  }

  async auditLog(filter: { subject?: string } = {}): Promise<AuditEntry[]> {
    const rows = (
      filter.subject
        ? this.#db.prepare('SELECT * FROM audit WHERE subject = ? ORDER BY id').all(filter.subject)
        : this.#db.prepare('SELECT * FROM audit ORDER BY id').all()
    ) as { at: string; actor: string; action: string; subject: string; detail: string | null }[];
    return rows.map((r) => ({ at: new Date(r.at), actor: r.actor, action: r.action, subject: r.subject, ...(r.detail === null ? {} : { detail: r.detail }) }));
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }

  #requireMember(address: string): Member {
    const row = this.#db.prepare('SELECT * FROM member WHERE address = ?').get(address) as MemberRow | undefined;
    if (!row) throw new MemberNotFoundError(`${address} is not a member.`);
    return toMember(row);
  }

  #audit(actor: string, action: string, subject: string, detail?: string): void {
    this.#db.prepare('INSERT INTO audit (at, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)').run(this.#now().toISOString(), actor, action, subject, detail ?? null);
  }
}
