import { CmsFormatError } from './errors';

/**
 * A small DER writer and BER reader for CMS.
 *
 * Why not only asn1js: a 25 MB attachment must not be copied again and again. The reader returns
 * views (subarray) into the input, never copies; the writer collects chunks and copies each byte
 * once, into the final output. The reader also keeps every element's exact encoding (`raw`), which
 * is what lets a countersignature be added without touching a byte of the signatures below it.
 * It accepts BER (indefinite lengths, constructed strings: OpenSSL -stream output) with limits on
 * depth and element count so hostile input cannot hang or exhaust the parser.
 */

export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  ENUMERATED: 0x0a,
  UTF8String: 0x0c,
  SEQUENCE: 0x30,
  SET: 0x31,
  PrintableString: 0x13,
  IA5String: 0x16,
  UTCTime: 0x17,
  GeneralizedTime: 0x18,
} as const;

/** Context-specific tag byte: [n] constructed (explicit or constructed implicit) or primitive. */
export const ctx = (n: number, constructed = true): number => (constructed ? 0xa0 : 0x80) | n;

// ---------------------------------------------------------------- writer

/** Encoded DER held as chunks, so large contents are referenced, not copied, until `toBytes`. */
export class Chunks {
  readonly parts: Uint8Array[];
  readonly length: number;
  constructor(parts: Uint8Array[]) {
    this.parts = parts;
    this.length = parts.reduce((n, p) => n + p.length, 0);
  }
  toBytes(): Uint8Array {
    if (this.parts.length === 1 && this.parts[0]) return this.parts[0];
    return Buffer.concat(this.parts, this.length);
  }
}

export type Encodable = Uint8Array | Chunks;

function lengthBytes(length: number): Uint8Array {
  if (length < 0x80) return Uint8Array.of(length);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

/** TLV with a one-byte tag (all tags CMS needs are < 31). Returns Chunks; children are not copied. */
export function tlv(tag: number, ...children: Encodable[]): Chunks {
  const parts: Uint8Array[] = [];
  let length = 0;
  for (const c of children) {
    if (c instanceof Chunks) {
      parts.push(...c.parts);
      length += c.length;
    } else {
      parts.push(c);
      length += c.length;
    }
  }
  return new Chunks([Uint8Array.of(tag), lengthBytes(length), ...parts]);
}

/** TLV flattened to bytes (for small elements). */
export function der(tag: number, ...children: Encodable[]): Uint8Array {
  return tlv(tag, ...children).toBytes();
}

export const seq = (...children: Encodable[]): Uint8Array => der(Tag.SEQUENCE, ...children);

/** DER SET OF: elements sorted by their encodings (X.690 §11.6). */
export function setOf(elements: readonly Uint8Array[]): Uint8Array {
  const sorted = [...elements].sort((a, b) => Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)));
  return der(Tag.SET, ...sorted);
}

export function oid(dotted: string): Uint8Array {
  const arcs = dotted.split('.').map((a) => BigInt(a));
  if (arcs.length < 2 || arcs.some((a) => a < 0n)) throw new CmsFormatError(`Invalid OID ${dotted}.`);
  const first = (arcs[0] ?? 0n) * 40n + (arcs[1] ?? 0n);
  const body: number[] = [];
  for (const arc of [first, ...arcs.slice(2)]) {
    const groups: number[] = [];
    let v = arc;
    do {
      groups.unshift(Number(v & 0x7fn));
      v >>= 7n;
    } while (v > 0n);
    for (let i = 0; i < groups.length - 1; i++) groups[i] = (groups[i] ?? 0) | 0x80;
    body.push(...groups);
  }
  return der(Tag.OID, Uint8Array.from(body));
}

export function integer(value: number | bigint | Uint8Array): Uint8Array {
  let bytes: Uint8Array;
  if (value instanceof Uint8Array) {
    let i = 0;
    while (i < value.length - 1 && value[i] === 0 && ((value[i + 1] ?? 0) & 0x80) === 0) i++;
    bytes = value.subarray(i);
  } else {
    let v = BigInt(value);
    if (v < 0n) throw new CmsFormatError('Negative integers are not used here.');
    const out: number[] = [];
    do {
      out.unshift(Number(v & 0xffn));
      v >>= 8n;
    } while (v > 0n);
    if ((out[0] ?? 0) & 0x80) out.unshift(0);
    bytes = Uint8Array.from(out);
  }
  return der(Tag.INTEGER, bytes);
}

export const octetString = (bytes: Encodable): Chunks => tlv(Tag.OCTET_STRING, bytes);
export const nullValue = (): Uint8Array => Uint8Array.of(0x05, 0x00);
export const utf8 = (text: string): Uint8Array => der(Tag.UTF8String, new TextEncoder().encode(text));

/** UTCTime for 1950–2049, GeneralizedTime otherwise (RFC 5652 §11.3). Second precision, Zulu. */
export function time(date: Date): Uint8Array {
  const iso = date.toISOString();
  const y = date.getUTCFullYear();
  const body = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  if (y >= 1950 && y < 2050) return der(Tag.UTCTime, new TextEncoder().encode(body.slice(2)));
  return der(Tag.GeneralizedTime, new TextEncoder().encode(body));
}

export function generalizedTime(date: Date): Uint8Array {
  const iso = date.toISOString();
  return der(Tag.GeneralizedTime, new TextEncoder().encode(`${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`));
}

export function bitString(bytes: Uint8Array): Uint8Array {
  return der(Tag.BIT_STRING, Uint8Array.of(0), bytes);
}

// ---------------------------------------------------------------- reader

export interface Element {
  /** The identifier octet (tags ≥ 31 are rejected: CMS does not use them). */
  readonly tag: number;
  readonly constructed: boolean;
  /** Content octets (a view into the input). For indefinite lengths, without the end-of-contents. */
  readonly value: Uint8Array;
  /** The whole encoding: identifier, length, contents (and end-of-contents). A view. */
  readonly raw: Uint8Array;
  /** Child elements of a constructed element (parsed lazily, cached). */
  children(): Element[];
}

export interface ReadLimits {
  /** Maximum nesting depth (default 64). */
  readonly maxDepth?: number;
  /** Maximum number of elements in one read (default 200,000). */
  readonly maxElements?: number;
}

interface Ctx {
  readonly maxDepth: number;
  elementsLeft: number;
}

class ElementImpl implements Element {
  #children: Element[] | undefined;
  constructor(
    readonly tag: number,
    readonly constructed: boolean,
    readonly value: Uint8Array,
    readonly raw: Uint8Array,
    private readonly ctx: Ctx,
    private readonly depth: number,
  ) {}
  children(): Element[] {
    if (!this.constructed) throw new CmsFormatError('Malformed CMS: expected a constructed element.', { detail: `tag 0x${this.tag.toString(16)}` });
    if (!this.#children) {
      const out: Element[] = [];
      let offset = 0;
      while (offset < this.value.length) {
        const el = readAt(this.value, offset, this.ctx, this.depth + 1);
        out.push(el);
        offset += el.raw.length;
      }
      this.#children = out;
    }
    return this.#children;
  }
}

function readAt(buf: Uint8Array, offset: number, ctx: Ctx, depth: number): Element {
  if (depth > ctx.maxDepth) throw new CmsFormatError('Malformed CMS: nested too deeply.');
  if (--ctx.elementsLeft < 0) throw new CmsFormatError('Malformed CMS: too many elements.');
  const start = offset;
  const tag = buf[offset++];
  if (tag === undefined) throw new CmsFormatError('Malformed CMS: truncated (missing tag).');
  if ((tag & 0x1f) === 0x1f) throw new CmsFormatError('Malformed CMS: unsupported high tag number.');
  const constructed = (tag & 0x20) !== 0;
  const first = buf[offset++];
  if (first === undefined) throw new CmsFormatError('Malformed CMS: truncated (missing length).');
  if (first === 0x80) {
    if (!constructed) throw new CmsFormatError('Malformed CMS: indefinite length on a primitive element.');
    // Indefinite length: children until end-of-contents (00 00).
    let p = offset;
    for (;;) {
      if (p + 2 > buf.length) throw new CmsFormatError('Malformed CMS: truncated (no end-of-contents).');
      if (buf[p] === 0 && buf[p + 1] === 0) break;
      const child = readAt(buf, p, ctx, depth + 1);
      p += child.raw.length;
    }
    return new ElementImpl(tag, true, buf.subarray(offset, p), buf.subarray(start, p + 2), ctx, depth);
  }
  let length: number;
  if (first < 0x80) length = first;
  else {
    const n = first & 0x7f;
    if (n > 6) throw new CmsFormatError('Malformed CMS: length too large.');
    length = 0;
    for (let i = 0; i < n; i++) {
      const b = buf[offset++];
      if (b === undefined) throw new CmsFormatError('Malformed CMS: truncated (length).');
      length = length * 256 + b;
    }
  }
  if (offset + length > buf.length) throw new CmsFormatError('Malformed CMS: truncated.', { detail: `element needs ${length} bytes, ${buf.length - offset} left` });
  return new ElementImpl(tag, constructed, buf.subarray(offset, offset + length), buf.subarray(start, offset + length), ctx, depth);
}

/** Reads exactly one element spanning the whole input (trailing bytes are an error). */
export function read(input: Uint8Array, limits: ReadLimits = {}): Element {
  const ctx: Ctx = { maxDepth: limits.maxDepth ?? 64, elementsLeft: limits.maxElements ?? 200_000 };
  const el = readAt(input, 0, ctx, 0);
  if (el.raw.length !== input.length) throw new CmsFormatError('Malformed CMS: trailing bytes after the structure.');
  return el;
}

/** Expects `el` to have the given tag, else a format error naming what was expected. */
export function expectTag(el: Element | undefined, tag: number, what: string): Element {
  if (!el || el.tag !== tag) throw new CmsFormatError(`Malformed CMS: expected ${what}.`, { detail: el ? `found tag 0x${el.tag.toString(16)}` : 'missing' });
  return el;
}

export function childrenOf(el: Element | undefined, tag: number, what: string): Element[] {
  return expectTag(el, tag, what).children();
}

/** Decodes an OID's content octets to dotted decimal (any arc size, unlike asn1js). */
export function decodeOid(el: Element): string {
  if (el.tag !== Tag.OID || el.value.length === 0) throw new CmsFormatError('Malformed CMS: expected an OBJECT IDENTIFIER.');
  const arcs: bigint[] = [];
  let v = 0n;
  for (let i = 0; i < el.value.length; i++) {
    const b = el.value[i] ?? 0;
    v = (v << 7n) | BigInt(b & 0x7f);
    if ((b & 0x80) === 0) {
      arcs.push(v);
      v = 0n;
    } else if (i === el.value.length - 1) throw new CmsFormatError('Malformed CMS: truncated OBJECT IDENTIFIER.');
  }
  const first = arcs[0] ?? 0n;
  const head = first < 40n ? [0n, first] : first < 80n ? [1n, first - 40n] : [2n, first - 80n];
  return [...head, ...arcs.slice(1)].join('.');
}

/**
 * The bytes of an OCTET STRING, primitive or (BER) constructed. A primitive one is returned as a
 * view; a constructed one must be joined (one copy), as OpenSSL -stream output does.
 */
export function octets(el: Element): Uint8Array {
  const base = el.tag & ~0x20;
  if (!el.constructed) return el.value;
  const parts: Uint8Array[] = [];
  const collect = (e: Element): void => {
    for (const c of e.children()) {
      if ((c.tag & ~0x20) !== Tag.OCTET_STRING && (c.tag & ~0x20) !== base) throw new CmsFormatError('Malformed CMS: bad segment in a constructed string.');
      if (c.constructed) collect(c);
      else parts.push(c.value);
    }
  };
  collect(el);
  return Buffer.concat(parts);
}

export function readInteger(el: Element): bigint {
  if (el.tag !== Tag.INTEGER || el.value.length === 0) throw new CmsFormatError('Malformed CMS: expected an INTEGER.');
  let v = 0n;
  for (const b of el.value) v = (v << 8n) | BigInt(b);
  if (((el.value[0] ?? 0) & 0x80) !== 0) v -= 1n << BigInt(el.value.length * 8);
  return v;
}

export function readTime(el: Element): Date {
  const text = new TextDecoder().decode(el.value);
  let m: RegExpExecArray | null;
  if (el.tag === Tag.UTCTime && (m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?Z$/.exec(text))) {
    const yy = Number(m[1]);
    return new Date(Date.UTC(yy < 50 ? 2000 + yy : 1900 + yy, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0)));
  }
  if (el.tag === Tag.GeneralizedTime && (m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.\d+)?Z$/.exec(text))) {
    return new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
  }
  throw new CmsFormatError('Malformed CMS: bad time value.', { detail: text });
}

export function readUtf8(el: Element): string {
  if (el.tag !== Tag.UTF8String && el.tag !== Tag.PrintableString && el.tag !== Tag.IA5String) throw new CmsFormatError('Malformed CMS: expected a string.');
  return new TextDecoder('utf-8', { fatal: true }).decode(el.value);
}
