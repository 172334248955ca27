import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { signData, verifySignedData, type SignedDataResult } from '../../smime/cms';
import { readCertInfo, readCertInfos, readCrl, validatePath, verifyMessage, type ChainLink, type CertInfo, type MessageVerification } from '../../smime/chain';
import { FORWARD_FORMAT, REPORT_FORMAT } from '../../smime/abuse';
import type { CertificateRole } from '../../smime/pki';
import type { Member, MemberCertificate } from '../directory/directory';
import { OrgNodeError } from '../errors';
import type { Org } from '../org';
import { AbuseStore, type AbuseReport, type ChainSummaryLink, type ForwardStatus } from './store';

/**
 * The abuse desk (SPEC §8). See README.md for the formats. In short: every request is one CMS
 * SignedData (DER, encapsulated) whose content is UTF-8 JSON:
 *   member report     {"format":"ssmax-abuse-report/1","reason":"…","message":"<base64 of the signed message>"}
 *                     signed by the reporter's 9C card certificate (employee-signature) of this org;
 *   forwarded report  {"format":"ssmax-abuse-forward/1","reportId":"…","reporter":"…","reason":"…","message":"…"}
 *                     signed by the reporting org's org-signing key, chaining to the SSMAX root.
 */

export { REPORT_FORMAT, FORWARD_FORMAT, createAbuseReport } from '../../smime/abuse';
const MAX_REASON = 4000;

/** A refused report; `status` is the HTTP status the endpoint answers with. Nothing was recorded. */
export class AbuseReportError extends OrgNodeError {
  constructor(
    readonly status: 400 | 403 | 404 | 409 | 422,
    message: string,
    options?: { cause?: unknown; detail?: string },
  ) {
    super(message, options);
  }
}

export interface PostResult {
  readonly status: number;
  readonly body: string;
}

export interface AbuseDeskOptions {
  /** The abuse endpoint of the org that owns `domain` (from its verified bundle); undefined when unknown. */
  readonly resolveAbuseEndpoint: (domain: string) => Promise<string | undefined>;
  /** Sends a forwarded report (default: fetch POST application/pkcs7-mime). */
  readonly post?: (url: string, body: Uint8Array) => Promise<PostResult>;
  /** Forward attempts (default 3) and the pause between them (default 2 s). */
  readonly attempts?: number;
  readonly retryDelayMs?: number;
  readonly now?: () => Date;
  readonly log?: (line: string) => void;
}

export interface Identification {
  readonly member: Member | undefined;
  readonly certificate: MemberCertificate | undefined;
}

const normSerial = (s: string): string => s.toLowerCase().replace(/^(00)+/, '');
const domainOf = (address: string): string => address.slice(address.lastIndexOf('@') + 1).toLowerCase();

async function defaultPost(url: string, body: Uint8Array): Promise<PostResult> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/pkcs7-mime; smime-type=signed-data' }, body });
  return { status: res.status, body: await res.text() };
}

function summarise(links: readonly ChainLink[]): ChainSummaryLink[] {
  return links.map((l) => ({
    role: l.role,
    status: l.status,
    subject: l.subject,
    ...(l.name !== undefined ? { name: l.name } : {}),
    ...(l.email !== undefined ? { email: l.email } : {}),
    ...(l.staffId !== undefined ? { staffId: l.staffId } : {}),
    ...(l.orgName !== undefined ? { orgName: l.orgName } : {}),
    domains: [...l.domains],
    ...(l.path[0] ? { serial: normSerial(l.path[0].serialNumber) } : {}),
    fingerprints: l.path.map((p) => p.sha256),
    ...(l.signingTime ? { signingTime: l.signingTime.toISOString() } : {}),
  }));
}

interface Parsed {
  readonly json: Record<string, unknown>;
  readonly signer: CertInfo;
  readonly sd: SignedDataResult;
  readonly signingTime: Date | undefined;
}

export class AbuseDesk {
  readonly store: AbuseStore;
  readonly #org: Org;
  readonly #options: AbuseDeskOptions;
  readonly #now: () => Date;
  readonly #log: (line: string) => void;

  private constructor(org: Org, store: AbuseStore, options: AbuseDeskOptions) {
    this.#org = org;
    this.store = store;
    this.#options = options;
    this.#now = options.now ?? (() => new Date());
    this.#log = options.log ?? ((line) => console.log(line));
  }

  /** Opens (creates) `abuse.sqlite` in the org directory. */
  static open(org: Org, options: AbuseDeskOptions): AbuseDesk {
    return new AbuseDesk(org, AbuseStore.open(join(org.dir, 'abuse.sqlite')), options);
  }

  close(): void {
    this.store.close();
  }

  /**
   * Forwards every report still `pending` (the process died while forwarding it, or before): call
   * once at start. Resolves when each has been forwarded or marked failed.
   */
  async resumeForwards(): Promise<AbuseReport[]> {
    const out: AbuseReport[] = [];
    for (const r of this.store.list().filter((x) => x.forwardStatus === 'pending')) {
      this.#log(`abuse: report ${r.id} was not forwarded before the restart; forwarding it now`);
      out.push(await this.#forward(r));
    }
    return out;
  }

  /** The endpoint's path (from the org's configured abuse endpoint, as published in its bundle). */
  get path(): string {
    return new URL(this.#org.config.abuseEndpoint).pathname;
  }

  /** Takes one request body (see the formats above). Records and returns the report, or throws AbuseReportError (nothing recorded). */
  async receive(body: Uint8Array): Promise<AbuseReport> {
    const parsed = this.#parse(body);
    const format = parsed.json.format;
    if (format === REPORT_FORMAT) return this.#memberReport(parsed);
    if (format === FORWARD_FORMAT) return this.#forwardedReport(parsed);
    throw new AbuseReportError(400, `Unknown report format (expected "${REPORT_FORMAT}" or "${FORWARD_FORMAT}").`);
  }

  #parse(body: Uint8Array): Parsed {
    if (body.length === 0) throw new AbuseReportError(400, 'The report is empty.');
    let sd: SignedDataResult;
    try {
      sd = verifySignedData(body);
    } catch (cause) {
      throw new AbuseReportError(400, 'The report is not a CMS SignedData (DER).', { cause });
    }
    if (sd.signers.length !== 1) throw new AbuseReportError(400, 'The report must carry exactly one signature.');
    const s = sd.signers[0]!;
    if (!sd.content || sd.detached) throw new AbuseReportError(400, 'The report must carry its JSON content inside the SignedData.');
    if (s.status !== 'valid' || !s.certificate) throw new AbuseReportError(403, 'The report\'s signature does not verify.', { detail: s.reasons.map((r) => r.code).join(', ') });
    let json: unknown;
    try {
      json = JSON.parse(Buffer.from(sd.content).toString('utf8'));
    } catch (cause) {
      throw new AbuseReportError(400, 'The report content is not valid JSON.', { cause });
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new AbuseReportError(400, 'The report content must be a JSON object.');
    let signer: CertInfo;
    try {
      signer = readCertInfo(s.certificate);
    } catch (cause) {
      throw new AbuseReportError(400, 'The report\'s signer certificate cannot be read.', { cause });
    }
    return { json: json as Record<string, unknown>, signer, sd, signingTime: s.signingTime };
  }

  async #checkPath(p: Parsed, role: CertificateRole, withOwnCrl: boolean): Promise<Awaited<ReturnType<typeof validatePath>>> {
    const now = this.#now();
    const crls = withOwnCrl ? [readCrl(await this.#org.currentCrl())] : [];
    return validatePath(p.signer, {
      anchors: readCertInfos([await this.#org.rootCertificate()]),
      intermediates: readCertInfos(p.sd.certificates),
      crls,
      time: p.signingTime ?? now,
      now,
      role,
    });
  }

  #fields(json: Record<string, unknown>): { reason: string; message: Uint8Array } {
    const { reason, message } = json;
    if (typeof reason !== 'string' || reason.trim() === '') throw new AbuseReportError(400, 'The report needs a reason (free text).');
    if (reason.length > MAX_REASON) throw new AbuseReportError(400, `The reason is longer than ${MAX_REASON} characters.`);
    if (typeof message !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(message)) throw new AbuseReportError(400, 'The report needs the reported message (base64).');
    return { reason, message: new Uint8Array(Buffer.from(message, 'base64')) };
  }

  async #verify(message: Uint8Array, ownOrgDomains: readonly string[]): Promise<MessageVerification | undefined> {
    try {
      return await verifyMessage(message, {
        trustAnchors: [await this.#org.rootCertificate()],
        crls: [await this.#org.currentCrl()],
        at: this.#now(),
        ownOrgDomains,
      });
    } catch {
      return undefined; // recorded as unverifiable
    }
  }

  async #memberReport(p: Parsed): Promise<AbuseReport> {
    const path = await this.#checkPath(p, 'employee-signature', true);
    const email = p.signer.emails[0]?.toLowerCase();
    const refuse = (why: string): AbuseReportError => new AbuseReportError(403, 'The report is not signed by the card of an active member of this org.', { detail: why });
    if (path.status !== 'valid') throw refuse(`signer path ${path.status}: ${path.reasons.map((r) => r.code).join(', ')}`);
    if (!email || !this.#org.config.domains.includes(domainOf(email))) throw refuse('signer not at this org\'s domains');
    const cert = await this.#org.directory.findCertificate(normSerial(p.signer.serialNumber));
    if (!cert || cert.address !== email || cert.slot !== '9C' || cert.revokedAt) throw refuse('signer certificate not a current 9C certificate of this directory');
    const member = await this.#org.directory.getMember(email);
    if (member?.status !== 'active') throw refuse(`member ${member?.status ?? 'unknown'}`);
    const { reason, message } = this.#fields(p.json);
    const verification = await this.#verify(message, this.#org.config.domains);
    const report = await this.#record({ kind: 'member', reporter: email, reporterOrg: this.#org.config.name, reason, message, verification });
    const sender = report.senderEmail;
    if (sender && !this.#org.config.domains.includes(domainOf(sender))) {
      if (report.senderVerified) return this.#forward(report);
      this.store.setForward(report.id, 'withheld', undefined, 0, 'the sender\'s certificate (①) is not valid: not forwarded');
      return this.store.get(report.id)!;
    }
    return report;
  }

  async #forwardedReport(p: Parsed): Promise<AbuseReport> {
    const path = await this.#checkPath(p, 'org-signing', false);
    if (path.status !== 'valid') {
      throw new AbuseReportError(403, 'A forwarded report must be signed by the org-signing key of a known SSMAX org.', { detail: path.reasons.map((r) => r.code).join(', ') });
    }
    const { reason, message } = this.#fields(p.json);
    const reportId = typeof p.json.reportId === 'string' ? p.json.reportId : undefined;
    const reporter = typeof p.json.reporter === 'string' ? p.json.reporter : undefined;
    if (!reportId || !reporter) throw new AbuseReportError(400, 'A forwarded report needs reportId and reporter.');
    const fromDomains = p.signer.dnsNames;
    const verification = await this.#verify(message, fromDomains);
    const sender = verification?.links.find((l) => l.role === 'sender')?.email;
    if (!sender || !this.#org.config.domains.includes(domainOf(sender))) {
      throw new AbuseReportError(422, 'The forwarded report is not about mail from a member of this org.');
    }
    return this.#record({
      kind: 'forwarded',
      reporter,
      reporterOrg: `${p.signer.orgName ?? '?'} (${fromDomains.join(', ')})`,
      sourceReportId: reportId,
      reason,
      message,
      verification,
    });
  }

  async #record(r: { kind: AbuseReport['kind']; reporter: string; reporterOrg: string; sourceReportId?: string; reason: string; message: Uint8Array; verification: MessageVerification | undefined }): Promise<AbuseReport> {
    const links = r.verification?.links ?? [];
    const sender = links.find((l) => l.role === 'sender');
    const chain = summarise(links);
    const first = chain.find((l) => l.role === 'sender');
    const report: AbuseReport = {
      id: randomUUID(),
      receivedAt: this.#now(),
      kind: r.kind,
      reporter: r.reporter,
      reporterOrg: r.reporterOrg,
      ...(r.sourceReportId ? { sourceReportId: r.sourceReportId } : {}),
      reason: r.reason,
      state: r.verification?.state ?? 'unreadable',
      senderVerified: sender?.status === 'valid',
      ...(sender?.email ? { senderEmail: sender.email.toLowerCase() } : {}),
      ...(sender?.staffId ? { senderStaffId: sender.staffId } : {}),
      ...(sender?.name ? { senderName: sender.name } : {}),
      ...(sender?.orgName ? { senderOrg: sender.orgName } : {}),
      ...(first?.serial ? { senderSerial: first.serial } : {}),
      chain,
      message: r.message,
      // Decided with the record itself: a report killed before its forward is found again at start.
      forwardStatus: r.kind === 'member' && sender?.status === 'valid' && sender.email && !this.#org.config.domains.includes(domainOf(sender.email)) ? 'pending' : 'not-needed',
      forwardAttempts: 0,
    };
    this.store.insert(report);
    await this.#org.directory.audit({
      actor: 'abuse-desk',
      action: r.kind === 'member' ? 'abuse.report' : 'abuse.report-forwarded',
      subject: report.senderEmail ?? '(no sender)',
      detail: JSON.stringify({
        report: report.id,
        reporter: report.reporter,
        reporterOrg: report.reporterOrg,
        state: report.state,
        chain: chain.map((l) => ({ role: l.role, status: l.status, email: l.email, staffId: l.staffId, org: l.orgName, serial: l.serial, fingerprints: l.fingerprints })),
      }),
    });
    this.#log(`abuse: report ${report.id} (${r.kind}) from ${report.reporter} about ${report.senderEmail ?? '(no sender)'}: ${report.state}`);
    return report;
  }

  async #forward(report: AbuseReport): Promise<AbuseReport> {
    const sender = report.senderEmail!;
    const attempts = Math.max(1, this.#options.attempts ?? 3);
    const delay = this.#options.retryDelayMs ?? 2000;
    const post = this.#options.post ?? defaultPost;
    let status: ForwardStatus = 'failed';
    let error: string | undefined;
    let url: string | undefined;
    let tries = 0;
    try {
      url = await this.#options.resolveAbuseEndpoint(domainOf(sender));
    } catch (err) {
      error = `no abuse endpoint for ${domainOf(sender)}: ${err instanceof Error ? err.message : String(err)}`;
    }
    if (url === undefined && error === undefined) error = `no abuse endpoint for ${domainOf(sender)} (not an SSMAX org?)`;
    if (url !== undefined) {
      const body = await this.#forwardBody(report);
      for (tries = 1; tries <= attempts; tries++) {
        try {
          const res = await post(url, body);
          if (res.status >= 200 && res.status < 300) {
            status = 'forwarded';
            error = undefined;
            break;
          }
          error = `HTTP ${res.status}: ${res.body.slice(0, 200)}`;
          if (res.status >= 400 && res.status < 500) break; // refused for good: retrying will not help
        } catch (err) {
          error = err instanceof Error ? err.message : String(err);
        }
        if (tries < attempts && delay > 0) await new Promise((r) => setTimeout(r, delay));
      }
      tries = Math.min(tries, attempts);
    }
    this.store.setForward(report.id, status, url, tries, error);
    await this.#org.directory.audit({
      actor: 'abuse-desk',
      action: status === 'forwarded' ? 'abuse.forward' : 'abuse.forward-failed',
      subject: sender,
      detail: JSON.stringify({ report: report.id, to: url, attempts: tries, error }),
    });
    this.#log(`abuse: report ${report.id} ${status === 'forwarded' ? `forwarded to ${url}` : `not forwarded: ${error}`}`);
    return this.store.get(report.id)!;
  }

  async #forwardBody(report: AbuseReport): Promise<Uint8Array> {
    const org = this.#org;
    const signingCert = await org.orgKeyCertificate(org.config.keys.signing);
    const signer = await org.keys.signer(org.config.keys.signing, signingCert);
    const json = JSON.stringify({
      format: FORWARD_FORMAT,
      reportId: report.id,
      receivedAt: report.receivedAt.toISOString(),
      reporter: report.reporter,
      reason: report.reason,
      state: report.state,
      message: Buffer.from(report.message).toString('base64'),
    });
    return signData({ content: Buffer.from(json, 'utf8'), signers: [signer], detached: false, certificates: [await org.orgCaCertificate()], signingTime: this.#now() });
  }

  list(): AbuseReport[] {
    return this.store.list();
  }

  get(id: string): AbuseReport | undefined {
    return this.store.get(id);
  }

  /** The member the report's ① certificate belongs to, from this org's directory. */
  async identify(report: AbuseReport): Promise<Identification> {
    const certificate = report.senderSerial ? await this.#org.directory.findCertificate(report.senderSerial) : undefined;
    const address = certificate?.address ?? report.senderEmail;
    const member = address ? await this.#org.directory.getMember(address) : undefined;
    return { member, certificate };
  }

  /** Suspends the reported sender (all their certificates revoked, CRL reissued) and logs it. Returns the number of certificates revoked. */
  async suspend(id: string, actor: string): Promise<{ address: string; revoked: number }> {
    const report = this.store.get(id);
    if (!report) throw new AbuseReportError(404, `No abuse report ${id}.`);
    const { member } = await this.identify(report);
    if (!member) throw new AbuseReportError(422, `The sender of report ${id} (${report.senderEmail ?? 'unknown'}) is not a member of this org.`);
    if (member.status !== 'active') throw new AbuseReportError(409, `${member.address} is already ${member.status}.`);
    const revoked = await this.#org.setMemberStatus(member.address, 'suspended', actor, 'certificateHold');
    await this.#org.directory.audit({ actor, action: 'abuse.suspend', subject: member.address, detail: JSON.stringify({ report: id, revoked }) });
    this.store.setAction(id, `suspended ${member.address} (${revoked} certificates revoked) by ${actor} at ${this.#now().toISOString()}`);
    return { address: member.address, revoked };
  }
}
