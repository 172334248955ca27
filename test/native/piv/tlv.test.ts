import { describe, expect, it } from 'vitest';
import { TlvError, findTlv, fromHex, parseTlvs, readTlv, tlv, toHex } from '../../../native/piv/tlv';

describe('BER-TLV as PIV uses it', () => {
  it('encodes short, 81 and 82 lengths and multi-byte tags', () => {
    expect(toHex(tlv(0x53, new Uint8Array(3)))).toBe('5303000000');
    expect(toHex(tlv(0x70, new Uint8Array(200))).slice(0, 6)).toBe('7081c8');
    expect(toHex(tlv(0x70, new Uint8Array(300))).slice(0, 8)).toBe('7082012c');
    expect(toHex(tlv(0x7f49, tlv(0x86, Uint8Array.of(4))))).toBe('7f4903860104');
    expect(toHex(tlv(0x5fc10a))).toBe('5fc10a00');
  });

  it('reads back what it writes, including nested templates', () => {
    const bytes = tlv(0x7c, tlv(0x82), tlv(0x81, new Uint8Array(256).fill(7)));
    const outer = readTlv(bytes).tlv;
    expect(outer.tag).toBe(0x7c);
    const inner = parseTlvs(outer.value);
    expect(inner.map((t) => t.tag)).toEqual([0x82, 0x81]);
    expect(findTlv(outer.value, 0x81)?.length).toBe(256);
    expect(parseTlvs(fromHex('5fc1020130')).map((t) => t.tag)).toEqual([0x5fc102]);
  });

  it('rejects truncated input instead of reading past the end', () => {
    expect(() => readTlv(fromHex('530a0102'))).toThrow(TlvError);
    expect(() => readTlv(fromHex('5382'))).toThrow(TlvError);
    expect(() => readTlv(fromHex('5384000000010000'))).toThrow(TlvError);
  });
});
