/**
 * SPEC §9: malformed MIME, absurd nesting, oversize input → a typed error or a best-effort parse
 * flagged as malformed; never a crash, never a hang.
 */
import { describe, expect, it } from 'vitest';
import { SmimeError } from '../../../smime/errors';
import { MimeEncodingError, MimeError, MimeLimitError, MimeNestingError } from '../../../smime/mime/errors';
import { parseMessage, walkEntities, type MimeMessage } from '../../../smime/mime/parse';
import { analyzeSmime, type MultipartSignedLayer, type Pkcs7MimeLayer } from '../../../smime/mime/smime';
import { base64Lines, buildMessage, buildMultipartSigned, buildPkcs7Mime } from '../../../smime/mime/build';
import { crlf, peakRssMiB, pseudoRandomBytes } from './helpers';

function nestedMultipart(levels: number): Buffer {
  let body = 'Content-Type: text/plain\r\n\r\ninnermost\r\n';
  for (let i = levels; i > 0; i--) {
    body = `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n${body}\r\n--b${i}--\r\n`;
  }
  return Buffer.from(body);
}

function nestedRfc822(levels: number): Buffer {
  let body = 'Subject: innermost\r\n\r\nx\r\n';
  for (let i = 0; i < levels; i++)
    body = `Subject: level ${i}\r\nContent-Type: message/rfc822\r\n\r\n${body}`;
  return Buffer.from(body);
}

/** Parsing must either succeed or fail with a MimeError; anything else is a crash. */
function parseSafely(bytes: Buffer): MimeMessage | MimeError {
  try {
    const msg = parseMessage(bytes);
    analyzeSmime(msg.root);
    for (const e of walkEntities(msg.root, true)) {
      try {
        e.text();
      } catch (err) {
        if (!(err instanceof MimeError)) throw err;
      }
    }
    return msg;
  } catch (err) {
    if (err instanceof MimeError) return err;
    throw err;
  }
}

describe('nesting limits', () => {
  it('parses 32 levels of multipart and refuses 33 with MimeNestingError', () => {
    const ok = parseMessage(nestedMultipart(32)); // 32 multipart levels (depths 0–31), the text leaf at depth 32
    const leaf = [...walkEntities(ok.root)].at(-1)!;
    expect(leaf.depth).toBe(32);
    expect(leaf.text()).toBe('innermost\r\n');
    expect(() => parseMessage(nestedMultipart(33))).toThrow(MimeNestingError);
  });

  it('refuses a generated 10,000-level message quickly with a typed error', () => {
    const bytes = nestedMultipart(10_000);
    const t0 = performance.now();
    let error: unknown;
    try {
      parseMessage(bytes);
    } catch (e) {
      error = e;
    }
    console.log(
      `10,000-level nesting (${(bytes.length / 1e6).toFixed(1)} MB) refused in ${(performance.now() - t0).toFixed(0)} ms`,
    );
    expect(error).toBeInstanceOf(MimeNestingError);
    expect((error as MimeNestingError).limit).toBe('depth');
    expect(error).toBeInstanceOf(SmimeError);
    expect((error as MimeNestingError).userMessage).toMatch(/nested more than 32 levels/);
    expect((error as MimeNestingError).name).toBe('MimeNestingError');
  });

  it('counts message/rfc822 nesting too', () => {
    expect(parseMessage(nestedRfc822(32)).root.message).toBeDefined();
    expect(() => parseMessage(nestedRfc822(33))).toThrow(MimeNestingError);
  });

  it('honours a custom depth limit', () => {
    expect(() => parseMessage(nestedMultipart(5), { maxDepth: 4 })).toThrow(MimeNestingError);
  });
});

describe('size limits', () => {
  it('refuses an oversize header section', () => {
    const big = Buffer.from(`Subject: ${'x'.repeat(300 * 1024)}\r\n\r\nbody`);
    expect(() => parseMessage(big)).toThrow(MimeLimitError);
    try {
      parseMessage(big);
    } catch (e) {
      expect((e as MimeLimitError).limit).toBe('header-size');
    }
  });

  it('refuses too many header fields', () => {
    const many = Buffer.from('X-A: 1\r\n'.repeat(3000) + '\r\nbody');
    expect(() => parseMessage(many)).toThrow(expect.objectContaining({ limit: 'header-count' }));
  });

  it('refuses too many parts', () => {
    const parts = '--b\r\nContent-Type: text/plain\r\n\r\nx\r\n'.repeat(10_001);
    const msg = Buffer.from(`Content-Type: multipart/mixed; boundary=b\r\n\r\n${parts}--b--\r\n`);
    expect(() => parseMessage(msg)).toThrow(expect.objectContaining({ limit: 'part-count' }));
  });

  it('refuses a message above the size limit', () => {
    expect(() => parseMessage(Buffer.alloc(2048, 0x41), { maxMessageBytes: 1024 })).toThrow(
      expect.objectContaining({ limit: 'message-size' }),
    );
  });
});

describe('malformed structure: best effort, flagged', () => {
  const cases: Array<[string, string, string]> = [
    [
      'missing boundary parameter',
      'Content-Type: multipart/mixed\n\n--x\n\nbody\n--x--\n',
      'missing-boundary-parameter',
    ],
    [
      'boundary never occurs',
      'Content-Type: multipart/mixed; boundary=zz\n\n--x\n\nbody\n--x--\n',
      'boundary-not-found',
    ],
    [
      'no closing delimiter',
      'Content-Type: multipart/mixed; boundary=b\n\n--b\n\nfirst\n--b\n\nsecond, truncated',
      'missing-close-delimiter',
    ],
    [
      'no blank line after the headers',
      'Subject: x\nthis is not a header\nmore body\n',
      'missing-header-separator',
    ],
    [
      'two Content-Type headers',
      'Content-Type: text/plain\nContent-Type: text/html\n\n<b>x</b>\n',
      'duplicate-content-type',
    ],
    ['invalid Content-Type', 'Content-Type: garbage\n\nx\n', 'invalid-content-type'],
    [
      'base64-encoded multipart',
      'Content-Type: multipart/mixed; boundary=b\nContent-Transfer-Encoding: base64\n\nLS1i\n',
      'encoded-multipart',
    ],
    [
      'unknown transfer encoding',
      'Content-Transfer-Encoding: x-uuencode\n\nbegin 644 x\n',
      'unknown-transfer-encoding',
    ],
    ['multipart without parts', 'Content-Type: multipart/mixed; boundary=b\n\n--b--\n', 'no-parts'],
    ['mixed line endings', 'Subject: x\r\nFrom: y\n\nbody\r\n', 'mixed-line-endings'],
  ];
  for (const [label, text, code] of cases) {
    it(`flags ${label}`, () => {
      const msg = parseMessage(label === 'mixed line endings' ? Buffer.from(text) : crlf(text));
      expect(msg.malformed).toBe(true);
      expect(msg.defects.map((d) => d.code)).toContain(code);
    });
  }

  it('skips an mbox "From " line at the start and reports it', () => {
    const msg = parseMessage(
      crlf('From alice@example.org Mon Nov 23 10:00:00 2026\nSubject: saved from mbox\n\nbody\n'),
    );
    expect(msg.defects.map((d) => d.code)).toEqual(['mbox-from-line']);
    expect(msg.root.headers.get('subject')).toBe('saved from mbox');
    expect(msg.root.text()).toBe('body\r\n');
  });

  it('keeps the parts it could find when the closing delimiter is missing', () => {
    const msg = parseMessage(
      crlf('Content-Type: multipart/mixed; boundary=b\n\n--b\n\nfirst\n--b\n\nsecond, truncated'),
    );
    expect(msg.root.children.map((c) => c.text())).toEqual(['first', 'second, truncated']);
  });

  it('keeps non-UTF-8 header bytes as Latin-1 and flags them', () => {
    const bytes = Buffer.concat([
      Buffer.from('Subject: caf'),
      Buffer.from([0xe9, 0x20, 0x81]),
      Buffer.from('\r\n\r\nx'),
    ]);
    const msg = parseMessage(bytes);
    expect(msg.defects.map((d) => d.code)).toContain('non-utf8-header');
    expect(msg.root.headers.get('subject')).toBe('café \u0081');
    expect(msg.root.headers.fields[0]!.raw).toEqual(bytes.subarray(0, bytes.indexOf('\r\n\r\n') + 2));
  });

  it('accepts UTF-8 headers (RFC 6532) without a defect', () => {
    const msg = parseMessage(Buffer.from('Subject: 日本語\r\n\r\nx'));
    expect(msg.malformed).toBe(false);
    expect(msg.root.headers.get('subject')).toBe('日本語');
  });

  it('rejects a damaged base64 signature with MimeEncodingError', () => {
    const msg = parseMessage(
      crlf(
        'Content-Type: application/pkcs7-mime; smime-type=signed-data\nContent-Transfer-Encoding: base64\n\nMIIB*garbage*\n',
      ),
    );
    const layer = analyzeSmime(msg.root).layers[0] as Pkcs7MimeLayer;
    expect(() => layer.der()).toThrow(MimeEncodingError);
  });

  it('rejects base64 with a Latin-1 no-break space in it', () => {
    const bytes = Buffer.concat([
      crlf('Content-Transfer-Encoding: base64\n\nMAMC'),
      Buffer.from([0xa0]),
      Buffer.from('AQU=\r\n'),
    ]);
    expect(() => parseMessage(bytes).root.body()).toThrow(MimeEncodingError);
  });

  it('does not let an encoded display name forge a second address', () => {
    const msg = parseMessage(crlf('From: "=?UTF-8?Q?ceo=40corp.example=2C_?=" <attacker@evil.example>\n\nx'));
    expect(msg.root.headers.getAddresses('from')).toEqual([
      { name: 'ceo@corp.example,', address: 'attacker@evil.example' },
    ]);
  });
});

describe('hostile and random input never crashes', () => {
  const sample = crlf(`From: a@example.org
Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary=s

--s
Content-Type: multipart/mixed; boundary=m

--m
Content-Type: text/plain; charset=iso-2022-jp
Content-Transfer-Encoding: quoted-printable

=1B$B$3$s=1B(B
--m
Content-Type: message/rfc822
Content-Transfer-Encoding: base64

U3ViamVjdDogaW5uZXINCg0KeA0K
--m--
--s
Content-Type: application/pkcs7-signature
Content-Transfer-Encoding: base64

MAMCAQU=
--s--
`);

  it('survives every truncation of a nested S/MIME message', () => {
    for (let n = 0; n <= sample.length; n++) {
      const r = parseSafely(sample.subarray(0, n));
      expect(r === undefined).toBe(false);
    }
  });

  it('survives 2,000 deterministic random mutations', () => {
    const noise = pseudoRandomBytes(2000 * 3, 99);
    for (let i = 0; i < 2000; i++) {
      const copy = Buffer.from(sample);
      const at = (noise.readUInt16LE((i * 3) % (noise.length - 2)) * 7) % copy.length;
      copy[at] = noise[i * 3 + 2]!;
      parseSafely(copy);
    }
  });

  it('survives random bytes', () => {
    for (let seed = 1; seed <= 50; seed++) parseSafely(pseudoRandomBytes(4096, seed));
  });

  it('scans pathological near-boundaries in linear time', () => {
    const junk = '--bx\r\n'.repeat(400_000); // 2.4 MB of lines that start like the boundary
    const bytes = Buffer.from(
      `Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n${junk}\r\n--b--\r\n`,
    );
    const t0 = performance.now();
    const msg = parseMessage(bytes);
    console.log(
      `near-boundary scan of ${(bytes.length / 1e6).toFixed(1)} MB: ${(performance.now() - t0).toFixed(0)} ms`,
    );
    expect(msg.root.children).toHaveLength(1);
  });
});

describe('25 MB attachment: build → parse with exact bytes', () => {
  it('round-trips through MimeNode, multipart/signed and pkcs7-mime and reports speed and peak RSS', async () => {
    const size = 25 * 1024 * 1024;
    const attachment = pseudoRandomBytes(size, 25);
    const mb = size / 1e6;

    let t0 = performance.now();
    const encoded = base64Lines(attachment);
    const base64Ms = performance.now() - t0;
    expect(encoded.length).toBe(Math.ceil(size / 3) * 4 + Math.ceil((Math.ceil(size / 3) * 4) / 76) * 2);

    t0 = performance.now();
    const message = await buildMessage(
      {
        from: 'a@example.org',
        to: ['b@example.org'],
        subject: 'big',
        date: new Date(0),
        messageId: '<big@example.org>',
      },
      { text: 'see attachment', attachments: [{ filename: 'big.bin', content: attachment }] },
    );
    const buildMs = performance.now() - t0;

    t0 = performance.now();
    const parsed = parseMessage(message);
    const att = [...walkEntities(parsed.root)].find((e) => e.filename === 'big.bin')!;
    const decoded = att.body();
    const parseMs = performance.now() - t0;
    expect(decoded.equals(attachment)).toBe(true);

    // The whole message becomes the signed part: it must come back byte for byte.
    t0 = performance.now();
    const signed = buildMultipartSigned({
      signedPart: message,
      signature: pseudoRandomBytes(2000, 2),
      digest: 'SHA-256',
    });
    const layer = analyzeSmime(parseMessage(signed).root).layers[0] as MultipartSignedLayer;
    const signedContent = layer.signedContent();
    const signedMs = performance.now() - t0;
    expect(signedContent.equals(message)).toBe(true);

    // And an opaque wrapper around ~34 MB of "DER" (the enveloped form of the above).
    t0 = performance.now();
    const p7 = buildPkcs7Mime({ smimeType: 'authEnveloped-data', der: signed });
    const der = (analyzeSmime(parseMessage(p7).root).layers[0] as Pkcs7MimeLayer).der();
    const p7Ms = performance.now() - t0;
    expect(der.equals(signed)).toBe(true);

    const rate = (bytes: number, ms: number): string => `${(bytes / 1e6 / (ms / 1000)).toFixed(0)} MB/s`;
    console.log(
      [
        `25 MB attachment (${mb.toFixed(1)} MB):`,
        `  base64Lines        ${base64Ms.toFixed(0)} ms  ${rate(size, base64Ms)}`,
        `  buildMessage       ${buildMs.toFixed(0)} ms  ${rate(size, buildMs)} (MimeNode)`,
        `  parse + decode     ${parseMs.toFixed(0)} ms  ${rate(message.length, parseMs)}`,
        `  multipart/signed   ${signedMs.toFixed(0)} ms  build + parse + canonical bytes of ${(message.length / 1e6).toFixed(1)} MB`,
        `  pkcs7-mime         ${p7Ms.toFixed(0)} ms  build + parse + decode of ${(signed.length / 1e6).toFixed(1)} MB`,
        `  peak RSS           ${peakRssMiB()} MiB`,
      ].join('\n'),
    );
  }, 120_000);
});
