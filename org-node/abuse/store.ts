import Database from 'better-sqlite3';

/**
 * The abuse desk's own SQLite file (`abuse.sqlite` in the org directory): one row per report, the
 * reported message kept as received, the chain as JSON. Times are ISO strings in UTC.
 */

export type ReportKind = 'member' | 'forwarded';
/** `pending`: recorded, to be forwarded (set in the same insert, so a restart finds it: `AbuseDesk.resumeForwards`). */
export type ForwardStatus = 'not-needed' | 'pending' | 'forwarded' | 'failed' | 'withheld';

export interface ChainSummaryLink {
  readonly role: string;
  readonly status: string;
  readonly subject: string;
  readonly name?: string;
  readonly email?: string;
  readonly staffId?: string;
  readonly orgName?: string;
  readonly domains: readonly string[];
  /** Certificate serial (hex) and SHA-256 fingerprints, leaf first. */
  readonly serial?: string;
  readonly fingerprints: readonly string[];
  readonly signingTime?: string;
}

export interface AbuseReport {
  readonly id: string;
  readonly receivedAt: Date;
  readonly kind: ReportKind;
  /** Reporter's address (member report) or the reporting org's name and report id (forwarded). */
  readonly reporter: string;
  readonly reporterOrg: string;
  readonly sourceReportId?: string;
  readonly reason: string;
  /** verifyMessage's state of the reported message, and whether ① itself is valid. */
  readonly state: string;
  readonly senderVerified: boolean;
  readonly senderEmail?: string;
  readonly senderStaffId?: string;
  readonly senderName?: string;
  readonly senderOrg?: string;
  readonly senderSerial?: string;
  readonly chain: readonly ChainSummaryLink[];
  readonly message: Uint8Array;
  readonly forwardStatus: ForwardStatus;
  readonly forwardedTo?: string;
  readonly forwardAttempts: number;
  readonly forwardError?: string;
  readonly action?: string;
}

interface Row {
  id: string;
  received_at: string;
  kind: ReportKind;
  reporter: string;
  reporter_org: string;
  source_report_id: string | null;
  reason: string;
  state: string;
  sender_verified: number;
  sender_email: string | null;
  sender_staff_id: string | null;
  sender_name: string | null;
  sender_org: string | null;
  sender_serial: string | null;
  chain: string;
  message: Buffer;
  forward_status: ForwardStatus;
  forwarded_to: string | null;
  forward_attempts: number;
  forward_error: string | null;
  action: string | null;
}

const SCHEMA = `CREATE TABLE IF NOT EXISTS report (
  id               TEXT PRIMARY KEY,
  received_at      TEXT NOT NULL,
  kind             TEXT NOT NULL CHECK (kind IN ('member','forwarded')),
  reporter         TEXT NOT NULL,
  reporter_org     TEXT NOT NULL,
  source_report_id TEXT,
  reason           TEXT NOT NULL,
  state            TEXT NOT NULL,
  sender_verified  INTEGER NOT NULL,
  sender_email     TEXT,
  sender_staff_id  TEXT,
  sender_name      TEXT,
  sender_org       TEXT,
  sender_serial    TEXT,
  chain            TEXT NOT NULL,
  message          BLOB NOT NULL,
  forward_status   TEXT NOT NULL,
  forwarded_to     TEXT,
  forward_attempts INTEGER NOT NULL DEFAULT 0,
  forward_error    TEXT,
  action           TEXT
);
CREATE INDEX IF NOT EXISTS report_by_time ON report(received_at);`;

const opt = <T>(v: T | null): T | undefined => (v === null ? undefined : v);

function fromRow(r: Row): AbuseReport {
  return {
    id: r.id,
    receivedAt: new Date(r.received_at),
    kind: r.kind,
    reporter: r.reporter,
    reporterOrg: r.reporter_org,
    ...(r.source_report_id !== null ? { sourceReportId: r.source_report_id } : {}),
    reason: r.reason,
    state: r.state,
    senderVerified: r.sender_verified === 1,
    ...(r.sender_email !== null ? { senderEmail: r.sender_email } : {}),
    ...(r.sender_staff_id !== null ? { senderStaffId: r.sender_staff_id } : {}),
    ...(r.sender_name !== null ? { senderName: r.sender_name } : {}),
    ...(r.sender_org !== null ? { senderOrg: r.sender_org } : {}),
    ...(r.sender_serial !== null ? { senderSerial: r.sender_serial } : {}),
    chain: JSON.parse(r.chain) as ChainSummaryLink[],
    message: new Uint8Array(r.message),
    forwardStatus: r.forward_status,
    ...(r.forwarded_to !== null ? { forwardedTo: r.forwarded_to } : {}),
    forwardAttempts: r.forward_attempts,
    ...(r.forward_error !== null ? { forwardError: r.forward_error } : {}),
    ...(opt(r.action) !== undefined ? { action: r.action as string } : {}),
  };
}

export class AbuseStore {
  readonly #db: Database.Database;

  private constructor(db: Database.Database) {
    this.#db = db;
  }

  static open(path: string): AbuseStore {
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.exec(SCHEMA);
    return new AbuseStore(db);
  }

  insert(r: AbuseReport): void {
    this.#db
      .prepare(
        `INSERT INTO report (id, received_at, kind, reporter, reporter_org, source_report_id, reason, state, sender_verified, sender_email, sender_staff_id,
           sender_name, sender_org, sender_serial, chain, message, forward_status, forwarded_to, forward_attempts, forward_error, action)
         VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
      )
      .run(
        r.id,
        r.receivedAt.toISOString(),
        r.kind,
        r.reporter,
        r.reporterOrg,
        r.sourceReportId ?? null,
        r.reason,
        r.state,
        r.senderVerified ? 1 : 0,
        r.senderEmail ?? null,
        r.senderStaffId ?? null,
        r.senderName ?? null,
        r.senderOrg ?? null,
        r.senderSerial ?? null,
        JSON.stringify(r.chain),
        Buffer.from(r.message),
        r.forwardStatus,
        r.forwardedTo ?? null,
        r.forwardAttempts,
        r.forwardError ?? null,
        r.action ?? null,
      );
  }

  setForward(id: string, status: ForwardStatus, to: string | undefined, attempts: number, error: string | undefined): void {
    this.#db.prepare('UPDATE report SET forward_status = ?, forwarded_to = ?, forward_attempts = ?, forward_error = ? WHERE id = ?').run(status, to ?? null, attempts, error ?? null, id);
  }

  setAction(id: string, action: string): void {
    this.#db.prepare('UPDATE report SET action = ? WHERE id = ?').run(action, id);
  }

  get(id: string): AbuseReport | undefined {
    const row = this.#db.prepare('SELECT * FROM report WHERE id = ?').get(id) as Row | undefined;
    return row ? fromRow(row) : undefined;
  }

  list(): AbuseReport[] {
    return (this.#db.prepare('SELECT * FROM report ORDER BY received_at, id').all() as Row[]).map(fromRow);
  }

  close(): void {
    this.#db.close();
  }
}
