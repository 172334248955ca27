/**
 * The MIME layer together with smime/cms and smime/keys (pure TypeScript, no OpenSSL): the bytes
 * this layer extracts verify and decrypt, and a message built here goes through the whole SSMAX
 * send/receive path with RFC 9788 header protection. RFC 9216 sample keys, RFC 9788 vectors.
 */
import { describe, expect, it } from 'vitest';
import { decryptContent, encryptContent, signData, verifySignedData } from '../../../smime/cms';
import { SoftwareSigner, softwareDecryptor } from '../../../smime/keys';
import { buildMultipartSigned, buildPkcs7Mime, type MessageHeaders } from '../../../smime/mime/build';
import {
  buildProtectedPayload,
  compareHeaders,
  extractProtectedHeaders,
} from '../../../smime/mime/header-protection';
import { parseMessage } from '../../../smime/mime/parse';
import { analyzeSmime, type MultipartSignedLayer, type Pkcs7MimeLayer } from '../../../smime/mime/smime';
import { fixture } from './helpers';

const pem = (name: string): string => fixture(`rfc9216/${name}`).toString('latin1');
const bob = () => softwareDecryptor(pem('bob.enc.key'), pem('bob.enc.crt'));

describe('MIME + CMS on the RFC 9788 vectors', () => {
  it('the canonical signed part of the multipart/signed example verifies; the raw LF bytes do not', () => {
    const layer = analyzeSmime(parseMessage(fixture('rfc9788/smime-multipart.eml')).root)
      .layers[0] as MultipartSignedLayer;
    const good = verifySignedData(layer.signature(), { detachedContent: layer.signedContent() });
    expect(good.signers.map((s) => s.status)).toEqual(['valid']);
    const bad = verifySignedData(layer.signature(), { detachedContent: layer.signedPart.raw() });
    expect(bad.signers[0]!.status).toBe('invalid');
    expect(bad.signers[0]!.reasons.map((r) => r.code)).toContain('digest-mismatch');
  });

  it('the enveloped example decrypts with Bob’s key, and the opaque signed-data inside verifies', async () => {
    const env = analyzeSmime(parseMessage(fixture('rfc9788/smime-enc-signed.eml')).root)
      .layers[0] as Pkcs7MimeLayer;
    const decrypted = await decryptContent(env.der(), bob());
    const opaque = analyzeSmime(parseMessage(Buffer.from(decrypted.content)).root)
      .layers[0] as Pkcs7MimeLayer;
    expect(opaque.smimeType).toBe('signed-data');
    const result = verifySignedData(opaque.der());
    expect(result.signers.map((s) => s.status)).toEqual(['valid']);
    const content = parseMessage(Buffer.from(result.content!));
    expect(content.root.text()).toContain('This is the smime-enc-signed message.');
  });
});

describe('SSMAX send and receive with header protection', () => {
  const headers: MessageHeaders = {
    from: { name: 'Alice Lovelace', address: 'alice@smime.example' },
    to: [{ name: 'Bob Babbage', address: 'bob@smime.example' }],
    subject: '見積書の送付について',
    date: new Date(Date.UTC(2026, 10, 23, 12, 0, 0)),
    messageId: '<pipeline-1@smime.example>',
  };

  async function send(): Promise<{ wire: Buffer; payload: Buffer }> {
    const { entity, outerHeaders } = await buildProtectedPayload(
      headers,
      {
        text: '見積書を添付します。\n',
        attachments: [{ filename: '見積書.pdf', content: Buffer.from('%PDF-1.7 quote') }],
      },
      'cipher',
    );
    const signer = new SoftwareSigner(pem('alice.sign.key'), pem('alice.sign.crt'));
    const signature = await signData({ content: entity, signers: [signer], detached: true });
    const signed = buildMultipartSigned({ signedPart: entity, signature, digest: 'SHA-256' });
    const envelope = await encryptContent({ content: signed, recipients: [bob().certificate] });
    return {
      wire: buildPkcs7Mime({ smimeType: 'authEnveloped-data', der: envelope, headers: outerHeaders }),
      payload: entity,
    };
  }

  it('decrypts, verifies over the exact payload bytes, and compares protected with outer headers', async () => {
    const { wire, payload } = await send();
    const outer = parseMessage(wire);
    expect(outer.root.headers.get('subject')).toBe('[...]');
    const env = analyzeSmime(outer.root).layers[0] as Pkcs7MimeLayer;
    expect(env.smimeType).toBe('authEnveloped-data');
    const decrypted = await decryptContent(env.der(), bob());
    expect(decrypted.kind).toBe('auth-enveloped');

    const inner = analyzeSmime(parseMessage(Buffer.from(decrypted.content)).root);
    expect(inner.coverage).toBe('complete');
    const layer = inner.layers[0] as MultipartSignedLayer;
    expect(layer.signedContent()).toEqual(payload);
    const verified = verifySignedData(layer.signature(), { detachedContent: layer.signedContent() });
    expect(verified.signers.map((s) => s.status)).toEqual(['valid']);

    const prot = extractProtectedHeaders(inner.payload!, { encrypted: true })!;
    expect(prot.envelopeMismatch).toBe(false);
    expect(prot.duplicates).toEqual([]);
    const cmp = compareHeaders(prot, outer.root.headers);
    expect(cmp.find((c) => c.name === 'Subject')).toMatchObject({
      status: 'differs',
      declaredBySender: true,
      inner: headers.subject,
    });
    expect(cmp.filter((c) => c.name !== 'Subject').every((c) => c.status === 'match')).toBe(true);
  });

  it('a signed payload wrapped with unsigned text after decryption is partial, and the signature alone still verifies', async () => {
    const { wire } = await send();
    const env = analyzeSmime(parseMessage(wire).root).layers[0] as Pkcs7MimeLayer;
    const signed = Buffer.from((await decryptContent(env.der(), bob())).content);
    // A relay (or attacker) that can re-encrypt wraps the signed entity with text of its own.
    const wrapped = Buffer.concat([
      Buffer.from(
        'Content-Type: multipart/mixed; boundary=wrap\r\n\r\n--wrap\r\nContent-Type: text/plain\r\n\r\nPlease also pay invoice 42 to account X.\r\n--wrap\r\n',
      ),
      signed,
      Buffer.from('\r\n--wrap--\r\n'),
    ]);
    const s = analyzeSmime(parseMessage(wrapped).root);
    expect(s.coverage).toBe('partial');
    expect(s.unprotectedParts.map((e) => e.text())).toEqual(['Please also pay invoice 42 to account X.']);
    const nested = s.nestedLayers[0] as MultipartSignedLayer;
    expect(
      verifySignedData(nested.signature(), { detachedContent: nested.signedContent() }).signers[0]!.status,
    ).toBe('valid');
  });
});
