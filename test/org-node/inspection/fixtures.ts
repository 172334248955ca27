import { deflateRawSync } from 'node:zlib';
import { buildMessage, type AttachmentInput } from '../../../smime/mime';

/**
 * Generated inspection fixtures: ZIP archives (stored / deflated, traditional PKWARE "ZipCrypto"
 * encryption as `zip -P` makes it, WinZip AES-flagged entries), minimal executables, and signature
 * stubs of 7z / RAR / PDF / OLE. Nothing binary is checked in.
 */

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crcByte(crc: number, b: number): number {
  return (CRC_TABLE[(crc ^ b) & 0xff]! ^ (crc >>> 8)) >>> 0;
}

export function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of data) c = crcByte(c, b);
  return (c ^ 0xffffffff) >>> 0;
}

/** Traditional PKWARE encryption (APPNOTE 6.1), deterministic header bytes. */
function zipCrypto(password: string, crc: number, data: Buffer): Buffer {
  let k0 = 0x12345678;
  let k1 = 0x23456789;
  let k2 = 0x34567890;
  const update = (p: number): void => {
    k0 = crcByte(k0, p);
    k1 = (Math.imul((k1 + (k0 & 0xff)) >>> 0, 134775813) + 1) >>> 0;
    k2 = crcByte(k2, k1 >>> 24);
  };
  const streamByte = (): number => {
    const t = (k2 | 2) & 0xffff;
    return (Math.imul(t, t ^ 1) >>> 8) & 0xff;
  };
  for (const ch of Buffer.from(password, 'latin1')) update(ch);
  const header = Buffer.alloc(12);
  for (let i = 0; i < 11; i++) header[i] = (i * 37 + 11) & 0xff;
  header[11] = crc >>> 24;
  const plain = Buffer.concat([header, data]);
  const out = Buffer.alloc(plain.length);
  for (let i = 0; i < plain.length; i++) {
    const p = plain[i]!;
    out[i] = p ^ streamByte();
    update(p);
  }
  return out;
}

export interface ZipEntrySpec {
  name: string;
  content: Buffer | Uint8Array | string;
  /** Default true. */
  deflate?: boolean;
  /** Traditional encryption with this password (`zip -P`). */
  password?: string;
  /** WinZip AES-256 marked entry (flag bit 0, method 99, extra 0x9901); the data is opaque bytes. */
  aes?: boolean;
  /** Claim this uncompressed size in the headers (lying headers, bombs). */
  declaredSize?: number;
  /** Name bytes as written, without the UTF-8 flag (e.g. Shift_JIS from Japanese Windows). */
  rawName?: Buffer;
}

export function buildZip(entries: ZipEntrySpec[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const raw = typeof e.content === 'string' ? Buffer.from(e.content, 'utf8') : Buffer.from(e.content);
    const name = e.rawName ?? Buffer.from(e.name, 'utf8');
    const crc = crc32(raw);
    let method = e.deflate === false ? 0 : 8;
    let data: Buffer = method === 8 ? deflateRawSync(raw) : raw;
    let flags = e.rawName === undefined && /[^\x20-\x7e]/.test(e.name) ? 0x800 : 0;
    let extra = Buffer.alloc(0);
    if (e.password !== undefined) {
      flags |= 0x1;
      data = zipCrypto(e.password, crc, data);
    }
    if (e.aes) {
      flags |= 0x1;
      extra = Buffer.from([0x01, 0x99, 7, 0, 2, 0, 0x41, 0x45, 3, method, 0]);
      method = 99;
      data = Buffer.concat([Buffer.alloc(16, 0x5a), data, Buffer.alloc(10, 0xa5)]);
    }
    const usize = e.declaredSize ?? raw.length;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(0, 10);
    local.writeUInt16LE(0x5b77, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(usize, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(extra.length, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(flags, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt16LE(0, 12);
    central.writeUInt16LE(0x5b77, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(usize, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt16LE(extra.length, 30);
    central.writeUInt32LE(offset, 42);
    const localRecord = Buffer.concat([local, name, extra, data]);
    locals.push(localRecord);
    centrals.push(Buffer.concat([central, name, extra]));
    offset += localRecord.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, eocd]);
}

/** A minimal PE image header: "MZ", e_lfanew = 0x40, "PE\0\0", i386, plus padding. */
export function peBytes(): Buffer {
  const b = Buffer.alloc(512);
  b.write('MZ', 0, 'latin1');
  b.writeUInt32LE(0x40, 0x3c);
  b.write('PE\0\0', 0x40, 'latin1');
  b.writeUInt16LE(0x14c, 0x44);
  return b;
}

export function elfBytes(): Buffer {
  return Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), Buffer.alloc(120)]);
}

export function machOBytes(): Buffer {
  return Buffer.concat([Buffer.from([0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1]), Buffer.alloc(120)]);
}

export function pdfBytes(opts: { encrypted?: boolean; text?: string } = {}): Buffer {
  const body = opts.text ?? 'Quarterly report';
  const trailer = opts.encrypted ? '<< /Size 4 /Root 1 0 R /Encrypt 3 0 R >>' : '<< /Size 3 /Root 1 0 R >>';
  const enc = opts.encrypted ? '3 0 obj\n<< /Filter /Standard /V 2 /R 3 /Length 128 /P -3904 /EncryptMetadata true >>\nendobj\n' : '';
  return Buffer.from(
    `%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Type /Pages /Kids [] /Count 0 /Title (${body}) >>\nendobj\n${enc}trailer\n${trailer}\n%%EOF\n`,
    'latin1',
  );
}

/** OLE compound file stub: header signature, then directory entry names in UTF-16LE. */
export function oleBytes(streams: string[]): Buffer {
  const header = Buffer.alloc(512);
  Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]).copy(header);
  const dir = streams.map((s) => {
    const e = Buffer.alloc(128);
    Buffer.from(s, 'utf16le').copy(e);
    e.writeUInt16LE((s.length + 1) * 2, 64);
    return e;
  });
  return Buffer.concat([header, ...dir]);
}

/** 7z stub: 32-byte signature header pointing at `nextHeader` placed after `packed`. */
export function sevenZipBytes(nextHeader: Buffer, packed = Buffer.alloc(64, 0x33)): Buffer {
  const sig = Buffer.alloc(32);
  Buffer.from([0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c, 0, 4]).copy(sig);
  sig.writeUInt32LE(packed.length, 12);
  sig.writeUInt32LE(nextHeader.length, 20);
  return Buffer.concat([sig, packed, nextHeader]);
}

/** kEncodedHeader whose folder is AES + LZMA (7z -mhe=on): PackInfo, UnpackInfo (2 coders, 1 bind pair), sizes, CRC. */
export const SEVENZIP_ENCODED_AES_HEADER = Buffer.from([
  0x17, 0x06, 0x00, 0x01, 0x09, 0x40, 0x00,
  0x07, 0x0b, 0x01, 0x00, 0x02, 0x24, 0x06, 0xf1, 0x07, 0x01, 0x02, 0xaa, 0xbb, 0x23, 0x03, 0x01, 0x01, 0x05, 0x5d, 0x00, 0x10, 0x00, 0x00, 0x01, 0x00,
  0x0c, 0x20, 0x30, 0x0a, 0x01, 0xde, 0xad, 0xbe, 0xef, 0x00, 0x00,
]);
/** kEncodedHeader with an LZMA coder (7-Zip's default) whose packed bytes are not LZMA (damaged). */
export const SEVENZIP_ENCODED_LZMA_HEADER = Buffer.from([
  0x17, 0x06, 0x00, 0x01, 0x09, 0x40, 0x00,
  0x07, 0x0b, 0x01, 0x00, 0x01, 0x23, 0x03, 0x01, 0x01, 0x05, 0x5d, 0x00, 0x10, 0x00, 0x00,
  0x0c, 0x20, 0x0a, 0x01, 0xde, 0xad, 0xbe, 0xef, 0x00, 0x00,
]);
/** Plain kHeader listing files with a Copy coder. */
export const SEVENZIP_PLAIN_HEADER = Buffer.from([0x01, 0x04, 0x06, 0x00, 0x01, 0x09, 0x40, 0x00, 0x07, 0x0b, 0x01, 0x00, 0x01, 0x01, 0x00, 0x0c, 0x40, 0x00, 0x00, 0x00]);

function vint(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

function rar5Block(fields: number[]): Buffer {
  return Buffer.from([0, 0, 0, 0, ...vint(fields.length), ...fields]);
}

/** RAR 5: main header, one file (optionally with a file encryption record), end of archive. */
export function rar5Bytes(opts: { encryptedFile?: boolean; encryptedHeaders?: boolean; name?: string }): Buffer {
  const sig = Buffer.from([0x52, 0x61, 0x72, 0x21, 0x1a, 0x07, 0x01, 0x00]);
  if (opts.encryptedHeaders) {
    return Buffer.concat([sig, rar5Block([4, 0, 0, 0, 15, ...new Array<number>(16).fill(7)]), Buffer.alloc(64, 0x99)]);
  }
  const main = rar5Block([1, 0, 0]);
  const name = [...Buffer.from(opts.name ?? 'report.txt', 'utf8')];
  const data = Buffer.alloc(40, 0x41);
  const extra = opts.encryptedFile ? [...vint(36), 0x01, 0, 0, 15, ...new Array<number>(32).fill(3)] : [...vint(6), 0x03, 0x02, 1, 2, 3, 4];
  const file = rar5Block([2, 0x03, ...vint(extra.length), ...vint(data.length), 0, ...vint(data.length), 0, 0, 0, ...vint(name.length), ...name, ...extra]);
  const end = rar5Block([5, 0, 0]);
  return Buffer.concat([sig, main, file, data, end]);
}

/** RAR 4: marker, main header, one file header (flag 0x04 = encrypted), end block. */
export function rar4Bytes(opts: { encryptedFile?: boolean; encryptedHeaders?: boolean }): Buffer {
  const marker = Buffer.from([0x52, 0x61, 0x72, 0x21, 0x1a, 0x07, 0x00]);
  const main = Buffer.alloc(13);
  main.writeUInt8(0x73, 2);
  main.writeUInt16LE(opts.encryptedHeaders ? 0x0080 : 0, 3);
  main.writeUInt16LE(13, 5);
  const name = Buffer.from('report.txt', 'latin1');
  const data = Buffer.alloc(30, 0x42);
  const file = Buffer.alloc(32);
  file.writeUInt8(0x74, 2);
  file.writeUInt16LE(0x8000 | (opts.encryptedFile ? 0x0004 : 0), 3);
  file.writeUInt16LE(32 + name.length, 5);
  file.writeUInt32LE(data.length, 7);
  file.writeUInt32LE(data.length, 11);
  file.writeUInt16LE(name.length, 26);
  const end = Buffer.alloc(7);
  end.writeUInt8(0x7b, 2);
  end.writeUInt16LE(7, 5);
  return Buffer.concat([marker, main, file, name, data, end]);
}

/** A message as the client builds it (smime/mime buildMessage), plain text plus attachments. */
export async function message(opts: { subject?: string; text?: string; attachments?: AttachmentInput[] }): Promise<Buffer> {
  return buildMessage(
    {
      from: { name: 'Hanako Yamada', address: 'hanako@a.example' },
      to: [{ address: 'taro@b.example' }],
      subject: opts.subject ?? 'Documents',
      date: new Date('2026-11-23T09:00:00Z'),
      messageId: '<inspection-test@a.example>',
    },
    { text: opts.text ?? 'Please find the documents attached.\n', ...(opts.attachments ? { attachments: opts.attachments } : {}) },
    { boundaryBase: 'inspection' },
  );
}

/** My Numbers from 11 digits (valid with the right check digit). */
export function myNumberFrom(first11: string, check: number): string {
  return `${first11}${check}`;
}

/** A number of `length` digits starting with `prefix`, completed with a valid (or, with `valid: false`, invalid) Luhn digit. */
export function luhnNumber(prefix: string, length: number, seed: number, valid = true): string {
  let s = prefix;
  let x = seed;
  while (s.length < length - 1) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    s += String((x >>> 16) % 10);
  }
  for (let d = 0; d < 10; d++) {
    const candidate = `${s}${d}`;
    let sum = 0;
    for (let i = 0; i < candidate.length; i++) {
      let v = candidate.charCodeAt(candidate.length - 1 - i) - 48;
      if (i % 2 === 1) {
        v *= 2;
        if (v > 9) v -= 9;
      }
      sum += v;
    }
    if ((sum % 10 === 0) === valid) return candidate;
  }
  throw new Error('unreachable');
}

/** Deterministic pseudo-random digit strings. */
export function digitStrings(count: number, length: number, seed: number): string[] {
  const out: string[] = [];
  let x = seed;
  for (let i = 0; i < count; i++) {
    let s = '';
    for (let j = 0; j < length; j++) {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      s += String((x >>> 24) % 10);
    }
    out.push(s);
  }
  return out;
}
