import { ApiError } from '../../api';
import { decryptContent } from '../../smime/cms';
import type { Decryptor, EcdhDecryptor, RsaDecryptor } from '../../smime/keys';
import { analyzeSmime, decodeWords, extractProtectedHeaders, parseMessage, type MimeEntity } from '../../smime/mime';
import { isEncrypted, watchDecryptor } from '../open/open-message';

/**
 * The message a reply or forward refers to (SPEC §4 "Forwarding extends the chain"), as the user
 * holds it: the mailbox copy is encrypted to the user's own 9D key by their org node; the card
 * removes that layer and what is left is the original signed message with its chain (① and the org
 * countersignatures) intact. A forward carries exactly these bytes as message/rfc822, so the
 * recipient's client verifies the inner chain on its own; a reply takes its Message-ID and
 * References from the signed (protected) header section, the outer one when there is none.
 */
export interface OriginalMessage {
  /** The message without its encryption layer(s): what a forward attaches. */
  bytes: Buffer;
  /** `<id@host>`, when the original has one. */
  messageId?: string;
  /** The original's References (space-separated Message-IDs). */
  references?: string;
  subject: string;
}

const MAX_LAYERS = 4;

/** Removes the encryption layer(s) with the card's 9D key; a card failure comes back as itself, not wrapped. */
export async function removeEncryption(raw: Uint8Array, card: RsaDecryptor | EcdhDecryptor | undefined, method: string): Promise<Buffer> {
  let bytes = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  for (let i = 0; i < MAX_LAYERS && isEncrypted(bytes); i++) {
    if (!card) throw new ApiError('Refused', 'The original message is encrypted and no card key is available to open it.', { method });
    const layer = analyzeSmime(parseMessage(bytes).root).layers[0];
    if (!layer || layer.kind !== 'pkcs7-mime')
      throw new ApiError('Refused', 'The original message is encrypted but has no S/MIME layer that can be decrypted.', { method });
    const { decryptor, failure } = watchDecryptor(card);
    try {
      bytes = Buffer.from((await decryptContent(layer.der(), decryptor as Decryptor)).content);
    } catch (err) {
      throw failure() ?? new ApiError('Refused', `The original message cannot be decrypted with your card: ${(err as Error).message}`, { method, cause: err });
    }
  }
  return bytes;
}

/** Reads what a reply needs from the original (decrypted) message: protected headers first, then the outer ones. */
export function readOriginal(bytes: Buffer, receivedRaw: Uint8Array, method: string): OriginalMessage {
  let root: MimeEntity;
  try {
    root = parseMessage(bytes).root;
  } catch (cause) {
    throw new ApiError('Refused', 'The original message is not readable MIME; it cannot be replied to or forwarded.', { method, cause });
  }
  let protectedEntity: MimeEntity | undefined;
  try {
    const payload = analyzeSmime(root).payload;
    protectedEntity = payload && extractProtectedHeaders(payload) ? payload : undefined;
  } catch {
    protectedEntity = undefined;
  }
  let outer: MimeEntity | undefined;
  try {
    outer = parseMessage(receivedRaw).root;
  } catch {
    outer = undefined;
  }
  const get = (name: string): string | undefined => {
    const v = protectedEntity?.headers.get(name) ?? root.headers.get(name) ?? outer?.headers.get(name);
    return v === undefined ? undefined : v.replace(/\r?\n[ \t]+/g, ' ').trim();
  };
  const messageId = firstMessageId(get('Message-ID'));
  const references = get('References')?.match(/<[^<>\s]+>/g)?.join(' ');
  return {
    bytes,
    ...(messageId ? { messageId } : {}),
    ...(references ? { references } : {}),
    subject: decodeWords(get('Subject') ?? ''),
  };
}

function firstMessageId(value: string | undefined): string | undefined {
  return value?.match(/<[^<>\s]+>/)?.[0];
}

/** RFC 5322 §3.6.4: the reply's In-Reply-To and References (the original's References, then its Message-ID; at most 20 kept). */
export function replyThreading(original: OriginalMessage): { inReplyTo?: string; references?: string } {
  const refs = [...(original.references?.split(' ') ?? []), ...(original.messageId ? [original.messageId] : [])];
  // Long threads: keep the first (thread root) and the most recent ones.
  const kept = refs.length > 20 ? [refs[0]!, ...refs.slice(-19)] : refs;
  return {
    ...(original.messageId ? { inReplyTo: original.messageId } : {}),
    ...(kept.length > 0 ? { references: kept.join(' ') } : {}),
  };
}

const REPLY_PREFIX = /^\s*(re|aw|sv|antw)\s*(\[\d+\])?\s*[:：]/i;
const FORWARD_PREFIX = /^\s*(fwd?|fw|wg|tr)\s*(\[\d+\])?\s*[:：]/i;

/** `Re: <subject>` — never `Re: Re:`; an empty draft subject takes the original's. */
export function replySubject(draftSubject: string, original: OriginalMessage): string {
  const s = draftSubject.trim() === '' ? original.subject : draftSubject;
  return REPLY_PREFIX.test(s) ? s : `Re: ${s}`;
}

/** `Fwd: <subject>` — never `Fwd: Fwd:`; an empty draft subject takes the original's. */
export function forwardSubject(draftSubject: string, original: OriginalMessage): string {
  const s = draftSubject.trim() === '' ? original.subject : draftSubject;
  return FORWARD_PREFIX.test(s) ? s : `Fwd: ${s}`;
}
