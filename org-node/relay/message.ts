import { createHash } from 'node:crypto';
import { decryptContent, encryptContent } from '../../smime/cms';
import type { Decryptor } from '../../smime/keys';
import { analyzeSmime, buildMultipartSigned, buildPkcs7Mime, parseMessage, type MicalgDigest } from '../../smime/mime';
import { OrgNodeError } from '../errors';

/**
 * The byte work of a hop: take the encrypted wire message apart (outer header fields, the decrypted
 * signed layer and its CMS), and put it back together with a new CMS, encrypted to the next key.
 */

/** The message cannot be taken apart: not encrypted to us, not S/MIME, malformed. */
export class MessageShapeError extends OrgNodeError {
  constructor(
    readonly code: 'not-encrypted' | 'not-for-this-org' | 'malformed',
    userMessage: string,
    options?: { cause?: unknown },
  ) {
    super(userMessage, options);
  }
}

/** Header fields a hop never copies from the message it received (it writes its own). */
const DROPPED = /^(mime-version|content-.*|x-ssmax-relay-id)$/;

export interface OpenedMessage {
  /** The outer header fields (From, To, Subject, Date, Message-ID …) exactly as received, minus MIME fields. */
  readonly outerHeaders: Buffer;
  readonly messageId: string | undefined;
  /** The single outer From address (undefined when none or several): only a hint, the chain check decides. */
  readonly from: string | undefined;
  /** The signed layer after decryption. */
  readonly signed: SignedLayer;
}

export type SignedLayer =
  | { readonly kind: 'multipart-signed'; readonly signedPart: Buffer; readonly cms: Uint8Array; readonly micalg: MicalgDigest[] }
  | { readonly kind: 'opaque'; readonly cms: Uint8Array };

/** Decrypts the wire message with the first key that opens it and finds its signed layer. */
export async function openMessage(raw: Buffer, decryptors: readonly Decryptor[]): Promise<OpenedMessage> {
  let root;
  try {
    root = parseMessage(raw).root;
  } catch (err) {
    throw new MessageShapeError('malformed', 'The message could not be read as MIME.', { cause: err });
  }
  const outerHeaders = Buffer.concat(root.headers.fields.filter((f) => !DROPPED.test(f.key)).map((f) => f.raw));
  const messageId = root.headers.get('message-id')?.trim();
  const froms = root.headers.getAddresses('from');
  const from = froms.length === 1 ? froms[0]?.address : undefined;
  const layer = analyzeSmime(root).layers[0];
  if (!layer || layer.kind !== 'pkcs7-mime' || (layer.smimeType !== undefined && layer.smimeType !== 'enveloped-data' && layer.smimeType !== 'authEnveloped-data')) {
    throw new MessageShapeError('not-encrypted', 'The message is not encrypted to the organisation key; SSMAX mail must be signed and encrypted.');
  }
  let plain: Uint8Array | undefined;
  let lastError: unknown;
  for (const d of decryptors) {
    try {
      plain = (await decryptContent(layer.der(), d)).content;
      break;
    } catch (err) {
      lastError = err;
    }
  }
  if (!plain) throw new MessageShapeError('not-for-this-org', 'The message is not encrypted to this organisation\'s key (or was altered on the way).', { cause: lastError });
  return { outerHeaders, messageId, from, signed: findSignedLayer(Buffer.from(plain.buffer, plain.byteOffset, plain.byteLength)) };
}

function findSignedLayer(inner: Buffer): SignedLayer {
  try {
    const s = analyzeSmime(parseMessage(inner).root);
    const l = s.layers[0];
    if (l?.kind === 'multipart-signed' && s.coverage === 'complete') return { kind: 'multipart-signed', signedPart: l.signedContent(), cms: new Uint8Array(l.signature()), micalg: l.micalg };
    if (l?.kind === 'pkcs7-mime' && l.smimeType === 'signed-data' && s.coverage === 'complete') return { kind: 'opaque', cms: new Uint8Array(l.der()) };
  } catch (err) {
    throw new MessageShapeError('malformed', 'The decrypted message could not be read as S/MIME.', { cause: err });
  }
  throw new MessageShapeError('malformed', 'The decrypted message is not one signed S/MIME entity.');
}

/** Rebuilds the message around a new CMS (with the hop's countersignature) and encrypts it to `recipient`. */
export function sealMessage(opened: OpenedMessage, cms: Uint8Array, recipient: Uint8Array, extraHeaders: string = ''): Buffer {
  const s = opened.signed;
  const inner =
    s.kind === 'multipart-signed'
      ? buildMultipartSigned({ signedPart: s.signedPart, signature: cms, digest: s.micalg.length > 0 ? s.micalg : 'SHA-256' })
      : buildPkcs7Mime({ smimeType: 'signed-data', der: cms });
  const env = encryptContent({ content: inner, recipients: [recipient] });
  return Buffer.concat([Buffer.from(extraHeaders, 'utf8'), opened.outerHeaders, buildPkcs7Mime({ smimeType: 'authEnveloped-data', der: env })]);
}

/** Rebuilds the message around a new CMS, signed only (mail leaving SSMAX under policy 'deliver-signed'). */
export function sealSigned(opened: OpenedMessage, cms: Uint8Array): Buffer {
  const s = opened.signed;
  const body =
    s.kind === 'multipart-signed'
      ? buildMultipartSigned({ signedPart: s.signedPart, signature: cms, digest: s.micalg.length > 0 ? s.micalg : 'SHA-256' })
      : buildPkcs7Mime({ smimeType: 'signed-data', der: cms });
  return Buffer.concat([opened.outerHeaders, body]);
}

export const sha256Hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

export function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? '' : address.slice(at + 1).toLowerCase();
}
