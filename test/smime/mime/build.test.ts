import { describe, expect, it } from 'vitest';
import {
  base64Lines,
  buildContentEntity,
  buildMessage,
  buildMultipartSigned,
  buildPkcs7Mime,
  buildRfc822Part,
  renderHeader,
  type MessageHeaders,
} from '../../../smime/mime/build';
import { MimeBuildError } from '../../../smime/mime/errors';
import { parseMessage, walkEntities, type MimeEntity } from '../../../smime/mime/parse';
import { analyzeSmime, type MultipartSignedLayer, type Pkcs7MimeLayer } from '../../../smime/mime/smime';
import { countBareLf, toCanonicalCrlf } from '../../../smime/mime/canonical';
import { crlf, pseudoRandomBytes } from './helpers';

const headers: MessageHeaders = {
  from: { name: '山田 太郎', address: 'taro@example.jp' },
  to: ['Bob <bob@example.org>', { name: 'Ünal, Ayşe', address: 'ayse@example.de' }],
  cc: ['carol@example.net'],
  subject: '【至急】第1四半期の報告書 — please review before Friday, it is a long subject',
  date: new Date(Date.UTC(2026, 10, 23, 9, 30, 0)),
  messageId: '<20261123093000.abc@example.jp>',
};

function find(root: MimeEntity, type: string): MimeEntity[] {
  return [...walkEntities(root)].filter((e) => e.mediaType === type);
}

describe('base64Lines', () => {
  for (const size of [0, 1, 2, 3, 56, 57, 58, 114, 57 * 1024, 57 * 1024 + 1, 200_003]) {
    it(`encodes ${size} bytes in CRLF lines of at most 76 characters that decode back`, () => {
      const data = pseudoRandomBytes(size, size + 1);
      const out = base64Lines(data);
      const text = out.toString('latin1');
      if (size === 0) {
        expect(out.length).toBe(0);
        return;
      }
      expect(text.endsWith('\r\n')).toBe(true);
      const lines = text.slice(0, -2).split('\r\n');
      expect(lines.every((l) => l.length > 0 && l.length <= 76)).toBe(true);
      expect(lines.slice(0, -1).every((l) => l.length === 76)).toBe(true);
      expect(Buffer.from(text, 'base64')).toEqual(data);
      expect(lines.join('')).toBe(data.toString('base64'));
    });
  }

  it('refuses a line length that would split a base64 quantum', () => {
    expect(() => base64Lines(Buffer.from('x'), 75)).toThrow(MimeBuildError);
  });
});

describe('buildMessage (nodemailer MimeNode) round trip through parseMessage', () => {
  it('writes RFC 2047 headers, a text/html alternative, RFC 2231 file names and attachments', async () => {
    const pdf = pseudoRandomBytes(10_000, 7);
    const bytes = await buildMessage(headers, {
      text: 'こんにちは\n報告書を添付します。\n',
      html: '<p>こんにちは</p>',
      attachments: [
        { filename: '報告書 2026年 第1四半期 – final version.pdf', content: pdf },
        {
          filename: 'logo.png',
          content: Buffer.from([0x89, 0x50, 0x4e, 0x47]),
          disposition: 'inline',
          contentId: 'logo@x',
        },
      ],
    });
    expect(countBareLf(bytes)).toBe(0);
    expect(bytes.every((b) => b < 0x80)).toBe(true); // 7-bit clean: safe to sign
    const msg = parseMessage(bytes);
    expect(msg.malformed).toBe(false);
    const root = msg.root;
    expect(root.mediaType).toBe('multipart/mixed');
    expect(root.headers.getDecoded('subject')).toBe(headers.subject);
    expect(root.headers.getDecoded('from')).toBe('山田 太郎 <taro@example.jp>');
    expect(root.headers.getAddresses('to')).toEqual([
      { name: 'Bob', address: 'bob@example.org' },
      { name: 'Ünal, Ayşe', address: 'ayse@example.de' },
    ]);
    expect(root.headers.get('message-id')).toBe(headers.messageId);
    expect(new Date(root.headers.get('date')!).getTime()).toBe(headers.date.getTime());
    expect(find(root, 'text/plain')[0]!.text()).toBe('こんにちは\r\n報告書を添付します。\r\n');
    expect(find(root, 'text/html')[0]!.text()).toBe('<p>こんにちは</p>');
    const att = find(root, 'application/pdf')[0]!;
    expect(att.filename).toBe('報告書 2026年 第1四半期 – final version.pdf');
    expect(att.body()).toEqual(pdf);
    const logo = find(root, 'image/png')[0]!;
    expect(logo.disposition?.value).toBe('inline');
    expect(logo.headers.get('content-id')).toBe('<logo@x>');
  });

  it('writes a single text/plain entity when there is only text', async () => {
    const bytes = await buildMessage(headers, { text: 'hello' });
    const root = parseMessage(bytes).root;
    expect(root.mediaType).toBe('text/plain');
    // MimeNode ends the body with a line break.
    expect(root.text()).toBe('hello\r\n');
    expect(root.headers.get('mime-version')).toBe('1.0');
  });

  it('forwards a message as message/rfc822 keeping its bytes (made CRLF)', async () => {
    const original = Buffer.from(
      'From: alice@example.org\nSubject: original\nContent-Type: text/plain\n\nthe original body\n',
    );
    const bytes = await buildMessage(headers, { text: 'FYI', forwards: [{ message: original }] });
    const root = parseMessage(bytes).root;
    const fwd = find(root, 'message/rfc822')[0]!;
    expect(fwd.bodyBytes()).toEqual(toCanonicalCrlf(original));
    expect(fwd.message!.headers.get('subject')).toBe('original');
  });

  it('forwards a CRLF S/MIME message byte for byte, so its signature still verifies', async () => {
    const original = crlf(
      'From: alice@example.org\nContent-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary=b\n\n--b\nContent-Type: text/plain\n\nsigned\n--b\nContent-Type: application/pkcs7-signature\nContent-Transfer-Encoding: base64\n\nMAMCAQU=\n--b--\n',
    );
    const part = buildRfc822Part(original);
    const entity = parseMessage(part).root;
    expect(entity.bodyBytes()).toEqual(original);
    const bytes = await buildMessage(headers, { text: 'FYI', forwards: [{ message: original }] });
    const s = analyzeSmime(parseMessage(bytes).root);
    expect(s.coverage).toBe('none');
    expect(s.forwards[0]!.structure.coverage).toBe('complete');
    expect(s.forwards[0]!.entity.bodyBytes()).toEqual(original);
  });

  it('labels a forwarded message 7bit, 8bit or binary by its bytes, never re-encoding it', () => {
    const label = (m: Buffer): string => parseMessage(buildRfc822Part(m)).root.transferEncoding;
    expect(label(crlf('Subject: a\n\nascii\n'))).toBe('7bit');
    expect(label(Buffer.from('Subject: a\r\n\r\nUTF-8: 日本\r\n'))).toBe('8bit');
    expect(label(Buffer.from('Subject: a\r\n\r\nnul \0 byte\r\n'))).toBe('binary');
  });

  it('refuses header injection through a line break', () => {
    expect(() => renderHeader({ name: 'Subject', value: 'hi\r\nBcc: eve@example.com' })).toThrow(
      MimeBuildError,
    );
    expect(() => renderHeader({ name: 'Bad Name', value: 'x' })).toThrow(MimeBuildError);
  });
});

describe('S/MIME wrappers', () => {
  it('wraps signed bytes in multipart/signed without changing a byte', async () => {
    const signedPart = await buildContentEntity({ text: 'signed body\nwith two lines\n' });
    const signature = pseudoRandomBytes(1500, 3);
    const bytes = buildMultipartSigned({
      signedPart,
      signature,
      digest: 'SHA-256',
      headers: [
        { name: 'From', value: headers.from },
        { name: 'Subject', value: headers.subject! },
      ],
    });
    expect(countBareLf(bytes)).toBe(0);
    const msg = parseMessage(bytes);
    expect(msg.malformed).toBe(false);
    const s = analyzeSmime(msg.root);
    expect(s.coverage).toBe('complete');
    const layer = s.layers[0] as MultipartSignedLayer;
    expect(layer.signedContent()).toEqual(signedPart);
    expect(layer.signature()).toEqual(signature);
    expect(layer.micalg).toEqual(['SHA-256']);
    expect(msg.root.contentType.params['protocol']).toBe('application/pkcs7-signature');
    expect(msg.root.headers.getDecoded('subject')).toBe(headers.subject);
  });

  it('names every signer digest in micalg', () => {
    const bytes = buildMultipartSigned({
      signedPart: crlf('Content-Type: text/plain\n\nx'),
      signature: Buffer.from([0x30, 0]),
      digest: ['SHA-256', 'SHA-384', 'SHA-256'],
    });
    expect(parseMessage(bytes).root.contentType.params['micalg']).toBe('sha-256,sha-384');
  });

  it('refuses signed bytes that are not CRLF-canonical (they could not be what was signed)', () => {
    expect(() =>
      buildMultipartSigned({
        signedPart: Buffer.from('Content-Type: text/plain\n\nx\n'),
        signature: Buffer.from([0x30, 0]),
        digest: 'SHA-256',
      }),
    ).toThrow(MimeBuildError);
  });

  it('chooses another boundary when the signed content contains the first choice', () => {
    const signedPart = crlf('Content-Type: text/plain\n\n------=_signed_fixed\nlooks like a boundary\n');
    const bytes = buildMultipartSigned({
      signedPart,
      signature: Buffer.from([0x30, 0]),
      digest: 'SHA-256',
      options: { boundaryBase: 'fixed' },
    });
    const layer = analyzeSmime(parseMessage(bytes).root).layers[0] as MultipartSignedLayer;
    expect(layer.signedContent()).toEqual(signedPart);
    expect(parseMessage(bytes).root.contentType.params['boundary']).not.toBe('----=_signed_fixed');
  });

  it('refuses Content-Type parameters that would break out of the header', () => {
    const der = Buffer.from([0x30, 0]);
    expect(() =>
      buildPkcs7Mime({ smimeType: 'enveloped-data', der, params: { hp: 'cipher"; boundary="x' } }),
    ).toThrow(MimeBuildError);
    expect(() => buildPkcs7Mime({ smimeType: 'enveloped-data', der, params: { 'a b': 'x' } })).toThrow(
      MimeBuildError,
    );
    expect(() =>
      buildPkcs7Mime({ smimeType: 'enveloped-data', der, params: { x: 'line\r\nBcc: e@x' } }),
    ).toThrow(MimeBuildError);
    const ok = parseMessage(buildPkcs7Mime({ smimeType: 'enveloped-data', der, params: { hp: 'cipher' } }));
    expect(ok.root.contentType.params['hp']).toBe('cipher');
  });

  for (const smimeType of ['enveloped-data', 'authEnveloped-data', 'signed-data'] as const) {
    it(`wraps ${smimeType} DER in application/pkcs7-mime`, () => {
      const der = pseudoRandomBytes(4096, 11);
      const bytes = buildPkcs7Mime({ smimeType, der, headers: [{ name: 'Subject', value: '[...]' }] });
      const msg = parseMessage(bytes);
      const layer = analyzeSmime(msg.root).layers[0] as Pkcs7MimeLayer;
      expect(layer.smimeType).toBe(smimeType);
      expect(layer.der()).toEqual(der);
      expect(msg.root.filename).toBe('smime.p7m');
      const lines = msg.root.bodyBytes().toString('latin1').split('\r\n');
      expect(Math.max(...lines.map((l) => l.length))).toBe(76);
    });
  }
});
