import { describe, expect, it } from 'vitest';
import { displayedSender, sameAddress } from '../../../smime/chain/address';
import { parseMessage } from '../../../smime/mime';

const headers = (from: string) => parseMessage(Buffer.from(`${from}\r\nSubject: x\r\n\r\nbody\r\n`)).root.headers;
const codes = (from: string) => displayedSender(headers(from)).reasons.map((r) => r.code);

describe('sameAddress', () => {
  it('compares the local part exactly and the domain case-insensitively', () => {
    expect(sameAddress('hanako@A.Example', 'hanako@a.example')).toBe(true);
    expect(sameAddress('Hanako@a.example', 'hanako@a.example')).toBe(false);
    expect(sameAddress('hanako@a.example', 'hanako@a.example.evil')).toBe(false);
    expect(sameAddress('hanako', 'hanako')).toBe(false);
  });
});

describe('displayedSender', () => {
  it('accepts one plain mailbox', () => {
    const r = displayedSender(headers('From: Hanako Yamada <hanako@a.example>'));
    expect(r.reasons).toEqual([]);
    expect(r.mailbox).toEqual({ name: 'Hanako Yamada', address: 'hanako@a.example' });
  });

  it('refuses a display name that shows another address (quoted, encoded, in a comment)', () => {
    expect(codes('From: "boss@a.example" <evil@x.example>')).toEqual(['display-name-spoof']);
    expect(codes('From: =?utf-8?B?' + Buffer.from('社長 <boss@a.example>').toString('base64') + '?= <evil@x.example>')).toEqual(['display-name-spoof']);
    expect(codes('From: evil@x.example (boss@a.example)')).toEqual(['display-name-spoof']);
  });

  it('accepts a display name repeating the same address', () => {
    expect(codes('From: "hanako@A.example" <hanako@a.example>')).toEqual([]);
  });

  it('refuses several mailboxes, several From fields, groups and no address', () => {
    expect(codes('From: a@a.example, b@a.example')).toEqual(['from-ambiguous']);
    expect(codes('From: a@a.example\r\nFrom: b@a.example')).toEqual(['from-ambiguous']);
    expect(codes('From: undisclosed:;')).toEqual(['from-ambiguous']);
    expect(codes('To: a@a.example')).toEqual(['from-ambiguous']);
  });
});
