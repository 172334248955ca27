/**
 * The MIME layer against OpenSSL: the bytes we extract are the bytes OpenSSL verifies, and the
 * messages we build are accepted by OpenSSL's own S/MIME parser. Uses the RFC 9216 sample keys
 * (Alice signs, Bob decrypts) and the RFC 9788 example messages.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildMultipartSigned, buildPkcs7Mime, type MessageHeaders } from '../../../smime/mime/build';
import { compareHeaders, extractProtectedHeaders } from '../../../smime/mime/header-protection';
import { parseMessage } from '../../../smime/mime/parse';
import { analyzeSmime, type MultipartSignedLayer, type Pkcs7MimeLayer } from '../../../smime/mime/smime';
import { buildProtectedPayload } from '../../../smime/mime/header-protection';
import { fixture, fixturesDir } from './helpers';

const keys = path.join(fixturesDir, 'rfc9216');
const ca = path.join(keys, 'ca.rsa.crt');
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'ssmax-mime-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function file(name: string, bytes?: Buffer): string {
  const p = path.join(dir, name);
  if (bytes) writeFileSync(p, bytes);
  return p;
}

function openssl(args: string[]): { ok: boolean; stderr: string } {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  return { ok: r.status === 0, stderr: r.stderr };
}

/** Verify a detached signature over exactly these bytes (no MIME processing by OpenSSL). */
function verifyDetached(content: Buffer, der: Buffer): { ok: boolean; stderr: string } {
  return openssl([
    'cms',
    '-verify',
    '-binary',
    '-inform',
    'DER',
    '-in',
    file('sig.der', der),
    '-content',
    file('content.bin', content),
    '-CAfile',
    ca,
    '-out',
    file('verified.out'),
  ]);
}

function signDetached(content: Buffer): Buffer {
  execFileSync('openssl', [
    'cms',
    '-sign',
    '-binary',
    '-md',
    'sha256',
    '-in',
    file('to-sign.bin', content),
    '-signer',
    path.join(keys, 'alice.sign.crt'),
    '-inkey',
    path.join(keys, 'alice.sign.key'),
    '-outform',
    'DER',
    '-out',
    file('signed.der'),
  ]);
  return readFileSync(file('signed.der'));
}

const headers: MessageHeaders = {
  from: { name: 'Alice Lovelace', address: 'alice@smime.example' },
  to: [{ name: 'Bob Babbage', address: 'bob@smime.example' }],
  subject: '四半期報告 — header protection test',
  date: new Date(Date.UTC(2026, 10, 23, 12, 0, 0)),
  messageId: '<hp-int-1@smime.example>',
};

describe('extracted bytes are what OpenSSL verifies', () => {
  it('RFC 9788 multipart/signed (LF file): canonical signed part verifies, raw LF bytes and a flipped byte do not', () => {
    const structure = analyzeSmime(parseMessage(fixture('rfc9788/smime-multipart.eml')).root);
    const layer = structure.layers[0] as MultipartSignedLayer;
    const good = verifyDetached(layer.signedContent(), layer.signature());
    expect(good.stderr).toContain('Verification successful');
    expect(good.ok).toBe(true);
    expect(verifyDetached(layer.signedPart.raw(), layer.signature()).ok).toBe(false);
    const tampered = Buffer.from(layer.signedContent());
    const at = tampered.length - 5;
    tampered.writeUInt8(tampered.readUInt8(at) ^ 0x01, at);
    expect(verifyDetached(tampered, layer.signature()).ok).toBe(false);
  });

  it('RFC 9788 enveloped example: our DER decrypts with Bob’s key, the opaque signed-data inside verifies and parses', () => {
    const outer = analyzeSmime(parseMessage(fixture('rfc9788/smime-enc-signed.eml')).root);
    const env = outer.layers[0] as Pkcs7MimeLayer;
    expect(env.smimeType).toBe('enveloped-data');
    execFileSync('openssl', [
      'cms',
      '-decrypt',
      '-inform',
      'DER',
      '-in',
      file('env.der', env.der()),
      '-inkey',
      path.join(keys, 'bob.enc.key'),
      '-recip',
      path.join(keys, 'bob.enc.crt'),
      '-out',
      file('dec.eml'),
    ]);
    const inner = analyzeSmime(parseMessage(readFileSync(file('dec.eml'))).root);
    const opaque = inner.layers[0] as Pkcs7MimeLayer;
    expect(opaque.smimeType).toBe('signed-data');
    const r = openssl([
      'cms',
      '-verify',
      '-inform',
      'DER',
      '-in',
      file('opaque.der', opaque.der()),
      '-CAfile',
      ca,
      '-out',
      file('content.eml'),
    ]);
    expect(r.ok).toBe(true);
    const content = parseMessage(readFileSync(file('content.eml')));
    expect(content.root.text()).toContain('This is the smime-enc-signed message.');
    expect(analyzeSmime(content.root).coverage).toBe('none');
  });

  it('an OpenSSL-made multipart/signed message parses and its signed part verifies', () => {
    const text = 'Content-Type: text/plain; charset=utf-8\r\n\r\nMade by OpenSSL.\r\nSecond line.\r\n';
    execFileSync('openssl', [
      'cms',
      '-sign',
      '-in',
      file('plain.txt', Buffer.from(text)),
      '-binary',
      '-signer',
      path.join(keys, 'alice.sign.crt'),
      '-inkey',
      path.join(keys, 'alice.sign.key'),
      '-out',
      file('openssl-signed.eml'),
    ]);
    const msg = parseMessage(readFileSync(file('openssl-signed.eml')));
    const s = analyzeSmime(msg.root);
    expect(s.coverage).toBe('complete');
    const layer = s.layers[0] as MultipartSignedLayer;
    expect(layer.signedContent().toString()).toBe(text);
    expect(verifyDetached(layer.signedContent(), layer.signature()).ok).toBe(true);
  });
});

describe('messages we build are accepted by OpenSSL', () => {
  it('signed-only with hp="clear": OpenSSL verifies our multipart/signed and the headers compare as matching', async () => {
    const { entity, outerHeaders } = await buildProtectedPayload(
      headers,
      {
        text: 'Signed body.\n',
        attachments: [{ filename: '報告書.pdf', content: Buffer.from('%PDF-1.7\n') }],
      },
      'clear',
    );
    const signature = signDetached(entity);
    const message = buildMultipartSigned({
      signedPart: entity,
      signature,
      digest: 'SHA-256',
      headers: outerHeaders,
    });
    const r = openssl([
      'cms',
      '-verify',
      '-in',
      file('clear.eml', message),
      '-CAfile',
      ca,
      '-out',
      file('clear.out'),
    ]);
    expect(r.stderr).toContain('Verification successful');
    expect(r.ok).toBe(true);

    const parsed = parseMessage(message);
    const layer = analyzeSmime(parsed.root).layers[0] as MultipartSignedLayer;
    expect(layer.signedContent()).toEqual(entity);
    const prot = extractProtectedHeaders(layer.signedPart)!;
    expect(compareHeaders(prot, parsed.root.headers).every((c) => c.status === 'match')).toBe(true);
  });

  it('signed and encrypted with hp="cipher": AES-256-GCM authEnveloped-data decrypts in OpenSSL, the signature verifies, Subject obscured outside only', async () => {
    const { entity, outerHeaders } = await buildProtectedPayload(
      headers,
      { text: '機密の本文。\n' },
      'cipher',
    );
    const signed = buildMultipartSigned({
      signedPart: entity,
      signature: signDetached(entity),
      digest: 'SHA-256',
    });
    execFileSync('openssl', [
      'cms',
      '-encrypt',
      '-binary',
      '-aes-256-gcm',
      '-in',
      file('signed.eml', signed),
      '-outform',
      'DER',
      '-out',
      file('auth.der'),
      path.join(keys, 'bob.enc.crt'),
    ]);
    const message = buildPkcs7Mime({
      smimeType: 'authEnveloped-data',
      der: readFileSync(file('auth.der')),
      headers: outerHeaders,
    });
    writeFileSync(file('cipher.eml'), message);

    // OpenSSL's own S/MIME reader takes our wrapper.
    const dec = openssl([
      'cms',
      '-decrypt',
      '-in',
      file('cipher.eml'),
      '-inkey',
      path.join(keys, 'bob.enc.key'),
      '-recip',
      path.join(keys, 'bob.enc.crt'),
      '-out',
      file('decrypted.eml'),
    ]);
    expect(dec.ok).toBe(true);
    const decrypted = readFileSync(file('decrypted.eml'));
    expect(decrypted).toEqual(signed);

    const outer = parseMessage(message);
    expect(outer.root.headers.get('subject')).toBe('[...]');
    expect((analyzeSmime(outer.root).layers[0] as Pkcs7MimeLayer).smimeType).toBe('authEnveloped-data');
    const inner = analyzeSmime(parseMessage(decrypted).root);
    const layer = inner.layers[0] as MultipartSignedLayer;
    expect(verifyDetached(layer.signedContent(), layer.signature()).ok).toBe(true);
    const prot = extractProtectedHeaders(layer.signedPart)!;
    expect(prot.mode).toBe('cipher');
    const result = compareHeaders(prot, outer.root.headers);
    expect(result.find((c) => c.name === 'Subject')).toMatchObject({
      status: 'differs',
      declaredBySender: true,
      inner: headers.subject,
      outer: '[...]',
    });
    expect(
      result
        .filter((c) => c.name !== 'Subject')
        .every((c) => c.status === 'match' && c.declaredBySender === true),
    ).toBe(true);
  });
});
