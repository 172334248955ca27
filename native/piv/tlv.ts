/**
 * BER-TLV as PIV uses it (SP 800-73-4 Part 1 §3 and Part 2 §3): tags of one or two bytes (5F C1 0A,
 * 7F 49), definite lengths in short form or 81/82 long form. Shared by the PIV client and the
 * virtual card.
 */
export interface Tlv {
  tag: number;
  value: Uint8Array;
}

export class TlvError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TlvError';
  }
}

export function encodeLength(length: number): Uint8Array {
  if (length < 0x80) return Uint8Array.of(length);
  if (length <= 0xff) return Uint8Array.of(0x81, length);
  if (length <= 0xffff) return Uint8Array.of(0x82, length >> 8, length & 0xff);
  throw new TlvError(`TLV value too long (${length} bytes)`);
}

function tagBytes(tag: number): number[] {
  const out: number[] = [];
  let t = tag;
  do {
    out.unshift(t & 0xff);
    t = Math.floor(t / 256);
  } while (t > 0);
  return out;
}

/** Encodes one TLV; `tag` is the whole tag as a number (0x7F49, 0x5FC10A, 0x7C, ...). */
export function tlv(tag: number, ...values: Uint8Array[]): Uint8Array {
  const value = concat(...values);
  return concat(Uint8Array.from(tagBytes(tag)), encodeLength(value.length), value);
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Reads one TLV at `offset`; returns it and the offset after it. */
export function readTlv(bytes: Uint8Array, offset = 0): { tlv: Tlv; next: number } {
  let i = offset;
  const byte = (): number => {
    if (i >= bytes.length) throw new TlvError('truncated TLV');
    return bytes[i++] as number;
  };
  let tag = byte();
  if ((tag & 0x1f) === 0x1f) {
    let b: number;
    do {
      b = byte();
      tag = tag * 256 + b;
    } while ((b & 0x80) !== 0);
  }
  let length = byte();
  if (length === 0x81) length = byte();
  else if (length === 0x82) length = byte() * 256 + byte();
  else if (length >= 0x80) throw new TlvError(`unsupported TLV length form 0x${length.toString(16)}`);
  if (i + length > bytes.length) throw new TlvError('TLV value runs past the end of the data');
  return { tlv: { tag, value: bytes.subarray(i, i + length) }, next: i + length };
}

/** Parses a sequence of TLVs filling `bytes` exactly. */
export function parseTlvs(bytes: Uint8Array): Tlv[] {
  const out: Tlv[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    // Some cards pad with 00 or FF after the last object.
    if (bytes[offset] === 0x00 || bytes[offset] === 0xff) break;
    const { tlv: t, next } = readTlv(bytes, offset);
    out.push(t);
    offset = next;
  }
  return out;
}

export function findTlv(bytes: Uint8Array, tag: number): Uint8Array | undefined {
  return parseTlvs(bytes).find((t) => t.tag === tag)?.value;
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export function fromHex(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex.replace(/\s+/g, ''), 'hex'));
}
