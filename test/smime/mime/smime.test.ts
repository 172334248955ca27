import { describe, expect, it } from 'vitest';
import { parseMessage } from '../../../smime/mime/parse';
import {
  analyzeSmime,
  micalgFor,
  parseMicalg,
  type MultipartSignedLayer,
  type Pkcs7MimeLayer,
} from '../../../smime/mime/smime';
import { countBareLf, toCanonicalCrlf } from '../../../smime/mime/canonical';
import { crlf, fixture } from './helpers';

/** Length of a DER TLV from its header, to check that a decoded blob is one complete DER object. */
function derLength(der: Buffer): number {
  const first = der[1]!;
  if (first < 0x80) return 2 + first;
  const n = first & 0x7f;
  let len = 0;
  for (let i = 0; i < n; i++) len = len * 256 + der[2 + i]!;
  return 2 + n + len;
}

const SIG_B64 = Buffer.from([0x30, 0x03, 0x02, 0x01, 0x05]).toString('base64'); // a tiny DER SEQUENCE

const signedPart = `Content-Type: text/plain; charset=utf-8

signed text
`;
const multipartSigned = (
  boundary: string,
  extra = '',
): string => `Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="${boundary}"

--${boundary}
${signedPart}
--${boundary}
Content-Type: application/pkcs7-signature; name=smime.p7s
Content-Transfer-Encoding: base64

${SIG_B64}
${extra}--${boundary}--
`;

describe('analyzeSmime: S/MIME structures', () => {
  it('recognises the RFC 9788 multipart/signed example: signed bytes canonical, signature DER', () => {
    const bytes = fixture('rfc9788/smime-multipart.eml');
    const structure = analyzeSmime(parseMessage(bytes).root);
    expect(structure.coverage).toBe('complete');
    expect(structure.layers).toHaveLength(1);
    const layer = structure.layers[0] as MultipartSignedLayer;
    expect(layer.kind).toBe('multipart-signed');
    expect(layer.micalg).toEqual(['SHA-256']);
    const content = layer.signedContent();
    // The file has LF line endings; the signed content must come out as CRLF.
    expect(countBareLf(bytes)).toBeGreaterThan(0);
    expect(countBareLf(content)).toBe(0);
    expect(content).toEqual(toCanonicalCrlf(layer.signedPart.raw()));
    const der = layer.signature();
    expect(der[0]).toBe(0x30);
    expect(derLength(der)).toBe(der.length);
    expect(structure.payload).toBe(layer.signedPart);
    expect(structure.unprotectedParts).toHaveLength(0);
  });

  it('recognises the RFC 9788 enveloped example as an opaque enveloped-data layer', () => {
    const structure = analyzeSmime(parseMessage(fixture('rfc9788/smime-enc-signed.eml')).root);
    expect(structure.coverage).toBe('complete');
    const layer = structure.layers[0] as Pkcs7MimeLayer;
    expect(layer.kind).toBe('pkcs7-mime');
    expect(layer.smimeType).toBe('enveloped-data');
    const der = layer.der();
    expect(derLength(der)).toBe(der.length);
    expect(structure.payload).toBeUndefined();
  });

  it('recognises RFC 4134 examples (multipart/signed with micalg SHA1, enveloped-data)', () => {
    const signed = analyzeSmime(parseMessage(fixture('rfc4134/4.8.eml')).root);
    expect(signed.layers[0]?.kind).toBe('multipart-signed');
    expect((signed.layers[0] as MultipartSignedLayer).micalg).toEqual(['SHA-1']);
    const env = analyzeSmime(parseMessage(fixture('rfc4134/5.3.eml')).root);
    expect((env.layers[0] as Pkcs7MimeLayer).smimeType).toBe('enveloped-data');
  });

  it('knows authEnveloped-data, signed-data, and the legacy x- types', () => {
    for (const [ct, type] of [
      ['application/pkcs7-mime; smime-type=authEnveloped-data', 'authEnveloped-data'],
      ['application/x-pkcs7-mime; smime-type=signed-data', 'signed-data'],
      ['application/pkcs7-mime', undefined],
    ] as const) {
      const s = analyzeSmime(
        parseMessage(crlf(`Content-Type: ${ct}\nContent-Transfer-Encoding: base64\n\n${SIG_B64}\n`)).root,
      );
      expect(s.coverage).toBe('complete');
      expect((s.layers[0] as Pkcs7MimeLayer).smimeType).toBe(type);
      expect((s.layers[0] as Pkcs7MimeLayer).der()).toEqual(Buffer.from(SIG_B64, 'base64'));
    }
  });

  it('reports unsigned text around a signed part as partial, listing the unsigned part', () => {
    const msg = `Content-Type: multipart/mixed; boundary=wrap

--wrap
Content-Type: text/plain

URGENT: please pay the invoice to the new account.
--wrap
${multipartSigned('sig')}
--wrap--
`;
    const s = analyzeSmime(parseMessage(crlf(msg)).root);
    expect(s.coverage).toBe('partial');
    expect(s.layers).toHaveLength(0);
    expect(s.nestedLayers).toHaveLength(1);
    expect(s.unprotectedParts.map((e) => e.path)).toEqual(['1']);
    expect(s.findings.map((f) => f.code)).toContain('signed-part-inside-unsigned-content');
  });

  it('reports a signed part inside an unsigned wrapper as partial even with nothing else in it', () => {
    const msg = `Content-Type: multipart/mixed; boundary=wrap

--wrap
${multipartSigned('sig')}
--wrap--
`;
    const s = analyzeSmime(parseMessage(crlf(msg)).root);
    expect(s.coverage).toBe('partial');
    expect(s.unprotectedParts).toHaveLength(0);
  });

  it('reports a third part appended to multipart/signed as unsigned', () => {
    const extra = `--sig
Content-Type: text/plain

appended by an attacker
`;
    const s = analyzeSmime(parseMessage(crlf(multipartSigned('sig', extra))).root);
    expect(s.layers).toHaveLength(1);
    expect(s.coverage).toBe('partial');
    expect(s.unprotectedParts.map((e) => e.text())).toEqual(['appended by an attacker']);
    expect(s.findings.map((f) => f.code)).toContain('unsigned-part-in-multipart-signed');
  });

  it('does not treat a non-S/MIME multipart/signed (PGP) as a layer', () => {
    const msg = multipartSigned('sig').replace('application/pkcs7-signature"', 'application/pgp-signature"');
    const s = analyzeSmime(parseMessage(crlf(msg)).root);
    expect(s.coverage).toBe('none');
    expect(s.findings.map((f) => f.code)).toContain('unsupported-signature-protocol');
  });

  it('says none for plain mail', () => {
    const s = analyzeSmime(parseMessage(crlf('Subject: hi\n\nhello\n')).root);
    expect(s.coverage).toBe('none');
    expect(s.layers).toHaveLength(0);
  });

  it('follows nested signing (multipart/signed inside multipart/signed) to the innermost payload', () => {
    const inner = multipartSigned('in');
    const outer = `Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg="sha-256,sha-384"; boundary=out

--out
${inner}
--out
Content-Type: application/pkcs7-signature
Content-Transfer-Encoding: base64

${SIG_B64}
--out--
`;
    const s = analyzeSmime(parseMessage(crlf(outer)).root);
    expect(s.layers.map((l) => l.kind)).toEqual(['multipart-signed', 'multipart-signed']);
    expect((s.layers[0] as MultipartSignedLayer).micalg).toEqual(['SHA-256', 'SHA-384']);
    expect(s.payload?.mediaType).toBe('text/plain');
    expect(s.coverage).toBe('complete');
  });

  it('analyses a forwarded signed message on its own, inside the forwarder’s signed payload', () => {
    const forwarded = multipartSigned('orig');
    const payload = `Content-Type: multipart/mixed; boundary=mix

--mix
Content-Type: text/plain

see below
--mix
Content-Type: message/rfc822

From: alice@example.org
${forwarded}
--mix--
`;
    const msg = `Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary=fw

--fw
${payload}
--fw
Content-Type: application/pkcs7-signature
Content-Transfer-Encoding: base64

${SIG_B64}
--fw--
`;
    const s = analyzeSmime(parseMessage(crlf(msg)).root);
    expect(s.coverage).toBe('complete');
    expect(s.forwards).toHaveLength(1);
    expect(s.forwards[0]!.structure.coverage).toBe('complete');
    expect(s.forwards[0]!.structure.layers[0]!.kind).toBe('multipart-signed');
    expect(s.forwards[0]!.entity.path).toBe('1.2');
  });

  it('takes a message/rfc822 forwarded="no" payload as the wrapped message itself, not as a forward', () => {
    const wrapped = (
      param: string,
    ): string => `Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary=w

--w
Content-Type: message/rfc822${param}

From: alice@example.org
Subject: the real subject

body
--w
Content-Type: application/pkcs7-signature
Content-Transfer-Encoding: base64

${SIG_B64}
--w--
`;
    const s = analyzeSmime(parseMessage(crlf(wrapped('; forwarded="no"'))).root);
    expect(s.findings.map((f) => f.code)).toContain('wrapped-message');
    expect(s.payload?.headers.get('subject')).toBe('the real subject');
    expect(s.forwards).toHaveLength(0);
    // Without the marker it is a forward the signer attached.
    const f = analyzeSmime(parseMessage(crlf(wrapped(''))).root);
    expect(f.payload?.mediaType).toBe('message/rfc822');
    expect(f.forwards).toHaveLength(1);
  });

  it('flags multipart/signed without a signature part as malformed, not signed', () => {
    const msg = `Content-Type: multipart/signed; protocol="application/pkcs7-signature"; boundary=s

--s
Content-Type: text/plain

only content
--s--
`;
    const s = analyzeSmime(parseMessage(crlf(msg)).root);
    expect(s.coverage).toBe('none');
    expect(s.findings.map((f) => f.code)).toContain('malformed-multipart-signed');
  });

  it('maps micalg names both ways', () => {
    expect(parseMicalg('SHA-256, sha1, md5, sha-512')).toEqual(['SHA-256', 'SHA-1', 'SHA-512']);
    expect(micalgFor('SHA-384')).toBe('sha-384');
  });
});
