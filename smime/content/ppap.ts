import { check7z } from './sevenzip';
import { listZip } from './zip';

/**
 * PPAP (password-protected archive mail, SPEC §1/§7): is this attachment an encrypted archive?
 * Pure: bytes in, a verdict out. Recognised by content (magic bytes), never by the file name, so a
 * renamed archive is still found. ZIP: any entry with the encryption flag or a WinZip AES field;
 * 7z: the AES coder in the (possibly packed) header. A damaged archive is reported as `unreadable`
 * (the caller may warn as well: the org node will not be able to inspect it either).
 */
export type ArchiveEncryption =
  | { readonly state: 'encrypted'; readonly format: 'zip' | '7z'; readonly reason: string }
  | { readonly state: 'clear'; readonly format: 'zip' | '7z' }
  | { readonly state: 'unreadable'; readonly format: 'zip' | '7z'; readonly reason: string }
  | { readonly state: 'not-an-archive' };

const ZIP_LOCAL = [0x50, 0x4b, 0x03, 0x04];
const ZIP_EMPTY = [0x50, 0x4b, 0x05, 0x06];
const SEVEN_Z = [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c];

function startsWith(b: Uint8Array, magic: readonly number[]): boolean {
  return b.length >= magic.length && magic.every((v, i) => b[i] === v);
}

/** Entries listed at most (a ZIP bomb of names must not stall the send). */
const MAX_ZIP_ENTRIES = 10_000;

export async function checkArchiveEncryption(bytes: Uint8Array): Promise<ArchiveEncryption> {
  if (startsWith(bytes, ZIP_LOCAL) || startsWith(bytes, ZIP_EMPTY)) {
    let listing;
    try {
      listing = await listZip(bytes, MAX_ZIP_ENTRIES);
    } catch (err) {
      return { state: 'unreadable', format: 'zip', reason: `damaged ZIP archive (${(err as Error).message})` };
    }
    listing.zip.close();
    const locked = listing.entries.filter((e) => e.encrypted);
    if (locked.length > 0) {
      const names = locked.slice(0, 3).map((e) => e.name).join(', ');
      return {
        state: 'encrypted',
        format: 'zip',
        reason: `password-protected ZIP archive (${locked.length} encrypted ${locked.length === 1 ? 'entry' : 'entries'}: ${names}${locked.length > 3 ? ', …' : ''})`,
      };
    }
    return { state: 'clear', format: 'zip' };
  }
  if (startsWith(bytes, SEVEN_Z)) {
    const r = check7z(bytes);
    if (r.state === 'encrypted') return { state: 'encrypted', format: '7z', reason: `password-protected 7z archive (${r.what})` };
    if (r.state === 'unknown') return { state: 'unreadable', format: '7z', reason: `7z archive that cannot be read (${r.why})` };
    return { state: 'clear', format: '7z' };
  }
  return { state: 'not-an-archive' };
}
