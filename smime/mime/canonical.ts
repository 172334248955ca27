/**
 * Canonical line endings for signature checking (RFC 8551 §3.1.1, RFC 5751): the signed part of
 * multipart/signed is hashed over its exact bytes with CRLF line endings. Messages stored as files
 * often arrive with bare LF; those must be turned into CRLF, while a message that already uses CRLF
 * must come back byte-for-byte unchanged (same Buffer, no copy) so nothing can shift the hash.
 */

const LF = 0x0a;
const CR = 0x0d;

/** Number of LF bytes not preceded by CR. */
export function countBareLf(bytes: Uint8Array): number {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let count = 0;
  let at = buf.indexOf(LF);
  while (at !== -1) {
    if (at === 0 || buf[at - 1] !== CR) count++;
    at = buf.indexOf(LF, at + 1);
  }
  return count;
}

/** Line-ending style of a byte range, as reported to callers (diagnostics, defect flags). */
export type LineEndingStyle = 'crlf' | 'lf' | 'mixed' | 'none';

export function lineEndingStyle(bytes: Uint8Array): LineEndingStyle {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let crlf = 0;
  let bare = 0;
  let at = buf.indexOf(LF);
  while (at !== -1) {
    if (at > 0 && buf[at - 1] === CR) crlf++;
    else bare++;
    if (crlf > 0 && bare > 0) return 'mixed';
    at = buf.indexOf(LF, at + 1);
  }
  if (crlf > 0) return 'crlf';
  if (bare > 0) return 'lf';
  return 'none';
}

/**
 * CRLF-canonical form of `bytes`: every bare LF becomes CRLF; existing CRLF pairs and every other
 * byte (including a lone CR) are left alone. Returns the input itself when it is already canonical.
 * One pass to count, one allocation, block copies: linear and cheap for 25 MB bodies.
 */
export function toCanonicalCrlf(bytes: Buffer): Buffer {
  const bare = countBareLf(bytes);
  if (bare === 0) return bytes;
  const out = Buffer.allocUnsafe(bytes.length + bare);
  let from = 0;
  let to = 0;
  let at = bytes.indexOf(LF);
  while (at !== -1) {
    if (at === 0 || bytes[at - 1] !== CR) {
      to += bytes.copy(out, to, from, at);
      out[to++] = CR;
      out[to++] = LF;
      from = at + 1;
    }
    at = bytes.indexOf(LF, at + 1);
  }
  to += bytes.copy(out, to, from, bytes.length);
  return out.subarray(0, to);
}
