import { crc32 } from 'node:zlib';
import { lzmaDecode } from './lzma';

/**
 * Is a 7z archive encrypted? (7z format: 7zFormat.txt of the LZMA SDK.) The 32-byte signature header
 * points at the "next header" at the end of the file. It is either the plain header (kHeader, 0x01)
 * or, as 7-Zip writes it by default, an encoded header (kEncodedHeader, 0x17): a StreamsInfo that
 * says how the real header is packed. An AES coder there means encrypted file names (7z -mhe=on);
 * otherwise the packed header is unpacked (LZMA; CRC checked) and its folders' coders are searched
 * for the AES coder (content encrypted, 7z -p). Anything this code cannot follow is 'unknown',
 * never 'clear'.
 */

export type SevenZipCheck =
  | { readonly state: 'encrypted'; readonly what: string }
  | { readonly state: 'clear' }
  | { readonly state: 'unknown'; readonly why: string };

const K_END = 0x00;
const K_HEADER = 0x01;
const K_PACK_INFO = 0x06;
const K_UNPACK_INFO = 0x07;
const K_SIZE = 0x09;
const K_CRC = 0x0a;
const K_FOLDER = 0x0b;
const K_CODERS_UNPACK_SIZE = 0x0c;
const K_ENCODED_HEADER = 0x17;

const AES_CODER = Buffer.from([0x06, 0xf1, 0x07, 0x01]);
const LZMA_CODER = Buffer.from([0x03, 0x01, 0x01]);
/** Largest packed header unpacked (a header lists names and sizes; 16 MiB is some 100 000 files). */
const MAX_HEADER_BYTES = 16 * 1024 * 1024;

class Truncated extends Error {}

class Reader {
  constructor(
    private readonly b: Uint8Array,
    public pos: number,
    private readonly end: number,
  ) {}

  byte(): number {
    if (this.pos >= this.end) throw new Truncated();
    return this.b[this.pos++]!;
  }

  bytes(n: number): Uint8Array {
    if (this.pos + n > this.end) throw new Truncated();
    const out = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** 7z NUMBER: the first byte's leading 1-bits say how many more bytes follow (little endian). */
  number(): number {
    const first = this.byte();
    let mask = 0x80;
    let value = 0;
    for (let i = 0; i < 8; i++) {
      if ((first & mask) === 0) {
        const high = first & (mask - 1);
        return value + high * 2 ** (8 * i);
      }
      value += this.byte() * 2 ** (8 * i);
      mask >>>= 1;
    }
    return value;
  }

  u32(): number {
    const x = this.bytes(4);
    return (x[0]! | (x[1]! << 8) | (x[2]! << 16)) + x[3]! * 0x1000000;
  }
}

interface Coder {
  readonly id: Uint8Array;
  readonly props: Uint8Array;
  readonly numOut: number;
}

interface StreamsInfo {
  packPos: number;
  packSizes: number[];
  folders: Coder[][];
  unpackSizes: number[];
  crcs: (number | undefined)[];
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function readDigests(r: Reader, n: number): (number | undefined)[] {
  const allDefined = r.byte();
  const defined: boolean[] = [];
  if (allDefined) {
    for (let i = 0; i < n; i++) defined.push(true);
  } else {
    let mask = 0;
    let cur = 0;
    for (let i = 0; i < n; i++) {
      if (mask === 0) {
        cur = r.byte();
        mask = 0x80;
      }
      defined.push((cur & mask) !== 0);
      mask >>>= 1;
    }
  }
  return defined.map((d) => (d ? r.u32() : undefined));
}

function readStreamsInfo(r: Reader): StreamsInfo {
  const info: StreamsInfo = { packPos: 0, packSizes: [], folders: [], unpackSizes: [], crcs: [] };
  let id = r.byte();
  if (id === K_PACK_INFO) {
    info.packPos = r.number();
    const numPackStreams = r.number();
    if (numPackStreams > 1000) throw new Truncated();
    for (;;) {
      const p = r.byte();
      if (p === K_END) break;
      if (p === K_SIZE) for (let i = 0; i < numPackStreams; i++) info.packSizes.push(r.number());
      else if (p === K_CRC) readDigests(r, numPackStreams);
      else throw new Truncated();
    }
    id = r.byte();
  }
  if (id === K_UNPACK_INFO) {
    if (r.byte() !== K_FOLDER) throw new Truncated();
    const numFolders = r.number();
    if (numFolders > 1000 || r.byte() !== 0) throw new Truncated();
    for (let f = 0; f < numFolders; f++) {
      const numCoders = r.number();
      if (numCoders < 1 || numCoders > 64) throw new Truncated();
      const coders: Coder[] = [];
      let inTotal = 0;
      let outTotal = 0;
      for (let c = 0; c < numCoders; c++) {
        const flag = r.byte();
        const idBytes = r.bytes(flag & 0x0f);
        let numIn = 1;
        let numOut = 1;
        if (flag & 0x10) {
          numIn = r.number();
          numOut = r.number();
        }
        const props = flag & 0x20 ? r.bytes(r.number()) : new Uint8Array(0);
        coders.push({ id: idBytes, props, numOut });
        inTotal += numIn;
        outTotal += numOut;
      }
      for (let i = 0; i < outTotal - 1; i++) {
        r.number();
        r.number();
      }
      const packed = inTotal - (outTotal - 1);
      if (packed > 1) for (let i = 0; i < packed; i++) r.number();
      info.folders.push(coders);
    }
    if (r.byte() !== K_CODERS_UNPACK_SIZE) throw new Truncated();
    for (const coders of info.folders) for (const c of coders) for (let i = 0; i < c.numOut; i++) info.unpackSizes.push(r.number());
    for (;;) {
      const p = r.byte();
      if (p === K_END) break;
      if (p === K_CRC) info.crcs = readDigests(r, info.folders.length);
      else throw new Truncated();
    }
  }
  return info;
}

export function check7z(b: Uint8Array): SevenZipCheck {
  if (b.length < 32) return { state: 'unknown', why: 'the 7z archive is truncated' };
  const r0 = new Reader(b, 12, 32);
  const offLo = r0.u32();
  const offHi = r0.u32();
  const size = r0.u32();
  const start = 32 + offLo;
  if (offHi !== 0 || start + size > b.length || size === 0) return { state: 'unknown', why: 'the 7z archive is truncated or damaged' };
  try {
    const r = new Reader(b, start, start + size);
    const kind = r.byte();
    if (kind === K_HEADER) return headerVerdict(b.subarray(start, start + size));
    if (kind !== K_ENCODED_HEADER) return { state: 'unknown', why: 'the 7z archive is damaged' };
    const info = readStreamsInfo(r);
    const coders = info.folders.flat();
    if (coders.some((c) => equal(c.id, AES_CODER))) return { state: 'encrypted', what: 'encrypted 7z archive (file names encrypted)' };
    const folder = info.folders[0];
    const coder = folder?.[0];
    const packSize = info.packSizes[0];
    const unpackSize = info.unpackSizes[0];
    const crc = info.crcs[0];
    if (info.folders.length !== 1 || folder!.length !== 1 || !coder || !equal(coder.id, LZMA_CODER) || packSize === undefined || unpackSize === undefined || crc === undefined) {
      return { state: 'unknown', why: 'the 7z archive packs its list of files in a way this check cannot read' };
    }
    if (unpackSize > MAX_HEADER_BYTES) return { state: 'unknown', why: 'the 7z archive lists too many files' };
    const packStart = 32 + info.packPos;
    if (packStart + packSize > b.length) return { state: 'unknown', why: 'the 7z archive is truncated' };
    const header = lzmaDecode(coder.props, b.subarray(packStart, packStart + packSize), unpackSize);
    if (crc32(header) >>> 0 !== crc) return { state: 'unknown', why: 'the 7z archive is damaged (header checksum)' };
    if (header[0] !== K_HEADER) return { state: 'unknown', why: 'the 7z archive is damaged' };
    return headerVerdict(header);
  } catch {
    return { state: 'unknown', why: 'the 7z archive is truncated or damaged' };
  }
}

/** In the plain header the folders list their coders' IDs; the AES coder there means encrypted content. */
function headerVerdict(header: Uint8Array): SevenZipCheck {
  return Buffer.from(header.buffer, header.byteOffset, header.byteLength).indexOf(AES_CODER) >= 0
    ? { state: 'encrypted', what: 'encrypted 7z archive' }
    : { state: 'clear' };
}
