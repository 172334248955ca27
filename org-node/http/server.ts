import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { BUNDLE_PATH, CRL_PATH, ENROLL_PATH } from '../../smime/bundle/manifest';
import type { AbuseDesk } from '../abuse/desk';
import { handleAbuseRequest } from '../abuse/http';
import { EnrollmentCodeError } from '../directory/directory';
import { OrgNodeError } from '../errors';
import type { Org } from '../org';
import { fromPem } from '../pem';
import { CsrError, checkCsr } from '../../smime/pki/csr';

/**
 * The org node's HTTP(S) side:
 *   GET  /.well-known/ssmax/bundle.p7s   the signed org bundle (application/pkcs7-mime)
 *   GET  /.well-known/ssmax/org-ca.crl   the org CA's CRL (application/pkix-crl, DER)
 *   POST /ssmax/enroll/v1                the enrollment API (JSON, below)
 *   POST /ssmax/abuse/v1                 the abuse desk, when `abuseDesk` is given (org-node/abuse/README.md)
 * Bundle and CRL are read from disk on each request, so a revocation made with the CLI while the
 * server runs is served at once. Trust in them never rests on TLS (they are signed); the
 * enrollment API does need TLS, since the enrollment code is a bearer secret.
 *
 * Enrollment request: { address, code, signatureCsr, keyManagementCsr } — CSRs as PEM or base64 DER,
 * made and signed on the card (9C, 9D). Answer 200: { signatureCertificate, keyManagementCertificate,
 * orgCa, root } base64 DER. 401 for any code problem (one message: no oracle for guessing), 422 when
 * a CSR fails proof of possession or the profile, 400 for malformed input.
 *
 * Code check: { address, code, check: true } (no CSRs) → 200 { ok: true } without spending the code,
 * or the same 401/400 as the request. IT's tools ask it before they touch the card, so that a wrong,
 * used or expired code (or a wrong address) never costs a card its keys. A refused check is audited
 * like a refused request (it counts as a failed attempt); the request still judges the code itself.
 */

export { ENROLL_PATH };
const MAX_BODY = 64 * 1024;
const DAY = 86_400_000;

export interface OrgServerOptions {
  readonly listen: { readonly host: string; readonly port: number };
  /** PEM files; without them the server speaks plain HTTP (behind a TLS-terminating proxy, or tests of the public files). */
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
  /** How often the CRL and bundle are reissued so that they never run out (default daily). */
  readonly refreshMs?: number;
  readonly log?: (line: string) => void;
  /** The abuse desk (org-node/abuse), served at the path of the org's configured abuse endpoint. */
  readonly abuseDesk?: AbuseDesk;
}

export interface OrgServerHandle {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, 'The request is too large.');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function csrBytes(value: unknown, field: string): Uint8Array {
  if (typeof value !== 'string' || value.length === 0) throw new HttpError(400, `${field} is missing.`);
  if (value.includes('-----BEGIN')) {
    try {
      return fromPem(value, ['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST']);
    } catch {
      throw new HttpError(400, `${field} is not a PEM certificate request.`);
    }
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value)) throw new HttpError(400, `${field} is neither PEM nor base64 DER.`);
  return new Uint8Array(Buffer.from(value, 'base64'));
}

const b64 = (der: Uint8Array): string => Buffer.from(der).toString('base64');

/** The check and the real request refuse alike: 401 with one message for any code problem, 400 for a malformed address. */
async function judgeCode(judge: () => Promise<unknown>): Promise<void> {
  try {
    await judge();
  } catch (err) {
    if (err instanceof EnrollmentCodeError) throw new HttpError(401, 'The enrollment code is not valid for this address (unknown, used or expired).');
    if (err instanceof OrgNodeError) throw new HttpError(400, err.userMessage);
    throw err;
  }
}

export async function startOrgServer(org: Org, options: OrgServerOptions): Promise<OrgServerHandle> {
  const log = options.log ?? ((line: string) => console.log(line));

  async function enroll(req: IncomingMessage): Promise<unknown> {
    if (!(req.headers['content-type'] ?? '').startsWith('application/json')) throw new HttpError(415, 'Send JSON (application/json).');
    let body: Record<string, unknown>;
    try {
      body = JSON.parse((await readBody(req)).toString('utf8')) as Record<string, unknown>;
    } catch (err) {
      if (err instanceof HttpError) throw err;
      throw new HttpError(400, 'The request is not valid JSON.');
    }
    if (typeof body !== 'object' || body === null) throw new HttpError(400, 'The request must be a JSON object.');
    const { address, code } = body;
    if (typeof address !== 'string' || typeof code !== 'string') throw new HttpError(400, 'address and code are required.');
    if (body.check === true) {
      // The early warning before a card is touched: judged like the real request, the code not spent.
      await judgeCode(() => org.directory.checkEnrollmentCode(address, code, 'enrollment-api'));
      return { ok: true };
    }
    const signatureCsr = csrBytes(body.signatureCsr, 'signatureCsr');
    const keyManagementCsr = csrBytes(body.keyManagementCsr, 'keyManagementCsr');
    // Proof of possession before the code is spent: a broken CSR must not cost the employee the code.
    try {
      await checkCsr(signatureCsr, 'signature (9C) request');
      await checkCsr(keyManagementCsr, 'key-management (9D) request');
    } catch (err) {
      if (err instanceof CsrError) throw new HttpError(422, err.userMessage);
      throw err;
    }
    await judgeCode(() => org.directory.redeemEnrollmentCode(address, code, 'enrollment-api'));
    try {
      const issued = await org.issueMemberCertificates(address, signatureCsr, keyManagementCsr, 'enrollment-api');
      log(`enrollment: certificates issued for ${address}`);
      return { signatureCertificate: b64(issued.signature), keyManagementCertificate: b64(issued.keyManagement), orgCa: b64(issued.chain[0]!), root: b64(issued.chain[1]!) };
    } catch (err) {
      if (err instanceof OrgNodeError || err instanceof CsrError) throw new HttpError(422, err.userMessage);
      throw err;
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://node').pathname;
    try {
      if (path === BUNDLE_PATH || path === CRL_PATH) {
        if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'Use GET.');
        const bytes = path === BUNDLE_PATH ? await org.currentBundle() : await org.currentCrl();
        res.writeHead(200, {
          'content-type': path === BUNDLE_PATH ? 'application/pkcs7-mime; smime-type=signed-data' : 'application/pkix-crl',
          'content-length': bytes.length,
          'cache-control': 'max-age=300',
        });
        res.end(req.method === 'HEAD' ? undefined : Buffer.from(bytes));
        return;
      }
      if (path === ENROLL_PATH) {
        if (req.method !== 'POST') throw new HttpError(405, 'Use POST.');
        const answer = JSON.stringify(await enroll(req));
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end(answer);
        return;
      }
      if (options.abuseDesk && path === options.abuseDesk.path) {
        await handleAbuseRequest(options.abuseDesk, req, res, log);
        return;
      }
      throw new HttpError(404, 'Not found.');
    } catch (err) {
      const status = err instanceof HttpError ? err.status : 500;
      const message = err instanceof HttpError ? err.message : 'The node could not answer (see its log).';
      if (status === 500) log(`error on ${req.method} ${path}: ${err instanceof Error ? err.message : String(err)}`);
      if (!res.headersSent) {
        res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
        res.end(JSON.stringify({ error: message }));
      } else res.destroy();
    }
  }

  const listener = (req: IncomingMessage, res: ServerResponse): void => void handle(req, res);
  let server: Server;
  if (options.tls) {
    let cert: Buffer;
    let key: Buffer;
    try {
      [cert, key] = await Promise.all([readFile(options.tls.certFile), readFile(options.tls.keyFile)]);
    } catch (cause) {
      throw new OrgNodeError(`Cannot read the TLS certificate or key (${options.tls.certFile}, ${options.tls.keyFile}).`, { cause });
    }
    server = createHttpsServer({ cert, key }, listener);
  } else {
    server = createHttpServer(listener);
  }
  // Fail at startup, not at the first request, when the org is not set up to publish.
  await org.currentBundle().catch((cause: unknown) => {
    throw new OrgNodeError(`No org bundle in ${org.dir} yet (run \`ssmax org install-ca\`).`, { cause });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (cause) => reject(new OrgNodeError(`Cannot listen on ${options.listen.host}:${options.listen.port}.`, { cause })));
    server.listen(options.listen.port, options.listen.host, resolve);
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.listen.host.includes(':') ? `[${options.listen.host}]` : options.listen.host;
  const url = `${options.tls ? 'https' : 'http'}://${host}:${port}`;

  // Keep the CRL and bundle fresh: both are reissued well before they run out.
  const refresh = setInterval(() => {
    void (async () => {
      try {
        await org.reissueCrl();
        await org.publishBundle();
      } catch (err) {
        log(`refresh of CRL/bundle failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    })();
  }, options.refreshMs ?? DAY);
  refresh.unref();

  return {
    url,
    port,
    async close() {
      clearInterval(refresh);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
