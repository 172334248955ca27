import { request } from 'node:https';
import { ApiError, type MessageRef, type ReportReceipt } from '../../api';
import { REPORT_CONTENT_TYPE, createAbuseReport } from '../../smime/abuse';
import { decryptContent } from '../../smime/cms';
import type { Decryptor, Signer } from '../../smime/keys';
import { analyzeSmime, parseMessage } from '../../smime/mime';
import type { CardSession } from '../card/card-session';
import { isEncrypted } from '../open/open-message';
import type { MessageSource } from '../open/service';

const METHOD = 'report.malicious';
const MAX_LAYERS = 4;
const MAX_ANSWER = 64 * 1024;

/** The pinned org's abuse desk: the bundle's endpoint, the org CA, the TLS CA the bundle came with. */
export interface AbuseDeskTarget {
  url: string;
  orgCa: Uint8Array;
  tlsCaPem?: string | undefined;
}

export interface PostAnswer {
  status: number;
  body: string;
}

export interface ReportServiceOptions {
  card: CardSession;
  source: MessageSource;
  /** The pinned org's desk; undefined when no valid org bundle is pinned. */
  desk: () => AbuseDeskTarget | undefined;
  /** Sends the report (default: HTTPS POST, application/pkcs7-mime). */
  post?: (target: AbuseDeskTarget, body: Uint8Array) => Promise<PostAnswer>;
  timeoutMs?: number;
}

/**
 * `report.malicious` (SPEC §8): the complete signed message as the client holds it (decrypted with
 * the card's 9D when it came encrypted), with the user's reason, signed by the card's 9C in one card
 * action (one PIN prompt), POSTed to the pinned org bundle's abuse endpoint.
 */
export class ReportService {
  constructor(private readonly opts: ReportServiceOptions) {}

  async malicious(ref: MessageRef, reason: string): Promise<ReportReceipt> {
    const desk = this.opts.desk();
    if (!desk)
      throw new ApiError('Refused', 'No valid org bundle is pinned: the org\'s abuse desk is not known (first launch, or the bundle expired).', { method: METHOD });
    const raw = await this.opts.source.fetchRaw(ref);
    if (raw === undefined) throw new ApiError('NotFound', `Message ${ref.uid} is not in ${ref.path} (any more).`, { method: METHOD });
    const body = await this.opts.card.run(METHOD, `Report the message in ${ref.path} to your org`, async (card) => {
      const message = isEncrypted(raw) ? await decrypted(raw, await card.openDecryptor()) : raw;
      const signer: Signer = await card.openSigner();
      return createAbuseReport({ message, reason, signer, orgCa: desk.orgCa });
    });
    let answer: PostAnswer;
    try {
      answer = await (this.opts.post ?? ((t, b) => httpsPost(t, b, this.opts.timeoutMs ?? 30_000)))(desk, body);
    } catch (cause) {
      throw new ApiError('ServerUnavailable', `The org's abuse desk (${hostOf(desk.url)}) cannot be reached.`, { method: METHOD, cause });
    }
    return receipt(answer);
  }
}

/** Removes the encryption layer(s): the signed message the recipient holds. */
async function decrypted(raw: Uint8Array, decryptor: Decryptor): Promise<Uint8Array> {
  let bytes = raw;
  for (let i = 0; i < MAX_LAYERS && isEncrypted(bytes); i++) {
    const layer = analyzeSmime(parseMessage(bytes).root).layers[0];
    if (!layer || layer.kind !== 'pkcs7-mime') throw new ApiError('Refused', 'The encrypted message has no S/MIME layer that can be decrypted.', { method: METHOD });
    bytes = (await decryptContent(layer.der(), decryptor)).content;
  }
  return bytes;
}

function receipt(answer: PostAnswer): ReportReceipt {
  let json: unknown;
  try {
    json = JSON.parse(answer.body);
  } catch {
    json = undefined;
  }
  const obj = (json ?? {}) as Record<string, unknown>;
  if (answer.status === 202 || answer.status === 200) {
    if (typeof obj.id !== 'string' || typeof obj.state !== 'string')
      throw new ApiError('Internal', 'The abuse desk answered without a report id.', { method: METHOD });
    return { id: obj.id, state: obj.state };
  }
  const why = typeof obj.error === 'string' ? obj.error : `HTTP ${answer.status}`;
  if (answer.status >= 500) throw new ApiError('ServerUnavailable', `The org's abuse desk failed: ${why}`, { method: METHOD });
  throw new ApiError('Refused', `The org's abuse desk refused the report: ${why}`, { method: METHOD });
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

function httpsPost(target: AbuseDeskTarget, body: Uint8Array, timeoutMs: number): Promise<PostAnswer> {
  return new Promise((resolve, reject) => {
    const url = new URL(target.url);
    if (url.protocol !== 'https:') {
      reject(new Error(`The abuse desk is reached over HTTPS only (${target.url}).`));
      return;
    }
    const req = request(
      url,
      {
        method: 'POST',
        headers: { 'content-type': REPORT_CONTENT_TYPE, 'content-length': String(body.length) },
        timeout: timeoutMs,
        ...(target.tlsCaPem ? { ca: target.tlsCaPem } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size <= MAX_ANSWER) chunks.push(c);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}
