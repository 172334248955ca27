import yauzl, { type Entry, type ZipFile } from 'yauzl';

/**
 * ZIP listing and bounded extraction with yauzl (central directory; sizes are validated while
 * reading, so a lying header cannot make an entry larger than declared).
 */

export interface ZipEntryInfo {
  /** Decoded name: UTF-8 when flagged (or valid UTF-8), otherwise Shift_JIS (Japanese Windows), as the recipient's unzip would show it. */
  readonly name: string;
  readonly isDirectory: boolean;
  /** General-purpose flag bit 0 (traditional PKWARE or AES), or a WinZip AES extra field (0x9901). */
  readonly encrypted: boolean;
  readonly compressedSize: number;
  readonly uncompressedSize: number;
  /** Compression method yauzl can decode (stored or deflate). */
  readonly readable: boolean;
  readonly entry: Entry;
}

export interface ZipListing {
  readonly entries: readonly ZipEntryInfo[];
  /** More entries than the limit: the listing stops there. */
  readonly truncated: boolean;
  readonly zip: ZipFile;
}

const WINZIP_AES_EXTRA = 0x9901;
const utf8 = new TextDecoder('utf-8', { fatal: true });
const sjis = new TextDecoder('shift_jis');

function decodeName(e: Entry): string {
  // yauzl decodes UTF-8 (bit 11) and the Info-ZIP Unicode Path field (0x7075) itself.
  if (e.generalPurposeBitFlag & 0x800 || e.extraFields.some((f) => f.id === 0x7075)) return e.fileName;
  try {
    return utf8.decode(e.fileNameRaw);
  } catch {
    return sjis.decode(e.fileNameRaw);
  }
}

export async function listZip(bytes: Uint8Array, maxEntries: number): Promise<ZipListing> {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const zip = await yauzl.fromBufferPromise(buf, { lazyEntries: true, autoClose: false, strictFileNames: false, validateEntrySizes: true });
  const entries: ZipEntryInfo[] = [];
  let truncated = false;
  try {
    for await (const e of zip.eachEntry()) {
      if (entries.length >= maxEntries) {
        truncated = true;
        break;
      }
      const name = decodeName(e);
      entries.push({
        name,
        isDirectory: /\/$/.test(e.fileName),
        encrypted: e.isEncrypted() || e.extraFields.some((f) => f.id === WINZIP_AES_EXTRA),
        compressedSize: e.compressedSize,
        uncompressedSize: e.uncompressedSize,
        readable: e.canDecodeFileData(),
        entry: e,
      });
    }
  } catch (err) {
    zip.close();
    throw err;
  }
  return { entries, truncated, zip };
}

/** Reads one entry fully; rejects once more than `maxBytes` come out (whatever the header said). */
export async function readZipEntry(zip: ZipFile, info: ZipEntryInfo, maxBytes: number): Promise<Buffer> {
  const stream = await zip.openReadStreamPromise(info.entry);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > maxBytes) {
      stream.destroy();
      throw new ZipEntryTooLarge(maxBytes);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}

export class ZipEntryTooLarge extends Error {
  constructor(readonly maxBytes: number) {
    super(`entry larger than ${maxBytes} bytes`);
  }
}
