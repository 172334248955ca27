/**
 * Building messages for S/MIME.
 *
 * Plain content (text, HTML alternative, attachments with RFC 2231 file names, RFC 2047 headers) is
 * composed with nodemailer's MimeNode. The S/MIME wrappers are assembled here from exact byte
 * pieces, because the signed part must appear in the output byte for byte as it was signed, which a
 * general composer does not promise. Header values are always encoded and folded by nodemailer /
 * libmime, base64 by Node's Buffer encoder. Output always uses CRLF line endings.
 */
import MimeNode from 'nodemailer/lib/mime-node';
import libmime from 'libmime';
import { countBareLf, toCanonicalCrlf } from './canonical';
import { MimeBuildError } from './errors';
import { micalgFor, type MicalgDigest, type SmimeType } from './smime';

const CRLF = '\r\n';

/** An address as `Name <addr>` text or as parts. */
export type AddressInput = string | { name?: string; address: string };

/** A header to write: structured values are encoded by nodemailer (addresses, dates, RFC 2047 words). */
export interface HeaderInput {
  readonly name: string;
  readonly value: string | Date | AddressInput | AddressInput[];
}

/** The message header fields the product sets (SPEC §5: these are the protected ones). */
export interface MessageHeaders {
  from: AddressInput;
  to?: AddressInput[];
  cc?: AddressInput[];
  replyTo?: AddressInput[];
  subject?: string;
  date: Date;
  /** With angle brackets: `<id@domain>`. */
  messageId: string;
  inReplyTo?: string;
  references?: string;
  /** Further header fields, written after the standard ones. */
  extra?: HeaderInput[];
}

export interface AttachmentInput {
  filename: string;
  content: Buffer | Uint8Array;
  /** Defaults to a type guessed from the file name (libmime). */
  contentType?: string;
  disposition?: 'attachment' | 'inline';
  /** For inline parts referenced from HTML, without angle brackets. */
  contentId?: string;
}

export interface ContentInput {
  text?: string;
  html?: string;
  attachments?: AttachmentInput[];
  /** Original messages to forward as message/rfc822 (their bytes are kept). */
  forwards?: Array<{ message: Buffer; filename?: string }>;
}

export interface BuildOptions {
  /** Base for generated boundaries (deterministic output in tests); random by default. */
  boundaryBase?: string;
}

/** Standard headers in a fixed order, as HeaderInput (used for outer and for protected headers). */
export function messageHeaderList(h: MessageHeaders): HeaderInput[] {
  const list: HeaderInput[] = [{ name: 'From', value: h.from }];
  if (h.to && h.to.length > 0) list.push({ name: 'To', value: h.to });
  if (h.cc && h.cc.length > 0) list.push({ name: 'Cc', value: h.cc });
  if (h.replyTo && h.replyTo.length > 0) list.push({ name: 'Reply-To', value: h.replyTo });
  if (h.subject !== undefined) list.push({ name: 'Subject', value: h.subject });
  list.push({ name: 'Date', value: h.date });
  list.push({ name: 'Message-ID', value: h.messageId });
  if (h.inReplyTo) list.push({ name: 'In-Reply-To', value: h.inReplyTo });
  if (h.references) list.push({ name: 'References', value: h.references });
  list.push(...(h.extra ?? []));
  return list;
}

function toMimeNodeValue(value: HeaderInput['value']): Parameters<typeof MimeNode.encodeHeaderValue>[1] {
  if (value instanceof Date || typeof value === 'string') return value;
  if (Array.isArray(value))
    return value.map((a) => (typeof a === 'string' ? a : { name: a.name ?? '', address: a.address }));
  return { name: value.name ?? '', address: value.address };
}

/** A header field's encoded value (no name), as nodemailer writes it. */
export function encodeHeaderValue(header: HeaderInput): string {
  if (/[\r\n]/.test(header.name) || !/^[\x21-\x39\x3b-\x7e]+$/.test(header.name)) {
    throw new MimeBuildError(`Invalid header name "${header.name.slice(0, 40)}".`);
  }
  const value = header.value;
  if (typeof value === 'string' && /[\r\n]/.test(value)) {
    // A line break in a value would let the caller inject headers.
    throw new MimeBuildError(`The ${header.name} header contains a line break.`);
  }
  return MimeNode.encodeHeaderValue(header.name, toMimeNodeValue(value));
}

/** One folded header line with CRLF. */
export function renderHeader(header: HeaderInput): string {
  return libmime.foldLines(`${header.name}: ${encodeHeaderValue(header)}`, 76) + CRLF;
}

export function renderHeaders(headers: readonly HeaderInput[]): string {
  return headers.map(renderHeader).join('');
}

/**
 * Base64 with CRLF after every `lineLength` characters (RFC 2045 §6.8: at most 76). Input is encoded
 * by Buffer in blocks of whole lines and copied line by line into one preallocated output, so a
 * 25 MB body costs one output allocation and no string concatenation.
 */
export function base64Lines(data: Uint8Array, lineLength = 76): Buffer {
  if (lineLength < 4 || lineLength % 4 !== 0)
    throw new MimeBuildError('Base64 line length must be a multiple of 4.');
  const input = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const encodedLength = Math.ceil(input.length / 3) * 4;
  const lines = Math.ceil(encodedLength / lineLength);
  const out = Buffer.allocUnsafe(encodedLength + lines * 2);
  const bytesPerLine = (lineLength / 4) * 3;
  const blockBytes = bytesPerLine * 1024; // 1024 lines per block: ~57 KB in, ~78 KB out
  const scratch = Buffer.allocUnsafe((blockBytes / 3) * 4);
  let o = 0;
  for (let i = 0; i < input.length; i += blockBytes) {
    const block = input.subarray(i, Math.min(i + blockBytes, input.length));
    const n = scratch.write(block.toString('base64'), 0, 'latin1');
    for (let j = 0; j < n; j += lineLength) {
      o += scratch.copy(out, o, j, Math.min(j + lineLength, n));
      out[o++] = 0x0d;
      out[o++] = 0x0a;
    }
  }
  return out.subarray(0, o);
}

/** `; key="value"` Content-Type parameters, refusing anything that could break out of the header. */
function extraParams(params: Record<string, string> | undefined): string {
  return Object.entries(params ?? {})
    .map(([k, v]) => {
      if (!/^[a-zA-Z0-9-]+$/.test(k) || !/^[\x20-\x7e]*$/.test(v) || /["\\]/.test(v)) {
        throw new MimeBuildError(`Invalid Content-Type parameter ${k.slice(0, 40)}.`);
      }
      return `; ${k}="${v}"`;
    })
    .join('');
}

function randomBoundaryBase(): string {
  return globalThis.crypto.randomUUID().replace(/-/g, '');
}

/** Pick a boundary that does not occur in any of `parts` (RFC 2046 §5.1.1). */
function chooseBoundary(base: string | undefined, label: string, parts: readonly Buffer[]): string {
  for (let attempt = 0; attempt < 8; attempt++) {
    const boundary = `----=_${label}_${base ?? randomBoundaryBase()}${attempt === 0 ? '' : `_${attempt}`}`;
    const needle = Buffer.from(`--${boundary}`, 'latin1');
    if (parts.every((p) => p.indexOf(needle) === -1)) return boundary;
  }
  throw new MimeBuildError('Could not find a MIME boundary that does not occur in the content.');
}

function nodeOptions(options: BuildOptions): ConstructorParameters<typeof MimeNode>[1] {
  return {
    // The S/MIME core does no I/O: never let MimeNode read files or URLs named in content.
    disableFileAccess: true,
    disableUrlAccess: true,
    baseBoundary: options.boundaryBase ?? randomBoundaryBase(),
    // Keep header names as given (HP-Outer, not Hp-Outer).
    normalizeHeaderKey: (key: string) => key,
  };
}

function normaliseText(text: string): string {
  return text.replace(/\r?\n/g, CRLF);
}

/** Media type of the content's root entity. */
function contentType(content: ContentInput): string {
  const extras = (content.attachments?.length ?? 0) + (content.forwards?.length ?? 0);
  if (extras > 0) return 'multipart/mixed';
  if (content.text !== undefined && content.html !== undefined) return 'multipart/alternative';
  if (content.html !== undefined) return 'text/html; charset=utf-8';
  return 'text/plain; charset=utf-8';
}

/** Forward a message as message/rfc822: its bytes are kept, with line endings made CRLF as mail requires. */
export function buildRfc822Part(message: Buffer, filename = 'forwarded.eml'): Buffer {
  const body = toCanonicalCrlf(message);
  // RFC 2046 §5.2.1: message/rfc822 may only be 7bit, 8bit or binary, never base64 — so the bytes
  // stay as they are and the label says what they contain (NUL makes it binary, RFC 2045 §2.8).
  let encoding: '7bit' | '8bit' | 'binary' = '7bit';
  for (const b of body) {
    if (b === 0) {
      encoding = 'binary';
      break;
    }
    if (b >= 0x80) encoding = '8bit';
  }
  const head =
    renderHeader({ name: 'Content-Type', value: 'message/rfc822' }) +
    renderHeader({ name: 'Content-Transfer-Encoding', value: encoding }) +
    libmime.foldLines(
      'Content-Disposition: ' +
        libmime.buildHeaderValue({ value: 'attachment', params: { filename } } as Parameters<
          typeof libmime.buildHeaderValue
        >[0]),
      76,
    ) +
    CRLF +
    CRLF;
  return Buffer.concat([Buffer.from(head, 'utf8'), body]);
}

function fillContent(node: MimeNode, type: string, content: ContentInput, options: BuildOptions): void {
  const addBody = (target: MimeNode): void => {
    if (content.text !== undefined && content.html !== undefined) {
      const alt = target.createChild('multipart/alternative', nodeOptions(options));
      alt
        .createChild('text/plain; charset=utf-8', nodeOptions(options))
        .setContent(normaliseText(content.text));
      alt
        .createChild('text/html; charset=utf-8', nodeOptions(options))
        .setContent(normaliseText(content.html));
    } else if (content.html !== undefined) {
      target
        .createChild('text/html; charset=utf-8', nodeOptions(options))
        .setContent(normaliseText(content.html));
    } else {
      target
        .createChild('text/plain; charset=utf-8', nodeOptions(options))
        .setContent(normaliseText(content.text ?? ''));
    }
  };
  if (type === 'multipart/mixed') {
    addBody(node);
    for (const a of content.attachments ?? []) {
      const child = node.createChild(a.contentType ?? libmime.detectMimeType(a.filename), {
        ...nodeOptions(options),
        filename: a.filename,
      });
      child.setHeader('Content-Disposition', a.disposition ?? 'attachment');
      if (a.contentId) child.setHeader('Content-ID', `<${a.contentId}>`);
      child.setContent(Buffer.from(a.content.buffer, a.content.byteOffset, a.content.byteLength));
    }
    for (const f of content.forwards ?? []) {
      node.createChild(false, nodeOptions(options)).setRaw(buildRfc822Part(f.message, f.filename));
    }
  } else if (type === 'multipart/alternative') {
    node
      .createChild('text/plain; charset=utf-8', nodeOptions(options))
      .setContent(normaliseText(content.text ?? ''));
    node
      .createChild('text/html; charset=utf-8', nodeOptions(options))
      .setContent(normaliseText(content.html ?? ''));
  } else if (type.startsWith('text/html')) {
    node.setContent(normaliseText(content.html ?? ''));
  } else {
    node.setContent(normaliseText(content.text ?? ''));
  }
}

async function buildNode(node: MimeNode): Promise<Buffer> {
  try {
    return toCanonicalCrlf(await node.build());
  } catch (e) {
    throw new MimeBuildError('The message could not be composed.', { cause: e });
  }
}

/**
 * A MIME entity holding the content only (Content-Type, Content-Transfer-Encoding, body) — the
 * thing that gets signed when no header protection is used.
 * `rootParams` adds Content-Type parameters to the root (e.g. hp="cipher"), `rootHeaders` adds
 * header fields to the root entity (the protected headers of RFC 9788).
 */
export async function buildContentEntity(
  content: ContentInput,
  options: BuildOptions & { rootParams?: Record<string, string>; rootHeaders?: readonly HeaderInput[] } = {},
): Promise<Buffer> {
  // A child of a throw-away parent: MimeNode adds Date, Message-ID and MIME-Version only to roots.
  const holder = new MimeNode('multipart/mixed', nodeOptions(options));
  const base = contentType(content);
  const params = extraParams(options.rootParams);
  const node = holder.createChild(base + params, nodeOptions(options));
  fillContent(node, base, content, options);
  const entity = await buildNode(node);
  if (!options.rootHeaders?.length) return entity;
  // Message headers go in front of the entity's own MIME headers; rendered (and RFC 2047 encoded)
  // by nodemailer, but placed here so MimeNode adds nothing of its own (Date, Message-ID).
  const head = renderHeaders(options.rootHeaders) + 'MIME-Version: 1.0' + CRLF;
  return Buffer.concat([Buffer.from(head, 'utf8'), entity]);
}

/** A complete unsigned message: headers plus content. */
export async function buildMessage(
  headers: MessageHeaders,
  content: ContentInput,
  options: BuildOptions = {},
): Promise<Buffer> {
  return buildContentEntity(content, { ...options, rootHeaders: messageHeaderList(headers) });
}

export interface MultipartSignedInput {
  /** The signed entity exactly as signed: CRLF-canonical bytes (RFC 8551 §3.1.1). */
  signedPart: Buffer;
  /** Detached CMS SignedData over `signedPart`, DER. */
  signature: Uint8Array;
  /** Digest algorithm(s) of the signer(s), for micalg. */
  digest: MicalgDigest | MicalgDigest[];
  /** Header fields written before the MIME headers (outer message headers); omit for an inner entity. */
  headers?: readonly HeaderInput[];
  options?: BuildOptions;
}

/** multipart/signed; protocol="application/pkcs7-signature" (RFC 8551 §3.5.3). */
export function buildMultipartSigned(input: MultipartSignedInput): Buffer {
  if (countBareLf(input.signedPart) > 0) {
    throw new MimeBuildError(
      'The signed part must use CRLF line endings exactly as it was signed (canonicalise before signing).',
    );
  }
  const digests = Array.isArray(input.digest) ? input.digest : [input.digest];
  if (digests.length === 0)
    throw new MimeBuildError('multipart/signed needs at least one digest algorithm for micalg.');
  const boundary = chooseBoundary(input.options?.boundaryBase, 'signed', [input.signedPart]);
  const micalg = [...new Set(digests.map(micalgFor))].join(',');
  const head =
    renderHeaders(input.headers ?? []) +
    'MIME-Version: 1.0' +
    CRLF +
    libmime.foldLines(
      `Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg="${micalg}"; boundary="${boundary}"`,
      76,
    ) +
    CRLF +
    CRLF +
    'This is a cryptographically signed message in MIME format.' +
    CRLF +
    CRLF +
    `--${boundary}` +
    CRLF;
  const sigHead =
    CRLF +
    `--${boundary}` +
    CRLF +
    'Content-Type: application/pkcs7-signature; name="smime.p7s"' +
    CRLF +
    'Content-Transfer-Encoding: base64' +
    CRLF +
    'Content-Disposition: attachment; filename="smime.p7s"' +
    CRLF +
    'Content-Description: S/MIME Cryptographic Signature' +
    CRLF +
    CRLF;
  return Buffer.concat([
    Buffer.from(head, 'utf8'),
    input.signedPart,
    Buffer.from(sigHead, 'latin1'),
    base64Lines(input.signature),
    Buffer.from(`--${boundary}--${CRLF}`, 'latin1'),
  ]);
}

export interface Pkcs7MimeInput {
  smimeType: SmimeType;
  /** CMS ContentInfo, DER. */
  der: Uint8Array;
  headers?: readonly HeaderInput[];
  /** Content-Type parameters such as hp (none by default). */
  params?: Record<string, string>;
}

const P7_NAMES: Record<SmimeType, string> = {
  'signed-data': 'smime.p7m',
  'enveloped-data': 'smime.p7m',
  'authEnveloped-data': 'smime.p7m',
  'compressed-data': 'smime.p7z',
  'certs-only': 'smime.p7c',
};

/** application/pkcs7-mime with the DER base64-encoded at 76 columns (RFC 8551 §3.2, §3.3, §3.4). */
export function buildPkcs7Mime(input: Pkcs7MimeInput): Buffer {
  const name = P7_NAMES[input.smimeType];
  const extra = extraParams(input.params);
  const head =
    renderHeaders(input.headers ?? []) +
    'MIME-Version: 1.0' +
    CRLF +
    libmime.foldLines(
      `Content-Type: application/pkcs7-mime; smime-type=${input.smimeType}; name="${name}"${extra}`,
      76,
    ) +
    CRLF +
    'Content-Transfer-Encoding: base64' +
    CRLF +
    `Content-Disposition: attachment; filename="${name}"` +
    CRLF +
    CRLF;
  return Buffer.concat([Buffer.from(head, 'utf8'), base64Lines(input.der)]);
}
