import { describe, expect, it } from 'vitest';
import { parseMessage, walkEntities, type MimeEntity } from '../../../smime/mime/parse';
import { toCanonicalCrlf } from '../../../smime/mime/canonical';
import { crlf, fixture, lf } from './helpers';

const MIXED = `From: =?UTF-8?B?5bGx55SwIOWkqumDjg==?= <taro@example.jp>
To: Bob <bob@example.org>
Subject: =?ISO-2022-JP?B?GyRCRnxLXDhsGyhC?= report
Date: Fri, 02 Jan 2026 03:04:05 +0000
Message-ID: <m1@example.jp>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

This is the preamble.

--outer
Content-Type: multipart/alternative; boundary="outer-alt"

--outer-alt
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

Gr=FC=DFe, caf=E9
--outer-alt
Content-Type: text/html; charset=utf-8

<p>hi</p>
--outer-alt--
--outer
Content-Type: application/octet-stream
Content-Disposition: attachment;
 filename*0*=utf-8''%E5%A0%B1%E5%91%8A;
 filename*1*=.pdf
Content-Transfer-Encoding: base64

AAECAwQF
--outer
Content-Type: message/rfc822

From: carol@example.net
Subject: inner

inner body
--outer--
epilogue text
`;

function byPath(root: MimeEntity, path: string): MimeEntity {
  for (const e of walkEntities(root, true)) if (e.path === path) return e;
  throw new Error(`no entity at ${path}`);
}

describe('parseMessage: structure and exact bytes', () => {
  for (const [label, bytes] of [
    ['CRLF', crlf(MIXED)],
    ['LF', lf(MIXED)],
  ] as const) {
    it(`finds every entity of a nested multipart (${label} line endings)`, () => {
      const msg = parseMessage(bytes);
      expect(msg.malformed).toBe(false);
      expect(msg.lineEndings).toBe(label.toLowerCase());
      const shape = [...walkEntities(msg.root, true)].map((e) => `${e.path}:${e.mediaType}`);
      expect(shape).toEqual([
        ':multipart/mixed',
        '1:multipart/alternative',
        '1.1:text/plain',
        '1.2:text/html',
        '2:application/octet-stream',
        '3:message/rfc822',
        '3.msg:text/plain',
      ]);
      expect(msg.root.raw()).toEqual(bytes);
    });

    it(`gives each multipart child exactly the bytes between the delimiter lines (${label})`, () => {
      const msg = parseMessage(bytes);
      const nl = label === 'CRLF' ? '\r\n' : '\n';
      const root = msg.root;
      const boundary = root.contentType.params['boundary']!;
      for (let i = 0; i + 1 < root.children.length; i++) {
        const between = msg.source.toString('latin1', root.children[i]!.end, root.children[i + 1]!.start);
        expect(between).toBe(`${nl}--${boundary}${nl}`);
      }
      expect(msg.source.toString('latin1', root.preamble!.start, root.preamble!.end)).toBe(
        `This is the preamble.${nl}`,
      );
      expect(msg.source.toString('latin1', root.epilogue!.start, root.epilogue!.end)).toBe(
        `epilogue text${nl}`,
      );
      const att = byPath(root, '2');
      expect(att.raw().toString('latin1').startsWith('Content-Type: application/octet-stream')).toBe(true);
      expect(att.bodyBytes().toString('latin1')).toBe('AAECAwQF');
    });
  }

  it('canonicalises an LF message to the same bytes as the CRLF message', () => {
    const a = parseMessage(lf(MIXED));
    const b = parseMessage(crlf(MIXED));
    expect(toCanonicalCrlf(byPath(a.root, '1').raw())).toEqual(byPath(b.root, '1').raw());
  });

  it('decodes headers for display (RFC 2047 in UTF-8 and ISO-2022-JP) and keeps the raw field', () => {
    const { root } = parseMessage(crlf(MIXED));
    expect(root.headers.getDecoded('FROM')).toBe('山田 太郎 <taro@example.jp>');
    expect(root.headers.getDecoded('subject')).toBe('日本語 report');
    const subject = root.headers.fields.find((f) => f.key === 'subject')!;
    expect(subject.raw.toString('latin1')).toBe('Subject: =?ISO-2022-JP?B?GyRCRnxLXDhsGyhC?= report\r\n');
    expect(subject.name).toBe('Subject');
  });

  it('decodes bodies: quoted-printable in Latin-1, base64, RFC 2231 file names', () => {
    const { root } = parseMessage(crlf(MIXED));
    expect(byPath(root, '1.1').text()).toBe('Grüße, café');
    expect(byPath(root, '1.2').text()).toBe('<p>hi</p>');
    const att = byPath(root, '2');
    expect(att.body()).toEqual(Buffer.from([0, 1, 2, 3, 4, 5]));
    expect(att.filename).toBe('報告.pdf');
    expect(att.disposition?.value).toBe('attachment');
  });

  it('parses a message/rfc822 part as a message of its own, keeping its bytes', () => {
    const { root } = parseMessage(crlf(MIXED));
    const fwd = byPath(root, '3');
    const inner = fwd.message!;
    expect(inner.headers.get('subject')).toBe('inner');
    expect(inner.raw()).toEqual(fwd.bodyBytes());
    expect(inner.text()).toBe('inner body');
  });

  it('decodes ISO-2022-JP bodies (Japanese mail)', () => {
    // "こんにちは" in ISO-2022-JP: ESC $ B, JIS X 0208 pairs, ESC ( B.
    const body = Buffer.from('\x1b$B$3$s$K$A$O\x1b(B', 'latin1');
    const msg = Buffer.concat([
      crlf('Content-Type: text/plain; charset=ISO-2022-JP\nContent-Transfer-Encoding: 7bit\n\n'),
      body,
    ]);
    expect(parseMessage(msg).root.text()).toBe('こんにちは');
  });

  it('decodes format=flowed text', () => {
    const msg = crlf(
      'Content-Type: text/plain; charset=utf-8; format=flowed\n\nA long line \nthat was wrapped.\n',
    );
    expect(parseMessage(msg).root.text()).toBe('A long line that was wrapped.');
  });

  it('applies MIME defaults: text/plain, 7bit, message/rfc822 inside multipart/digest', () => {
    const plain = parseMessage(crlf('Subject: x\n\nhello\n')).root;
    expect(plain.mediaType).toBe('text/plain');
    expect(plain.transferEncoding).toBe('7bit');
    const digest = parseMessage(
      crlf('Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: a\n\nA\n--d--\n'),
    ).root;
    expect(digest.children[0]!.mediaType).toBe('message/rfc822');
    expect(digest.children[0]!.message!.headers.get('subject')).toBe('a');
  });

  it('keeps a part that starts with a blank line (no headers) with an empty header section', () => {
    const { root } = parseMessage(
      crlf('Content-Type: multipart/mixed; boundary=b\n\n--b\n\nno headers\n--b--\n'),
    );
    const part = root.children[0]!;
    expect(part.headers.fields).toHaveLength(0);
    expect(part.headerBytes().length).toBe(0);
    expect(part.text()).toBe('no headers');
  });

  it('does not take a longer boundary that shares a prefix for the delimiter', () => {
    const { root, malformed } = parseMessage(
      crlf(
        'Content-Type: multipart/mixed; boundary=ab\n\n--ab\nContent-Type: multipart/mixed; boundary=abc\n\n--abc\n\nx\n--abc--\n--ab--\n',
      ),
    );
    expect(malformed).toBe(false);
    expect(root.children).toHaveLength(1);
    expect(root.children[0]!.children).toHaveLength(1);
    expect(root.children[0]!.children[0]!.text()).toBe('x');
  });

  it('parses the published RFC 4134 and RFC 9788 example messages', () => {
    for (const name of [
      'rfc4134/4.8.eml',
      'rfc4134/4.9.eml',
      'rfc4134/5.3.eml',
      'rfc9788/smime-multipart.eml',
      'rfc9788/smime-enc-signed.eml',
    ]) {
      const bytes = fixture(name);
      const msg = parseMessage(bytes);
      expect(msg.malformed, name).toBe(false);
      expect(msg.root.raw(), name).toEqual(bytes);
      expect(msg.root.headers.get('subject'), name).toBeTruthy();
    }
  });

  it('locates the signed part of the RFC 9788 multipart/signed example at its wire offsets', () => {
    const bytes = fixture('rfc9788/smime-multipart.eml');
    const { root } = parseMessage(bytes);
    const signed = root.children[0]!;
    const text = bytes.toString('latin1');
    const first = text.indexOf('--052\n') + '--052\n'.length;
    expect(signed.start).toBe(first);
    // The line break before the next delimiter belongs to the delimiter, not to the signed part.
    expect(text.slice(signed.end, signed.end + 7)).toBe('\n--052\n');
    expect(signed.headers.get('content-type')).toBe('text/plain; charset="utf-8"');
  });
});
