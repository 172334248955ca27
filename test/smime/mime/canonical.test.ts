import { describe, expect, it } from 'vitest';
import { countBareLf, lineEndingStyle, toCanonicalCrlf } from '../../../smime/mime/canonical';

describe('CRLF canonicalisation for signature checking', () => {
  it('turns bare LF into CRLF', () => {
    expect(toCanonicalCrlf(Buffer.from('a\nb\n\nc')).toString()).toBe('a\r\nb\r\n\r\nc');
  });

  it('returns a CRLF message unchanged, as the very same buffer', () => {
    const input = Buffer.from('Content-Type: text/plain\r\n\r\nbody\r\n');
    const out = toCanonicalCrlf(input);
    expect(out).toBe(input);
  });

  it('fixes only the bare LFs of mixed input and leaves a lone CR alone', () => {
    expect(toCanonicalCrlf(Buffer.from('a\r\nb\nc\rd\n')).toString()).toBe('a\r\nb\r\nc\rd\r\n');
  });

  it('handles a leading LF and empty input', () => {
    expect(toCanonicalCrlf(Buffer.from('\nx')).toString()).toBe('\r\nx');
    expect(toCanonicalCrlf(Buffer.alloc(0)).length).toBe(0);
  });

  it('is idempotent', () => {
    const once = toCanonicalCrlf(Buffer.from('x\ny\r\nz\n'));
    expect(toCanonicalCrlf(once)).toBe(once);
  });

  it('counts bare LFs and names the line-ending style', () => {
    expect(countBareLf(Buffer.from('a\nb\r\nc\n'))).toBe(2);
    expect(lineEndingStyle(Buffer.from('a\r\nb\r\n'))).toBe('crlf');
    expect(lineEndingStyle(Buffer.from('a\nb\n'))).toBe('lf');
    expect(lineEndingStyle(Buffer.from('a\r\nb\n'))).toBe('mixed');
    expect(lineEndingStyle(Buffer.from('ab'))).toBe('none');
  });
});
