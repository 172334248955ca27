import type { IncomingMessage, ServerResponse } from 'node:http';
import { AbuseReportError, type AbuseDesk } from './desk';

/** Reported messages can carry attachments: up to 32 MB per report. */
const MAX_REPORT = 32 * 1024 * 1024;

function answer(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

/**
 * POST <abuse path>, body: one CMS SignedData (DER), content-type application/pkcs7-mime (or
 * application/cms). Answers 202 {id, state, senderVerified, forwardStatus}; 400 garbage, 403 not a
 * member's card / not a known SSMAX org, 405, 413, 415, 422 — always {error} and nothing recorded.
 */
export async function handleAbuseRequest(desk: AbuseDesk, req: IncomingMessage, res: ServerResponse, log: (line: string) => void): Promise<void> {
  if (req.method !== 'POST') return answer(res, 405, { error: 'Use POST.' });
  const type = (req.headers['content-type'] ?? '').toLowerCase();
  if (!type.startsWith('application/pkcs7-mime') && !type.startsWith('application/cms')) {
    return answer(res, 415, { error: 'Send the report as a CMS SignedData (application/pkcs7-mime).' });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_REPORT) return answer(res, 413, { error: 'The report is too large.' });
    chunks.push(chunk as Buffer);
  }
  try {
    const report = await desk.receive(new Uint8Array(Buffer.concat(chunks)));
    answer(res, 202, { id: report.id, state: report.state, senderVerified: report.senderVerified, forwardStatus: report.forwardStatus });
  } catch (err) {
    if (err instanceof AbuseReportError) {
      log(`abuse: report refused (${err.status}): ${err.message}`);
      return answer(res, err.status, { error: err.userMessage });
    }
    throw err;
  }
}
