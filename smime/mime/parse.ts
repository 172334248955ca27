/**
 * MIME parser that keeps exact bytes.
 *
 * Every entity records byte offsets into the buffer it was parsed from, so the bytes a signature
 * covers (RFC 1847 / RFC 8551: the signed part, headers included, without the line break before the
 * next boundary) can be handed to the CMS layer untouched. Libraries that re-serialise or only
 * stream (mailsplit, postal-mime) do not give offsets, so the structural split is done here on
 * Buffer.indexOf; all *decoding* (RFC 2047/2231 headers, charsets, quoted-printable) is libmime/libqp,
 * base64 is Node's Buffer decoder.
 *
 * Malformed input never throws a generic error: structural problems become `defects` (best effort,
 * the message is flagged `malformed`), resource limits throw a MimeLimitError.
 */
import libmime from 'libmime';
import charsets from 'libmime/lib/charset';
import libqp from 'libqp';
import { lineEndingStyle, type LineEndingStyle } from './canonical';
import { MimeEncodingError, MimeLimitError, MimeNestingError } from './errors';
import {
  decodeHeaderBytes,
  MimeHeaders,
  parseStructured,
  unfold,
  type HeaderField,
  type StructuredValue,
} from './headers';

export interface ParseOptions {
  /** Maximum nesting of entities (multipart children and message/rfc822 bodies). */
  maxDepth?: number;
  /** Maximum size of one entity's header section, in bytes. */
  maxHeaderBytes?: number;
  /** Maximum number of header fields in one entity. */
  maxHeaderFields?: number;
  /** Maximum number of entities in the whole message (nested messages included). */
  maxParts?: number;
  /** Maximum input size, in bytes. */
  maxMessageBytes?: number;
}

export const DEFAULT_PARSE_LIMITS: Required<ParseOptions> = {
  maxDepth: 32,
  maxHeaderBytes: 256 * 1024,
  maxHeaderFields: 2000,
  maxParts: 10_000,
  // 25 MB attachments grow by a third in base64; leave room for several plus the text.
  maxMessageBytes: 160 * 1024 * 1024,
};

export type MimeDefectCode =
  | 'missing-header-separator'
  | 'non-utf8-header'
  | 'duplicate-content-type'
  | 'invalid-content-type'
  | 'unknown-transfer-encoding'
  | 'encoded-multipart'
  | 'missing-boundary-parameter'
  | 'boundary-not-found'
  | 'missing-close-delimiter'
  | 'no-parts'
  | 'encoded-message'
  | 'mixed-line-endings'
  | 'mbox-from-line';

/** Something wrong with the structure that the parser worked around (best effort). */
export interface MimeDefect {
  readonly code: MimeDefectCode;
  /** Path of the entity (see MimeEntity.path). */
  readonly path: string;
  readonly message: string;
}

export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

export interface ContentType extends StructuredValue {
  /** `type/subtype`, lower case. */
  readonly value: string;
  readonly type: string;
  readonly subtype: string;
}

const IDENTITY_ENCODINGS = new Set(['7bit', '8bit', 'binary']);
const KNOWN_ENCODINGS = new Set(['7bit', '8bit', 'binary', 'base64', 'quoted-printable']);
const TOKEN_TYPE = /^[!#$%&'*+\-.^_`|~0-9a-z]+\/[!#$%&'*+\-.^_`|~0-9a-z]+$/;
const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const HT = 0x09;
const COLON = 0x3a;
const DASH = 0x2d;

/** One MIME entity: its header section, its body, and where both are in `source`. */
export class MimeEntity {
  /** Child entities of a multipart. */
  readonly children: MimeEntity[] = [];
  /** Parsed inner message of a message/rfc822 (or message/global) entity. */
  message: MimeEntity | undefined;
  /** Text before the first boundary / after the closing boundary of a multipart. */
  preamble: ByteRange | undefined;
  epilogue: ByteRange | undefined;
  readonly defects: MimeDefect[] = [];

  constructor(
    /**
     * Position in the tree: '' for the root, '1', '2.1' for multipart children (IMAP numbering),
     * '<path>.msg' for the root of a message/rfc822 body.
     */
    readonly path: string,
    readonly depth: number,
    /** The buffer the offsets refer to: the original message, or a decoded body for an encoded message/rfc822. */
    readonly source: Buffer,
    /** Start of the entity (first header byte). */
    readonly start: number,
    /** End of the header section (start of the blank line, or of the body if the blank line is missing). */
    readonly headerEnd: number,
    /** First body byte (after the blank line). */
    readonly bodyStart: number,
    /** End of the entity (exclusive; for a multipart child, before the line break that precedes the next boundary). */
    readonly end: number,
    readonly headers: MimeHeaders,
    readonly contentType: ContentType,
    /** Lower-case Content-Transfer-Encoding, '7bit' when absent. */
    readonly transferEncoding: string,
  ) {}

  /** The exact bytes of the entity as on the wire (headers, blank line, body). No copy. */
  raw(): Buffer {
    return this.source.subarray(this.start, this.end);
  }

  /** The exact bytes of the header section. */
  headerBytes(): Buffer {
    return this.source.subarray(this.start, this.headerEnd);
  }

  /** The body as on the wire, still transfer-encoded. */
  bodyBytes(): Buffer {
    return this.source.subarray(this.bodyStart, this.end);
  }

  get mediaType(): string {
    return this.contentType.value;
  }

  get isMultipart(): boolean {
    return this.contentType.type === 'multipart';
  }

  get disposition(): StructuredValue | undefined {
    const v = this.headers.get('content-disposition');
    return v === undefined ? undefined : parseStructured(v);
  }

  /** Attachment file name: Content-Disposition filename (RFC 2231), else Content-Type name. */
  get filename(): string | undefined {
    return this.disposition?.params['filename'] ?? this.contentType.params['name'];
  }

  /** The body with its Content-Transfer-Encoding removed. */
  body(): Buffer {
    return decodeTransfer(this.bodyBytes(), this.transferEncoding);
  }

  /** The body as text, decoded from its charset (libmime: includes ISO-2022-JP, Shift_JIS …). */
  text(): string {
    const charset =
      this.contentType.params['charset'] ?? (this.contentType.type === 'text' ? 'us-ascii' : 'utf-8');
    let text = charsets.decode(this.body(), charset);
    if (this.contentType.params['format']?.toLowerCase() === 'flowed') {
      text = libmime.decodeFlowed(text, this.contentType.params['delsp']?.toLowerCase() === 'yes');
    }
    return text;
  }
}

/** Remove a Content-Transfer-Encoding. Invalid base64 is an error, not silently skipped bytes. */
export function decodeTransfer(bytes: Buffer, encoding: string): Buffer {
  switch (encoding) {
    case '7bit':
    case '8bit':
    case 'binary':
      return bytes;
    case 'base64': {
      const text = bytes.toString('latin1');
      // An explicit class, not \s: \s would also let Latin-1 NBSP (0xA0) and NEL (0x85) through.
      if (/[^A-Za-z0-9+/=\r\n\t ]/.test(text)) {
        throw new MimeEncodingError(
          'An attachment or signature is damaged: its base64 encoding contains invalid characters.',
        );
      }
      return Buffer.from(text, 'base64');
    }
    case 'quoted-printable':
      return libqp.decode(bytes);
    default:
      throw new MimeEncodingError(`The content uses an unsupported transfer encoding (${encoding}).`);
  }
}

/** Result of parseMessage. */
export interface MimeMessage {
  readonly root: MimeEntity;
  readonly source: Buffer;
  /** All defects of all entities, nested messages included. */
  readonly defects: readonly MimeDefect[];
  /** True when the parser had to work around a structural problem; never display such mail as verified without care. */
  readonly malformed: boolean;
  readonly lineEndings: LineEndingStyle;
}

interface Context {
  readonly limits: Required<ParseOptions>;
  parts: number;
  readonly defects: MimeDefect[];
}

/** Parse a complete message (or a single MIME entity) from its bytes. */
export function parseMessage(bytes: Buffer | Uint8Array, options: ParseOptions = {}): MimeMessage {
  const source = Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const limits = { ...DEFAULT_PARSE_LIMITS, ...options };
  if (source.length > limits.maxMessageBytes) {
    throw new MimeLimitError(
      'message-size',
      limits.maxMessageBytes,
      `The message is larger than ${Math.round(limits.maxMessageBytes / (1024 * 1024))} MiB and cannot be processed.`,
    );
  }
  const ctx: Context = { limits, parts: 0, defects: [] };
  // Messages saved from an mbox start with a "From sender date" line that is not a header; skip it
  // (reported) rather than reading the whole message as a body.
  let start = 0;
  if (source.length >= 5 && source.toString('latin1', 0, 5) === 'From ') {
    const nl = source.indexOf(LF);
    start = nl === -1 ? source.length : nl + 1;
    ctx.defects.push({
      code: 'mbox-from-line',
      path: '',
      message: 'The message starts with an mbox "From " line, which was skipped.',
    });
  }
  const root = parseEntity(ctx, source, start, source.length, 0, '', 'text/plain');
  const lineEndings = lineEndingStyle(source);
  if (lineEndings === 'mixed') {
    ctx.defects.push({
      code: 'mixed-line-endings',
      path: '',
      message: 'The message mixes CRLF and LF line endings.',
    });
  }
  return { root, source, defects: ctx.defects, malformed: ctx.defects.length > 0, lineEndings };
}

/** Depth-first walk over an entity and its descendants; `intoMessages` also enters message/rfc822 bodies. */
export function* walkEntities(entity: MimeEntity, intoMessages = false): Generator<MimeEntity> {
  yield entity;
  for (const child of entity.children) yield* walkEntities(child, intoMessages);
  if (intoMessages && entity.message) yield* walkEntities(entity.message, intoMessages);
}

function childPath(parent: string, index: number): string {
  return parent === '' ? String(index) : `${parent}.${index}`;
}

function defect(
  ctx: Context,
  entityDefects: MimeDefect[],
  code: MimeDefectCode,
  path: string,
  message: string,
): void {
  const d = { code, path, message };
  entityDefects.push(d);
  ctx.defects.push(d);
}

function parseEntity(
  ctx: Context,
  src: Buffer,
  start: number,
  end: number,
  depth: number,
  path: string,
  defaultType: string,
): MimeEntity {
  if (depth > ctx.limits.maxDepth) throw new MimeNestingError(ctx.limits.maxDepth, path);
  if (++ctx.parts > ctx.limits.maxParts) {
    throw new MimeLimitError(
      'part-count',
      ctx.limits.maxParts,
      `The message has more than ${ctx.limits.maxParts} parts and cannot be displayed safely.`,
    );
  }
  const own: MimeDefect[] = [];
  const { fields, headerEnd, bodyStart, separatorMissing, nonUtf8 } = scanHeaders(ctx, src, start, end);
  if (separatorMissing)
    defect(ctx, own, 'missing-header-separator', path, 'A header section does not end with a blank line.');
  if (nonUtf8)
    defect(ctx, own, 'non-utf8-header', path, 'A header contains bytes that are neither ASCII nor UTF-8.');
  const headers = new MimeHeaders(fields);

  if (headers.count('content-type') > 1) {
    defect(
      ctx,
      own,
      'duplicate-content-type',
      path,
      'An entity has more than one Content-Type header; the first is used.',
    );
  }
  let contentType = toContentType(parseStructured(defaultType));
  const ctHeader = headers.get('content-type');
  if (ctHeader !== undefined) {
    const parsed = parseStructured(ctHeader);
    if (TOKEN_TYPE.test(parsed.value)) contentType = toContentType(parsed);
    else
      defect(
        ctx,
        own,
        'invalid-content-type',
        path,
        `Invalid Content-Type "${ctHeader.slice(0, 80)}"; treated as ${defaultType}.`,
      );
  }
  const transferEncoding =
    (headers.get('content-transfer-encoding') ?? '7bit').trim().toLowerCase() || '7bit';
  if (!KNOWN_ENCODINGS.has(transferEncoding)) {
    defect(
      ctx,
      own,
      'unknown-transfer-encoding',
      path,
      `Unknown Content-Transfer-Encoding "${transferEncoding.slice(0, 40)}".`,
    );
  }

  const entity = new MimeEntity(
    path,
    depth,
    src,
    start,
    headerEnd,
    bodyStart,
    end,
    headers,
    contentType,
    transferEncoding,
  );
  entity.defects.push(...own);

  if (contentType.type === 'multipart') {
    parseMultipart(ctx, entity);
  } else if (contentType.value === 'message/rfc822' || contentType.value === 'message/global') {
    const innerPath = `${path === '' ? '' : path + '.'}msg`;
    if (IDENTITY_ENCODINGS.has(transferEncoding)) {
      entity.message = parseEntity(ctx, src, bodyStart, end, depth + 1, innerPath, 'text/plain');
    } else {
      // RFC 2046 §5.2.1 forbids encoding message/rfc822, but some mailers do; decode and parse a copy.
      defect(
        ctx,
        entity.defects,
        'encoded-message',
        path,
        `A forwarded message is ${transferEncoding}-encoded, which MIME does not allow.`,
      );
      try {
        const inner = entity.body();
        entity.message = parseEntity(ctx, inner, 0, inner.length, depth + 1, innerPath, 'text/plain');
      } catch (e) {
        if (e instanceof MimeLimitError) throw e;
        // Undecodable: leave it as an opaque attachment.
      }
    }
  }
  return entity;
}

function toContentType(s: StructuredValue): ContentType {
  const slash = s.value.indexOf('/');
  return {
    value: s.value,
    params: s.params,
    type: s.value.slice(0, slash),
    subtype: s.value.slice(slash + 1),
  };
}

interface HeaderScan {
  fields: HeaderField[];
  headerEnd: number;
  bodyStart: number;
  separatorMissing: boolean;
  nonUtf8: boolean;
}

/** Length of a field name at `pos` up to its colon (whitespace before the colon allowed), or -1. */
function fieldNameEnd(src: Buffer, pos: number, lineEnd: number): number {
  let i = pos;
  while (i < lineEnd) {
    const b = src[i]!;
    if (b === COLON) return i > pos ? i : -1;
    if (b <= SP || b > 0x7e) break;
    i++;
  }
  const nameEnd = i;
  while (i < lineEnd && (src[i] === SP || src[i] === HT)) i++;
  return i < lineEnd && src[i] === COLON && nameEnd > pos ? i : -1;
}

function scanHeaders(ctx: Context, src: Buffer, start: number, end: number): HeaderScan {
  const fields: HeaderField[] = [];
  let nonUtf8 = false;
  let fieldStart = -1;
  let colon = -1;
  let pos = start;
  let headerEnd = end;
  let bodyStart = end;
  let separatorMissing = false;

  const finishField = (fieldEnd: number): void => {
    if (fieldStart < 0) return;
    if (fields.length >= ctx.limits.maxHeaderFields) {
      throw new MimeLimitError(
        'header-count',
        ctx.limits.maxHeaderFields,
        `An entity has more than ${ctx.limits.maxHeaderFields} header fields.`,
      );
    }
    const name = src.toString('latin1', fieldStart, colon).trim();
    const decoded = decodeHeaderBytes(src.subarray(colon + 1, fieldEnd));
    if (!decoded.utf8) nonUtf8 = true;
    fields.push({
      name,
      key: name.toLowerCase(),
      value: unfold(decoded.text).trim(),
      start: fieldStart,
      end: fieldEnd,
      raw: src.subarray(fieldStart, fieldEnd),
    });
    fieldStart = -1;
  };

  while (pos < end) {
    const nl = src.indexOf(LF, pos);
    const hasNl = nl !== -1 && nl < end;
    const next = hasNl ? nl + 1 : end;
    const contentEnd = hasNl ? (nl > pos && src[nl - 1] === CR ? nl - 1 : nl) : end;
    if (next - start > ctx.limits.maxHeaderBytes) {
      throw new MimeLimitError(
        'header-size',
        ctx.limits.maxHeaderBytes,
        `A header section is larger than ${Math.round(ctx.limits.maxHeaderBytes / 1024)} KiB.`,
      );
    }
    if (contentEnd === pos) {
      // Blank line: end of the header section.
      finishField(pos);
      headerEnd = pos;
      bodyStart = next;
      return { fields, headerEnd, bodyStart, separatorMissing, nonUtf8 };
    }
    const first = src[pos];
    if ((first === SP || first === HT) && fieldStart >= 0) {
      pos = next; // folded continuation of the current field
      continue;
    }
    const c = fieldNameEnd(src, pos, contentEnd);
    if (c < 0) {
      // Not a header line and no blank line before it: the body starts here (best effort).
      finishField(pos);
      separatorMissing = true;
      return { fields, headerEnd: pos, bodyStart: pos, separatorMissing, nonUtf8 };
    }
    finishField(pos);
    fieldStart = pos;
    colon = c;
    pos = next;
  }
  finishField(end);
  // Header section runs to the end of the entity: an entity without a body.
  return { fields, headerEnd, bodyStart, separatorMissing, nonUtf8 };
}

interface Delimiter {
  /** Start of the line break preceding the delimiter (it belongs to the delimiter, RFC 2046 §5.1.1). */
  breakStart: number;
  /** First byte after the delimiter line's own line break. */
  after: number;
  close: boolean;
}

function findDelimiters(src: Buffer, from: number, to: number, boundary: string): Delimiter[] {
  const delim = Buffer.from(`--${boundary}`, 'latin1');
  const found: Delimiter[] = [];
  let p = src.indexOf(delim, from);
  while (p !== -1 && p + delim.length <= to) {
    const atLineStart = p === from || src[p - 1] === LF;
    let q = p + delim.length;
    let close = false;
    let ok = false;
    if (atLineStart) {
      if (q + 1 < to && src[q] === DASH && src[q + 1] === DASH) {
        close = true;
        q += 2;
      }
      while (q < to && (src[q] === SP || src[q] === HT)) q++;
      if (q >= to) ok = true;
      else if (src[q] === LF) {
        q += 1;
        ok = true;
      } else if (src[q] === CR && q + 1 < to && src[q + 1] === LF) {
        q += 2;
        ok = true;
      } else if (close) {
        // "--boundary--junk": still the end of the multipart; the rest of the line goes to the epilogue.
        ok = true;
      }
    }
    if (ok) {
      const breakStart = p === from ? p : p - 2 >= from && src[p - 2] === CR ? p - 2 : p - 1;
      found.push({ breakStart, after: q, close });
      if (close) break;
      p = src.indexOf(delim, q);
    } else {
      p = src.indexOf(delim, p + 1);
    }
  }
  return found;
}

function parseMultipart(ctx: Context, entity: MimeEntity): void {
  const { path } = entity;
  if (!IDENTITY_ENCODINGS.has(entity.transferEncoding)) {
    defect(
      ctx,
      entity.defects,
      'encoded-multipart',
      path,
      'A multipart entity is transfer-encoded, which MIME does not allow; its parts are not shown.',
    );
    return;
  }
  const boundary = entity.contentType.params['boundary'];
  if (!boundary) {
    defect(
      ctx,
      entity.defects,
      'missing-boundary-parameter',
      path,
      'A multipart entity has no boundary parameter; its parts cannot be found.',
    );
    return;
  }
  const delimiters = findDelimiters(entity.source, entity.bodyStart, entity.end, boundary);
  if (delimiters.length === 0) {
    defect(
      ctx,
      entity.defects,
      'boundary-not-found',
      path,
      'The boundary of a multipart entity never occurs; its parts cannot be found.',
    );
    return;
  }
  const first = delimiters[0]!;
  entity.preamble = { start: entity.bodyStart, end: first.breakStart };
  const childDefault = entity.contentType.subtype === 'digest' ? 'message/rfc822' : 'text/plain';
  let index = 0;
  for (let i = 0; i < delimiters.length; i++) {
    const d = delimiters[i]!;
    if (d.close) {
      entity.epilogue = { start: d.after, end: entity.end };
      break;
    }
    const next = delimiters[i + 1];
    const partEnd = next ? Math.max(d.after, next.breakStart) : entity.end;
    if (!next) {
      defect(
        ctx,
        entity.defects,
        'missing-close-delimiter',
        path,
        'A multipart entity has no closing boundary; the last part may be incomplete.',
      );
    }
    entity.children.push(
      parseEntity(
        ctx,
        entity.source,
        d.after,
        partEnd,
        entity.depth + 1,
        childPath(path, ++index),
        childDefault,
      ),
    );
  }
  if (entity.children.length === 0)
    defect(ctx, entity.defects, 'no-parts', path, 'A multipart entity has no parts.');
}
