import { X509Certificate, type KeyObject } from 'node:crypto';
import { request } from 'node:https';
import { ENROLL_PATH } from '../../smime/bundle/manifest';

/**
 * The org node's enrollment API as IT's tools call it (org-node/http/server.ts has the server):
 * first check the one-time code without spending it (before the card is touched), then POST the two card-signed CSRs with the employee's one-time code, then check what comes back
 * before anything is written to the card — each certificate carries the key generated in its slot
 * and is issued by the org CA, which is issued by an SSMAX root the caller trusts. Shared by
 * `ssmax org enroll-card` (cli/) and the desktop client's IT mode (client/enrollment).
 */
export type EnrollmentApiErrorCode =
  /** The node cannot be reached (network, TLS, timeout). */
  | 'unreachable'
  /** 401: the one-time code is unknown, used or expired for this address. */
  | 'code-refused'
  /** Any other refusal (422 profile / proof of possession, 400 …). */
  | 'refused'
  /** The answer is not what the API promises, or fails the checks (wrong key, wrong chain). */
  | 'bad-answer';

export class EnrollmentApiError extends Error {
  override readonly name = 'EnrollmentApiError';
  constructor(
    readonly code: EnrollmentApiErrorCode,
    message: string,
    options: { cause?: unknown; status?: number } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.status = options.status;
  }
  readonly status: number | undefined;
}

export interface IssuedCertificates {
  signatureCertificate: Uint8Array;
  keyManagementCertificate: Uint8Array;
  orgCa: Uint8Array;
}

/** `https://ssmax.example` or a bundle URL on the node → the enrollment endpoint on the same origin. */
export function enrollmentUrl(nodeOrBundleUrl: string): string {
  const u = new URL(nodeOrBundleUrl);
  if (u.protocol !== 'https:') throw new EnrollmentApiError('refused', 'The enrollment API is reached over HTTPS only (the enrollment code is a secret).');
  return `${u.origin}${ENROLL_PATH}`;
}

function postJson(url: string, body: unknown, ca: string | Uint8Array | undefined, timeoutMs: number): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const data = Buffer.from(JSON.stringify(body));
    const req = request(url, { method: 'POST', ...(ca ? { ca: Buffer.from(ca) } : {}), timeout: timeoutMs, headers: { 'content-type': 'application/json', 'content-length': data.length } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> });
        } catch {
          reject(new EnrollmentApiError('bad-answer', `the node at ${url} did not answer JSON (HTTP ${res.statusCode})`, { status: res.statusCode }));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (cause) => reject(new EnrollmentApiError('unreachable', `cannot reach the enrollment API at ${url} (${cause.message})`, { cause })));
    req.end(data);
  });
}

function refusal(status: number, json: Record<string, unknown>, what: string): EnrollmentApiError {
  const why = String(json.error ?? 'no reason given');
  return new EnrollmentApiError(status === 401 ? 'code-refused' : 'refused', `the node refused the ${what} (HTTP ${status}): ${why}`, { status });
}

/**
 * Asks the node whether it would accept `code` for `address`, without spending the code. Call it
 * before touching the card: a refusal (`code-refused`, as the real request would answer) then costs
 * nothing, where after key generation it would leave an enrolled card with keys its certificates do
 * not match. Only an early warning: `requestCertificates` is still judged by the node.
 */
export async function checkEnrollmentCode(req: { url: string; address: string; code: string; tlsCa?: string | Uint8Array | undefined; timeoutMs?: number }): Promise<void> {
  const answer = await postJson(req.url, { address: req.address, code: req.code, check: true }, req.tlsCa, req.timeoutMs ?? 30_000);
  if (answer.status !== 200) throw refusal(answer.status, answer.json, 'enrollment code');
  if (answer.json.ok !== true) throw new EnrollmentApiError('bad-answer', 'the node did not confirm the enrollment code (does it support the code check?)');
}

/** Sends the card-signed CSRs (DER or PEM text) with the one-time code; returns the issued DER certificates. */
export async function requestCertificates(req: {
  url: string;
  address: string;
  code: string;
  signatureCsr: string;
  keyManagementCsr: string;
  tlsCa?: string | Uint8Array | undefined;
  timeoutMs?: number;
}): Promise<IssuedCertificates> {
  const answer = await postJson(req.url, { address: req.address, code: req.code, signatureCsr: req.signatureCsr, keyManagementCsr: req.keyManagementCsr }, req.tlsCa, req.timeoutMs ?? 30_000);
  if (answer.status !== 200) throw refusal(answer.status, answer.json, 'enrollment');
  const der = (b64: unknown): Uint8Array => {
    if (typeof b64 !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw new EnrollmentApiError('bad-answer', 'the node answered an incomplete enrollment');
    return new Uint8Array(Buffer.from(b64, 'base64'));
  };
  return { signatureCertificate: der(answer.json.signatureCertificate), keyManagementCertificate: der(answer.json.keyManagementCertificate), orgCa: der(answer.json.orgCa) };
}

/** The checks before writing: the org CA under one of `roots`, each certificate under the org CA and for the key of its slot. */
export function checkIssued(issued: IssuedCertificates, keys: { signature: KeyObject; keyManagement: KeyObject }, roots: readonly Uint8Array[]): void {
  let orgCa: X509Certificate;
  try {
    orgCa = new X509Certificate(issued.orgCa);
  } catch (cause) {
    throw new EnrollmentApiError('bad-answer', 'the org CA the node sent is not a certificate', { cause });
  }
  const underRoot = roots.some((r) => {
    const root = new X509Certificate(r);
    return orgCa.checkIssued(root) && orgCa.verify(root.publicKey);
  });
  if (!underRoot) throw new EnrollmentApiError('bad-answer', 'the org CA the node sent is not issued by the trusted SSMAX root');
  for (const [cert, key, slot] of [
    [issued.signatureCertificate, keys.signature, '9C'],
    [issued.keyManagementCertificate, keys.keyManagement, '9D'],
  ] as const) {
    const x = new X509Certificate(cert);
    if (!x.checkIssued(orgCa) || !x.verify(orgCa.publicKey)) throw new EnrollmentApiError('bad-answer', `the ${slot} certificate is not issued by the org CA`);
    if (!x.publicKey.export({ type: 'spki', format: 'der' }).equals(key.export({ type: 'spki', format: 'der' }))) throw new EnrollmentApiError('bad-answer', `the ${slot} certificate is not for the key on the card`);
  }
}
