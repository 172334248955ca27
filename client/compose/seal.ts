import { randomUUID } from 'node:crypto';
import { basename } from 'node:path';
import { readFile } from 'node:fs/promises';
import { ApiError, type Draft, type PpapCheck } from '../../api';
import { encryptContent, signData } from '../../smime/cms';
import { checkArchiveEncryption } from '../../smime/content/ppap';
import type { EcdhDecryptor, RsaDecryptor, Signer } from '../../smime/keys';
import {
  buildMultipartSigned,
  buildPkcs7Mime,
  buildProtectedPayload,
  type AttachmentInput,
  type MessageHeaders,
} from '../../smime/mime';
import { richBody } from './rich-text';
import { forwardSubject, readOriginal, removeEncryption, replySubject, replyThreading } from './original';

/**
 * Compose → sign → encrypt (SPEC §5 "Client, send", §4 first hop):
 * the MIME entity carries the protected headers (RFC 9788 injected headers, hp="cipher": From, To,
 * Cc, Subject, Date, Message-ID inside; the outer Subject is `[...]`), is signed by the card's 9C
 * key as multipart/signed (detached, so any S/MIME client can verify it), and the signed entity is
 * encrypted (AuthEnvelopedData, AES-256-GCM) twice: once to the org encryption certificate ONLY
 * (what is submitted), once to the sender's own 9D certificate (the Sent copy). Never to the
 * recipients' keys: the org node re-encrypts.
 */

export interface AttachmentFile {
  path: string;
  filename: string;
  content: Buffer;
}

/** What sealing needs from the card for one message: the 9C signer and the 9D certificate. */
export interface SealKeys {
  signer: Signer;
  /** The sender's key-management certificate (card 9D), DER: the Sent copy is encrypted to it. */
  ownEncryptionCertificate: Uint8Array;
  /** The card's 9D key: opens the original of a reply or forward (mailbox copies are encrypted to it). */
  decryptor?: RsaDecryptor | EcdhDecryptor;
}

export interface SealOptions {
  /** The sender's address (the account's; must be the 9C certificate's rfc822Name for the org node to accept it). */
  from: string;
  /** The sender's display name in From (the account's); the chain panel shows the card's name regardless. */
  fromName?: string;
  /** The org encryption certificate in effect (the newest on rollover), DER. */
  orgEncryptionCertificate: Uint8Array;
  now?: () => Date;
  /** Certificates carried in the SignedData besides the signer's (the org CA), so any S/MIME client can build the path. */
  chainCertificates?: readonly Uint8Array[];
  /** Message-ID (with angle brackets); default `<uuid@sender's domain>`. Kept stable across resubmissions. */
  messageId?: string;
  /** The message replied to or forwarded, exactly as fetched from the mailbox (`Draft.inReplyTo` / `forwardOf`). */
  original?: { kind: 'reply' | 'forward'; raw: Uint8Array };
}

export interface SealedMessage {
  messageId: string;
  /** SMTP envelope: MAIL FROM and RCPT TO (To + Cc). */
  envelope: { from: string; to: string[] };
  subject: string;
  to: string[];
  /** What is submitted: application/pkcs7-mime authEnveloped-data to the org key. */
  wire: Buffer;
  /** The Sent copy: the same signed entity encrypted to the sender's own 9D certificate. */
  sentCopy: Buffer;
}

/** The user must confirm sending password-protected archives (PPAP); `send` refuses until `acknowledgedPpap`. */
export class PpapWarning extends ApiError {
  override readonly name = 'PpapWarning';
  constructor(
    readonly suspicious: PpapCheck['suspicious'],
    method = 'compose.send',
  ) {
    super(
      'PpapWarning',
      `Password-protected archives cannot be inspected by your organisation and are unsafe (PPAP): ${suspicious
        .map((s) => `${basename(s.path)} — ${s.reason}`)
        .join('; ')}. Send anyway only after confirming.`,
      { method },
    );
  }
}

/** Reads the draft's attachments (the paths the user picked in the file dialog). */
export async function readAttachments(draft: Pick<Draft, 'attachments'>, method = 'compose.send'): Promise<AttachmentFile[]> {
  const files: AttachmentFile[] = [];
  for (const a of draft.attachments) {
    // Bytes from the UI (browser file input / drag and drop): no file to read; the name is only a name.
    if ('contentBase64' in a) {
      files.push({ path: basename(a.name), filename: basename(a.name), content: Buffer.from(a.contentBase64, 'base64') });
      continue;
    }
    try {
      files.push({ path: a.path, filename: basename(a.path), content: await readFile(a.path) });
    } catch (cause) {
      throw new ApiError('NotFound', `The attachment ${basename(a.path)} cannot be read (${(cause as NodeJS.ErrnoException).code ?? 'error'}).`, { method, cause });
    }
  }
  return files;
}

/** PPAP check: encrypted ZIP / 7z by content; damaged archives too (the org node cannot inspect them either). */
export async function checkPpap(files: readonly AttachmentFile[]): Promise<PpapCheck> {
  const suspicious: PpapCheck['suspicious'] = [];
  for (const f of files) {
    const r = await checkArchiveEncryption(f.content);
    if (r.state === 'encrypted' || r.state === 'unreadable') suspicious.push({ path: f.path, reason: r.reason });
  }
  return { suspicious };
}

function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? 'localhost' : address.slice(at + 1);
}

export function newMessageId(from: string): string {
  return `<${randomUUID()}@${domainOf(from)}>`;
}

/**
 * The PPAP gate, then sealing. `keys` is asked only after the PPAP check passed, so a warning
 * never costs a PIN prompt. Card errors from `keys` / `signer.sign` propagate unchanged (the
 * caller maps them; nothing has been queued, the draft stays with the UI).
 */
export async function composeAndSeal(
  draft: Draft,
  files: readonly AttachmentFile[],
  keys: () => Promise<SealKeys>,
  opts: SealOptions,
): Promise<SealedMessage> {
  const ppap = await checkPpap(files);
  if (ppap.suspicious.length > 0 && draft.acknowledgedPpap !== true) throw new PpapWarning(ppap.suspicious);

  const { signer, ownEncryptionCertificate, decryptor } = await keys();
  // Reply / forward: the original without its encryption layer (the card's 9D, same card action).
  const original = opts.original
    ? readOriginal(await removeEncryption(opts.original.raw, decryptor, 'compose.send'), opts.original.raw, 'compose.send')
    : undefined;
  const subject =
    original && opts.original?.kind === 'reply'
      ? replySubject(draft.subject, original)
      : original
        ? forwardSubject(draft.subject, original)
        : draft.subject;

  const now = opts.now?.() ?? new Date();
  const messageId = opts.messageId ?? newMessageId(opts.from);
  const headers: MessageHeaders = {
    from: opts.fromName ? { name: opts.fromName, address: opts.from } : opts.from,
    to: draft.to,
    ...(draft.cc.length > 0 ? { cc: draft.cc } : {}),
    subject,
    date: now,
    messageId,
    ...(original && opts.original?.kind === 'reply' ? replyThreading(original) : {}),
  };
  const attachments: AttachmentInput[] = files.map((f) => ({ filename: f.filename, content: f.content }));
  const { entity, outerHeaders } = await buildProtectedPayload(
    headers,
    {
      // Rich text: multipart/alternative, the HTML rebuilt from the allowed elements and the text derived from it.
      ...(draft.html !== undefined ? richBody(draft.html) : { text: draft.text }),
      ...(attachments.length > 0 ? { attachments } : {}),
      // SPEC §4: the original as message/rfc822 with its chain intact (its signed bytes, unchanged).
      ...(original && opts.original?.kind === 'forward' ? { forwards: [{ message: original.bytes, filename: 'forwarded.eml' }] } : {}),
    },
    'cipher',
  );

  // The card's own error (removed, wrong PIN, cancelled) is what the caller must see, not the CMS wrapper.
  let cardError: unknown;
  const capturing: Signer = {
    certificate: signer.certificate,
    algorithm: signer.algorithm,
    sign: (req) =>
      signer.sign(req).catch((err: unknown) => {
        cardError ??= err;
        throw err;
      }),
  };
  let signature: Uint8Array;
  try {
    signature = await signData({ content: entity, signers: [capturing], detached: true, signingTime: now, ...(opts.chainCertificates ? { certificates: opts.chainCertificates } : {}) });
  } catch (err) {
    throw cardError ?? err;
  }
  const signed = buildMultipartSigned({ signedPart: entity, signature, digest: signer.algorithm.hash });
  const seal = (recipient: Uint8Array): Buffer =>
    buildPkcs7Mime({
      smimeType: 'authEnveloped-data',
      der: encryptContent({ content: signed, recipients: [recipient] }),
      headers: outerHeaders,
    });
  return {
    messageId,
    envelope: { from: opts.from, to: [...draft.to, ...draft.cc] },
    subject,
    to: [...draft.to, ...draft.cc],
    wire: seal(opts.orgEncryptionCertificate),
    sentCopy: seal(ownEncryptionCertificate),
  };
}
