import { createHash } from 'node:crypto';
import type {
  AttachmentInfo,
  ChainLink as ApiChainLink,
  ChainReason as ApiReason,
  ChainResult,
  MessageRef,
  OpenOptions,
  OpenedMessage,
} from '../../api';
import { verifyMessage, type ChainLink, type ChainReason, type CrlSource, type MessageVerification } from '../../smime/chain';
import type { Decryptor, EcdhDecryptor, RsaDecryptor } from '../../smime/keys';
import { decodeWords, parseMessage, walkEntities, type MimeEntity } from '../../smime/mime';
import { sanitizeHtml } from './sanitize';

/**
 * Open one message: decrypt through the card's 9D (the caller supplies the decryptor, which may
 * raise a PIN request), verify the chain with the pinned trust, and build what the UI shows —
 * the API's result DTO, the signed content only (text as text, HTML sanitized with remote
 * content blocked unless asked for), and the attachments with the verdicts the org links attested.
 */
export interface OpenTrust {
  /** The SSMAX root(s) (DER or PEM). */
  trustAnchors: readonly (Uint8Array | string)[];
  /** The user's own org (③ must be made by it): its domains from the pinned bundle or the account. */
  ownOrgDomains?: readonly string[];
  /** Or its pinned org CA (takes precedence in the core). */
  ownOrgCa?: Uint8Array | string;
  crls?: readonly (Uint8Array | string)[];
  /** ③'s SMTP envelope must name this address (the account's). */
  recipient?: string;
}

export interface OpenInput {
  ref: MessageRef;
  /** The message as fetched from IMAP (BODY[]), exact bytes. */
  raw: Uint8Array;
}

/** One attachment's bytes, kept by the host for `saveAttachment` (never sent to the UI). */
export interface OpenedAttachment {
  info: AttachmentInfo;
  bytes: Buffer;
}

export interface OpenResult {
  message: OpenedMessage;
  attachments: OpenedAttachment[];
  /** The core's result, for the cache and for tests. */
  verification: MessageVerification;
  /** The remote URLs the shown HTML loads; empty unless the user allowed remote content. */
  remoteLoads: string[];
}

/** Whether opening needs the card: the top level is an enveloped S/MIME entity. */
export function isEncrypted(raw: Uint8Array): boolean {
  try {
    const ct = parseMessage(raw).root.contentType;
    const smimeType = ct.params['smime-type']?.toLowerCase();
    return (
      (ct.value === 'application/pkcs7-mime' || ct.value === 'application/x-pkcs7-mime') &&
      smimeType !== 'signed-data' &&
      smimeType !== 'certs-only'
    );
  } catch {
    return false;
  }
}

/**
 * Wraps a card decryptor so that a card failure (PIN cancelled, wrong PIN, card removed) is not
 * lost inside the core's `decryption-failed`: the caller rethrows it as a typed error.
 */
export function watchDecryptor(d: RsaDecryptor | EcdhDecryptor): { decryptor: Decryptor; failure: () => unknown } {
  let failure: unknown;
  const guard = async <T>(f: () => Promise<T>): Promise<T> => {
    try {
      return await f();
    } catch (err) {
      failure ??= err;
      throw err;
    }
  };
  const decryptor: Decryptor =
    d.kind === 'rsa'
      ? { ...d, rsaRawDecrypt: (block: Uint8Array) => guard(() => d.rsaRawDecrypt(block)) }
      : { ...d, ecdh: (point: Uint8Array) => guard(() => d.ecdh(point)) };
  return { decryptor, failure: () => failure };
}

export async function openMessage(
  input: OpenInput,
  trust: OpenTrust,
  options: OpenOptions & {
    decryptors?: readonly Decryptor[];
    at?: Date;
    /** Fetches the CRLs at the chain's distribution points (client/open/revocation.ts); none: revocation is only checked against `trust.crls`. */
    crlSource?: CrlSource;
  },
): Promise<OpenResult> {
  const raw = Buffer.from(input.raw.buffer, input.raw.byteOffset, input.raw.byteLength);
  const verification = await verifyMessage(raw, {
    trustAnchors: trust.trustAnchors,
    decryptors: options.decryptors ?? [],
    ...(trust.crls ? { crls: trust.crls } : {}),
    ...(options.crlSource ? { crlSource: options.crlSource } : {}),
    ...(trust.ownOrgDomains ? { ownOrgDomains: trust.ownOrgDomains } : {}),
    ...(trust.ownOrgCa ? { ownOrgCa: trust.ownOrgCa } : {}),
    ...(trust.recipient ? { recipient: trust.recipient } : {}),
    ...(options.at ? { at: options.at } : {}),
  });
  const chain = toChainResult(verification);

  // Only signed content is shown. A message with no signature at all (and not encrypted) is
  // shown as what it is — unsigned — never its parts around a signature.
  let entity: MimeEntity | undefined = verification.content?.entity;
  if (
    !entity &&
    verification.state === 'unsigned' &&
    !verification.partiallySigned &&
    verification.links.length === 0 &&
    !isEncrypted(raw)
  ) {
    try {
      entity = parseMessage(raw).root;
    } catch {
      entity = undefined;
    }
  }

  const message: OpenedMessage = {
    ref: input.ref,
    headers: headersOf(verification, raw),
    chain,
    attachments: [],
  };
  const attachments: OpenedAttachment[] = [];
  let remoteLoads: string[] = [];
  if (entity) {
    const body = contentOf(entity, verification.links, options.loadRemoteContent);
    if (body.text !== undefined) message.text = body.text;
    if (body.html !== undefined) message.html = body.html;
    remoteLoads = body.remoteLoads;
    attachments.push(...body.attachments);
    message.attachments = attachments.map((a) => a.info);
  }
  return { message, attachments, verification, remoteLoads };
}

// ---------------------------------------------------------------- content

interface Body {
  text?: string;
  html?: OpenedMessage['html'];
  attachments: OpenedAttachment[];
  remoteLoads: string[];
}

function isAttachment(e: MimeEntity): boolean {
  const disposition = e.disposition?.value.toLowerCase();
  if (disposition === 'attachment') return true;
  if (e.contentType.type === 'text' && (e.contentType.subtype === 'plain' || e.contentType.subtype === 'html'))
    return e.filename !== undefined && disposition !== 'inline';
  return true;
}

function contentOf(root: MimeEntity, links: readonly ChainLink[], loadRemoteContent: boolean): Body {
  const body: Body = { attachments: [], remoteLoads: [] };
  for (const e of walkEntities(root, false)) {
    if (e.isMultipart) continue;
    if (!isAttachment(e)) {
      // Signed content is CRLF-canonical; the UI gets plain line feeds.
      if (e.contentType.subtype === 'plain' && body.text === undefined) body.text = e.text().replace(/\r\n/g, '\n');
      else if (e.contentType.subtype === 'html' && body.html === undefined) {
        const s = sanitizeHtml(e.text(), { loadRemoteContent });
        body.remoteLoads = s.remoteLoads;
        body.html = {
          sanitized: s.html,
          remoteContentBlocked: s.remoteBlocked > 0,
          remoteItemsBlocked: s.remoteBlocked,
        };
      }
      continue;
    }
    const bytes = e.body();
    const sha256 = createHash('sha256').update(bytes).digest();
    const verdicts: AttachmentInfo['verdicts'] = [];
    for (const link of links) {
      const match = link.attestation?.attachments.find((a) => Buffer.from(a.sha256).equals(sha256));
      if (match)
        verdicts.push({ by: link.role, verdict: match.verdict, ...(match.reason ? { reason: match.reason } : {}) });
    }
    const index = body.attachments.length;
    body.attachments.push({
      bytes,
      info: {
        index,
        name: e.filename ?? (e.mediaType === 'message/rfc822' ? `message-${index + 1}.eml` : `attachment-${index + 1}`),
        size: bytes.length,
        mediaType: e.mediaType,
        sha256: sha256.toString('hex'),
        verdicts,
        savable: !verdicts.some((v) => v.verdict === 'Danger'),
      },
    });
  }
  return body;
}

// ---------------------------------------------------------------- headers

function splitAddresses(value: string | undefined): string[] {
  if (!value) return [];
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  let angle = 0;
  for (const ch of value) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && ch === '<') angle++;
    else if (!quoted && ch === '>') angle = Math.max(0, angle - 1);
    if (ch === ',' && !quoted && angle === 0) {
      if (cur.trim()) out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

function headersOf(v: MessageVerification, raw: Buffer): OpenedMessage['headers'] {
  // Protected (signed) values when the message has them; the outer header otherwise.
  let outer: MimeEntity | undefined;
  try {
    outer = parseMessage(raw).root;
  } catch {
    outer = undefined;
  }
  const signedHeaders = v.content?.entity.headers;
  const get = (name: string): string | undefined => {
    const compared = v.headers.find((h) => h.name.toLowerCase() === name.toLowerCase());
    if (compared?.inner !== undefined) return compared.inner;
    const own = v.content?.headerProtection ? signedHeaders?.get(name) : undefined;
    const value = own ?? outer?.headers.get(name);
    return value === undefined ? undefined : decodeWords(value);
  };
  const from = v.displayedFrom
    ? v.displayedFrom.name
      ? `${v.displayedFrom.name} <${v.displayedFrom.address}>`
      : v.displayedFrom.address
    : (get('From') ?? '');
  return {
    from,
    to: splitAddresses(get('To')),
    cc: splitAddresses(get('Cc')),
    subject: get('Subject') ?? '',
    date: dateOf(get('Date')),
    messageId: get('Message-ID') ?? '',
  };
}

function dateOf(value: string | undefined): string {
  if (!value) return '';
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? value : d.toISOString();
}

// ---------------------------------------------------------------- the chain DTO

const reasonOf = (r: ChainReason): ApiReason => ({ code: r.code, message: r.message });

function linkOf(l: ChainLink): ApiChainLink {
  return {
    role: l.role,
    status: l.status,
    subject: l.subject,
    ...(l.email !== undefined ? { email: l.email } : {}),
    domains: [...l.domains],
    ...(l.orgName !== undefined ? { orgName: l.orgName } : {}),
    ...(l.staffId !== undefined ? { staffId: l.staffId } : {}),
    ...(l.signingTime !== undefined ? { signingTime: l.signingTime.toISOString() } : {}),
    path: l.path.map((c) => ({
      subject: c.subject,
      issuer: c.issuer,
      serialNumber: c.serialNumber,
      sha256: c.sha256,
      notBefore: c.notBefore.toISOString(),
      notAfter: c.notAfter.toISOString(),
      ...(c.ssmaxRole !== undefined ? { ssmaxRole: c.ssmaxRole } : {}),
    })),
    reasons: l.reasons.map(reasonOf),
    notes: l.notes.map(reasonOf),
  };
}

/** Maps the core's `MessageVerification` onto the API's serialisable `ChainResult`. */
export function toChainResult(v: MessageVerification): ChainResult {
  return {
    state: v.state,
    reasons: v.reasons.map(reasonOf),
    warnings: v.warnings.map(reasonOf),
    links: v.links.map(linkOf),
    ...(v.displayedFrom ? { displayedFrom: { name: v.displayedFrom.name, address: v.displayedFrom.address } } : {}),
    partiallySigned: v.partiallySigned,
    external: v.external,
    forwards: v.forwards.map(toChainResult),
  };
}

/**
 * What the message cache keeps of an open (client/mail reads `state` and `external` for the list):
 * the state, the reason codes and the links' roles and statuses — no certificates, no content.
 */
export function verificationRecord(chain: ChainResult): {
  version: 1;
  state: ChainResult['state'];
  external: boolean;
  reasons: string[];
  links: { role: string; status: string; email?: string; domains: string[] }[];
} {
  return {
    version: 1,
    state: chain.state,
    external: chain.external,
    reasons: chain.reasons.map((r) => r.code),
    links: chain.links.map((l) => ({
      role: l.role,
      status: l.status,
      ...(l.email !== undefined ? { email: l.email } : {}),
      domains: l.domains,
    })),
  };
}
