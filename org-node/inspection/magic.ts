/**
 * Content detection by magic numbers: what a file really is, independent of its name, and whether
 * an archive or document is encrypted (which makes it uninspectable: PPAP).
 */

export type ExecutableKind = 'pe' | 'elf' | 'mach-o' | 'java-class' | 'script' | 'windows-shortcut';
export type ContainerKind = 'zip' | '7z' | 'rar' | 'pdf' | 'ole';

const EXECUTABLE_LABELS: Record<ExecutableKind, string> = {
  pe: 'Windows executable (PE)',
  elf: 'Linux executable (ELF)',
  'mach-o': 'macOS executable (Mach-O)',
  'java-class': 'Java class file',
  script: 'script with an interpreter line (#!)',
  'windows-shortcut': 'Windows shortcut (LNK)',
};

export function executableLabel(kind: ExecutableKind): string {
  return EXECUTABLE_LABELS[kind];
}

function startsWith(b: Uint8Array, sig: readonly number[], at = 0): boolean {
  if (b.length < at + sig.length) return false;
  for (let i = 0; i < sig.length; i++) if (b[at + i] !== sig[i]) return false;
  return true;
}

function u32le(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16)) + b[at + 3]! * 0x1000000;
}

function u32be(b: Uint8Array, at: number): number {
  return b[at]! * 0x1000000 + ((b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!);
}

/** The kind of executable code `b` is, or undefined when it is none of those we recognise. */
export function detectExecutable(b: Uint8Array): ExecutableKind | undefined {
  // PE: DOS header "MZ", e_lfanew at 0x3C points at "PE\0\0".
  if (startsWith(b, [0x4d, 0x5a]) && b.length >= 0x40) {
    const lfanew = u32le(b, 0x3c);
    if (lfanew + 4 <= b.length && startsWith(b, [0x50, 0x45, 0, 0], lfanew)) return 'pe';
  }
  if (startsWith(b, [0x7f, 0x45, 0x4c, 0x46])) return 'elf';
  for (const sig of [
    [0xfe, 0xed, 0xfa, 0xce],
    [0xfe, 0xed, 0xfa, 0xcf],
    [0xce, 0xfa, 0xed, 0xfe],
    [0xcf, 0xfa, 0xed, 0xfe],
  ]) {
    if (startsWith(b, sig)) return 'mach-o';
  }
  if (startsWith(b, [0xca, 0xfe, 0xba, 0xbe]) && b.length >= 8) {
    // Mach-O universal binaries count their architectures here (a few); Java class files put their
    // version (major >= 45) in the same place.
    return u32be(b, 4) < 45 ? 'mach-o' : 'java-class';
  }
  if (startsWith(b, [0x23, 0x21])) return 'script';
  // Shell link: header size 0x4C and CLSID 00021401-0000-0000-C000-000000000046.
  if (startsWith(b, [0x4c, 0, 0, 0, 0x01, 0x14, 0x02, 0, 0, 0, 0, 0, 0xc0, 0, 0, 0, 0, 0, 0, 0x46])) return 'windows-shortcut';
  return undefined;
}

const PDF_MAGIC = Buffer.from('%PDF-', 'latin1');

export function detectContainer(b: Uint8Array): ContainerKind | undefined {
  if (startsWith(b, [0x50, 0x4b, 0x03, 0x04]) || startsWith(b, [0x50, 0x4b, 0x05, 0x06])) return 'zip';
  if (startsWith(b, [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c])) return '7z';
  if (startsWith(b, [0x52, 0x61, 0x72, 0x21, 0x1a, 0x07])) return 'rar';
  if (startsWith(b, [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1])) return 'ole';
  // PDF readers accept the header anywhere in the first 1024 bytes.
  const head = Buffer.from(b.buffer, b.byteOffset, Math.min(b.byteLength, 1024));
  if (head.indexOf(PDF_MAGIC) >= 0) return 'pdf';
  return undefined;
}

/** Result of looking into a container that is not a ZIP (ZIPs are listed by zip.ts). */
export type EncryptionCheck =
  | { readonly state: 'encrypted'; readonly what: string }
  | { readonly state: 'clear' }
  | { readonly state: 'unknown'; readonly why: string };

/** 7z: see sevenzip.ts (reads the packed file list to find the AES coder). */
export { check7z } from './sevenzip';

/** RAR 4 and RAR 5: walk the block headers; encrypted headers or any encrypted file → encrypted. */
export function checkRar(b: Uint8Array): EncryptionCheck {
  if (startsWith(b, [0x52, 0x61, 0x72, 0x21, 0x1a, 0x07, 0x01, 0x00])) return checkRar5(b, 8);
  if (startsWith(b, [0x52, 0x61, 0x72, 0x21, 0x1a, 0x07, 0x00])) return checkRar4(b, 7);
  return { state: 'unknown', why: 'unknown RAR version' };
}

function checkRar4(b: Uint8Array, pos: number): EncryptionCheck {
  let blocks = 0;
  while (pos + 7 <= b.length) {
    if (++blocks > 100_000) return { state: 'unknown', why: 'the RAR archive has too many blocks' };
    const type = b[pos + 2]!;
    const flags = b[pos + 3]! | (b[pos + 4]! << 8);
    const headSize = b[pos + 5]! | (b[pos + 6]! << 8);
    if (headSize < 7) return { state: 'unknown', why: 'the RAR archive is damaged' };
    if (type === 0x73 && flags & 0x0080) return { state: 'encrypted', what: 'RAR archive with encrypted file names' };
    if (type === 0x74 && flags & 0x0004) return { state: 'encrypted', what: 'encrypted RAR archive' };
    if (type === 0x7b) return { state: 'clear' }; // end of archive
    let addSize = 0;
    if (flags & 0x8000 || type === 0x74) {
      if (pos + 11 > b.length) break;
      addSize = u32le(b, pos + 7);
    }
    pos += headSize + addSize;
  }
  return pos === b.length ? { state: 'clear' } : { state: 'unknown', why: 'the RAR archive is truncated' };
}

function readVint(b: Uint8Array, pos: number): { value: number; next: number } | undefined {
  let value = 0;
  let mul = 1;
  for (let i = 0; i < 10 && pos + i < b.length; i++) {
    const byte = b[pos + i]!;
    value += (byte & 0x7f) * mul;
    mul *= 128;
    if (!(byte & 0x80)) return { value, next: pos + i + 1 };
  }
  return undefined;
}

function checkRar5(b: Uint8Array, pos: number): EncryptionCheck {
  let blocks = 0;
  while (pos + 4 < b.length) {
    if (++blocks > 100_000) return { state: 'unknown', why: 'the RAR archive has too many blocks' };
    const size = readVint(b, pos + 4); // after the header CRC32
    if (!size || size.value < 2) return { state: 'unknown', why: 'the RAR archive is damaged' };
    const headerStart = size.next;
    const headerEnd = headerStart + size.value;
    if (headerEnd > b.length) return { state: 'unknown', why: 'the RAR archive is truncated' };
    const type = readVint(b, headerStart);
    const flags = type && readVint(b, type.next);
    if (!type || !flags) return { state: 'unknown', why: 'the RAR archive is damaged' };
    let p = flags.next;
    let extraSize = 0;
    let dataSize = 0;
    if (flags.value & 0x01) {
      const v = readVint(b, p);
      if (!v) return { state: 'unknown', why: 'the RAR archive is damaged' };
      extraSize = v.value;
      p = v.next;
    }
    if (flags.value & 0x02) {
      const v = readVint(b, p);
      if (!v) return { state: 'unknown', why: 'the RAR archive is damaged' };
      dataSize = v.value;
    }
    if (type.value === 4) return { state: 'encrypted', what: 'RAR archive with encrypted file names' };
    if (type.value === 5) return { state: 'clear' }; // end of archive
    if ((type.value === 2 || type.value === 3) && extraSize > 0) {
      // The extra area is the last extraSize bytes of the header: records of size, type, data.
      let q = headerEnd - extraSize;
      while (q < headerEnd) {
        const recSize = readVint(b, q);
        const recType = recSize && readVint(b, recSize.next);
        if (!recSize || !recType || recSize.value === 0) return { state: 'unknown', why: 'the RAR archive is damaged' };
        if (type.value === 2 && recType.value === 0x01) return { state: 'encrypted', what: 'encrypted RAR archive' };
        q = recSize.next + recSize.value;
      }
    }
    pos = headerEnd + dataSize;
  }
  return { state: 'unknown', why: 'the RAR archive is truncated' };
}

const PDF_ENCRYPT = Buffer.from('/Encrypt', 'latin1');

/** PDF: an /Encrypt entry in a trailer or cross-reference stream dictionary means encrypted content. */
export function checkPdf(b: Uint8Array): EncryptionCheck {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  let at = buf.indexOf(PDF_ENCRYPT);
  while (at >= 0) {
    // "/EncryptMetadata" is a key inside the encryption dictionary, not the reference to it.
    const next = buf[at + PDF_ENCRYPT.length];
    if (next === undefined || !/[A-Za-z0-9]/.test(String.fromCharCode(next))) return { state: 'encrypted', what: 'encrypted PDF' };
    at = buf.indexOf(PDF_ENCRYPT, at + 1);
  }
  return { state: 'clear' };
}

const ENCRYPTED_PACKAGE = Buffer.from('EncryptedPackage', 'utf16le');
const ENCRYPTION_INFO = Buffer.from('EncryptionInfo', 'utf16le');

/**
 * OLE compound file: a password-protected Office 2007+ document is an OLE file holding the streams
 * "EncryptionInfo" and "EncryptedPackage" (MS-OFFCRYPTO) instead of a ZIP. The directory entries
 * store names in UTF-16LE. (Legacy .doc/.xls RC4 encryption is flagged inside the FIB and is not
 * detected.)
 */
export function checkOle(b: Uint8Array): EncryptionCheck {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (buf.indexOf(ENCRYPTED_PACKAGE) >= 0 || buf.indexOf(ENCRYPTION_INFO) >= 0) return { state: 'encrypted', what: 'password-protected Office document' };
  return { state: 'clear' };
}
