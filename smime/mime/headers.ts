/**
 * Header sections of MIME entities: parsed for lookup (case-insensitive), decoded for display
 * (RFC 2047 encoded words, RFC 2231 parameters, via libmime), and kept raw (exact wire bytes and
 * byte offsets) so nothing is lost that a signature covers.
 */
import libmime from 'libmime';
import addressparser from 'nodemailer/lib/addressparser';

/** One header field as it appeared on the wire. */
export interface HeaderField {
  /** Field name as written (case preserved). */
  readonly name: string;
  /** Lower-case field name, for lookups. */
  readonly key: string;
  /** Unfolded value, not RFC 2047 decoded, leading/trailing whitespace removed. */
  readonly value: string;
  /** Byte offsets of the whole field (name, value, folds, line ending) in the entity's source. */
  readonly start: number;
  readonly end: number;
  /** The exact bytes of the field including its line ending. */
  readonly raw: Buffer;
}

/** A parsed `type/subtype; param=value` header (Content-Type, Content-Disposition). */
export interface StructuredValue {
  /** Lower-cased value (`text/plain`, `attachment`). */
  readonly value: string;
  /** Parameters with lower-cased names; RFC 2231 continuations joined and decoded. */
  readonly params: Readonly<Record<string, string>>;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Header bytes should be ASCII; RFC 6532 allows UTF-8. Anything else (Latin-1, Shift_JIS sent raw by
 * old mailers) is decoded as Latin-1 so no byte is lost or replaced, and reported as not UTF-8.
 */
export function decodeHeaderBytes(bytes: Uint8Array): { text: string; utf8: boolean } {
  let ascii = true;
  for (const b of bytes) {
    if (b >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii)
    return {
      text: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1'),
      utf8: true,
    };
  try {
    return { text: utf8.decode(bytes), utf8: true };
  } catch {
    return {
      text: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1'),
      utf8: false,
    };
  }
}

/** Remove folding (CRLF/LF followed by whitespace), as RFC 5322 §2.2.3 unfolding. */
export function unfold(value: string): string {
  return value.replace(/\r?\n(?=[ \t])/g, '').replace(/\r?\n/g, '');
}

/** RFC 2047 decoding for display; never throws (a broken encoded word is shown as written). */
export function decodeWords(value: string): string {
  try {
    return libmime.decodeWords(value);
  } catch {
    return value;
  }
}

/**
 * Parse `type/subtype; a=b; c*0*=…` using libmime (RFC 2045 syntax, RFC 2231 continuations and
 * charsets). Parameter values that are still RFC 2047 encoded words (a common, non-standard way of
 * writing `name=`) are decoded as well, except those libmime already assembled from RFC 2231 parts.
 */
export function parseStructured(value: string): StructuredValue {
  const parsed = libmime.parseHeaderValue(value);
  const already = new Set<string>((parsed as { decodedParams?: string[] }).decodedParams ?? []);
  const params: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [k, v] of Object.entries(parsed.params ?? {})) {
    const key = k.toLowerCase();
    const text = typeof v === 'string' ? v : String(v);
    params[key] = already.has(k) ? text : decodeWords(text);
  }
  return { value: (parsed.value ?? '').trim().toLowerCase(), params };
}

export interface Mailbox {
  /** Display name, decoded; '' when absent. */
  readonly name: string;
  readonly address: string;
}

/** The header section of one entity. Lookups are case-insensitive; order and duplicates are kept. */
export class MimeHeaders {
  constructor(readonly fields: readonly HeaderField[]) {}

  has(name: string): boolean {
    const key = name.toLowerCase();
    return this.fields.some((f) => f.key === key);
  }

  /** First value of a field, unfolded, not decoded (use for structured fields). */
  get(name: string): string | undefined {
    const key = name.toLowerCase();
    return this.fields.find((f) => f.key === key)?.value;
  }

  getAll(name: string): string[] {
    const key = name.toLowerCase();
    return this.fields.filter((f) => f.key === key).map((f) => f.value);
  }

  /** First value decoded for display (RFC 2047). */
  getDecoded(name: string): string | undefined {
    const v = this.get(name);
    return v === undefined ? undefined : decodeWords(v);
  }

  /**
   * Mailboxes of an address field (From, To, Cc …), groups flattened, display names RFC 2047
   * decoded *after* parsing, so an encoded comma or angle bracket cannot forge a second address.
   */
  getAddresses(name: string): Mailbox[] {
    const out: Mailbox[] = [];
    for (const value of this.getAll(name)) {
      for (const a of addressparser(value, { flatten: true })) {
        out.push({ name: decodeWords(a.name ?? '').trim(), address: (a.address ?? '').trim() });
      }
    }
    return out;
  }

  count(name: string): number {
    const key = name.toLowerCase();
    return this.fields.filter((f) => f.key === key).length;
  }
}
