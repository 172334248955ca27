import { describe, expect, it } from 'vitest';
import {
  buildMultipartSigned,
  buildPkcs7Mime,
  type HeaderInput,
  type MessageHeaders,
} from '../../../smime/mime/build';
import {
  buildProtectedPayload,
  compareHeaders,
  extractProtectedHeaders,
  OBSCURED_SUBJECT,
  type HeaderComparison,
} from '../../../smime/mime/header-protection';
import { parseMessage } from '../../../smime/mime/parse';
import { analyzeSmime, type MultipartSignedLayer } from '../../../smime/mime/smime';
import { crlf, fixture } from './helpers';

const headers: MessageHeaders = {
  from: { name: '佐藤 花子', address: 'hanako@org-a.example' },
  to: ['Bob <bob@org-b.example>'],
  cc: ['carol@org-b.example'],
  subject: '契約書の件 (confidential)',
  date: new Date(Date.UTC(2026, 10, 23, 10, 0, 0)),
  messageId: '<hp-1@org-a.example>',
};

const byName = (list: HeaderComparison[], name: string): HeaderComparison | undefined =>
  list.find((c) => c.name === name);

/** The outer message as a node would see it: a pkcs7-mime wrapper with the given outer headers. */
function outerOf(outerHeaders: HeaderInput[]) {
  return parseMessage(
    buildPkcs7Mime({ smimeType: 'authEnveloped-data', der: Buffer.from([0x30, 0]), headers: outerHeaders }),
  ).root.headers;
}

describe('RFC 9788 header protection: sending', () => {
  it('puts the protected headers and hp="cipher" on the payload root and obscures the outer Subject', async () => {
    const { entity, outerHeaders } = await buildProtectedPayload(headers, { text: '本文です。' }, 'cipher');
    const root = parseMessage(entity).root;
    expect(root.contentType.params['hp']).toBe('cipher');
    expect(root.headers.getDecoded('subject')).toBe(headers.subject);
    expect(root.headers.getAddresses('from')).toEqual([
      { name: '佐藤 花子', address: 'hanako@org-a.example' },
    ]);
    expect(root.headers.get('message-id')).toBe(headers.messageId);
    expect(root.text()).toContain('本文です。');
    const subjectOut = outerHeaders.find((h) => h.name === 'Subject');
    expect(subjectOut?.value).toBe(OBSCURED_SUBJECT);
    // One HP-Outer per outer field, recording what the outside says.
    const hpOuter = root.headers.getAll('hp-outer');
    expect(hpOuter).toContain('Subject: [...]');
    expect(hpOuter.map((v) => v.split(':')[0])).toEqual(outerHeaders.map((h) => h.name));
  });

  it('uses hp="clear" without HP-Outer and unchanged outer headers for signed-only mail', async () => {
    const { entity, outerHeaders } = await buildProtectedPayload(headers, { text: 'x' }, 'clear');
    const root = parseMessage(entity).root;
    expect(root.contentType.params['hp']).toBe('clear');
    expect(root.headers.has('hp-outer')).toBe(false);
    expect(outerHeaders.find((h) => h.name === 'Subject')?.value).toBe(headers.subject);
  });

  it('keeps the Subject outside when the policy is none', async () => {
    const { outerHeaders } = await buildProtectedPayload(headers, { text: 'x' }, 'cipher', {
      policy: 'none',
    });
    expect(outerHeaders.find((h) => h.name === 'Subject')?.value).toBe(headers.subject);
  });

  it('keeps protected headers on the root of a multipart payload with attachments', async () => {
    const { entity } = await buildProtectedPayload(
      headers,
      { text: 'x', attachments: [{ filename: 'a.txt', content: Buffer.from('a') }] },
      'cipher',
    );
    const root = parseMessage(entity).root;
    expect(root.mediaType).toBe('multipart/mixed');
    expect(root.contentType.params['hp']).toBe('cipher');
    expect(root.contentType.params['boundary']).toBeTruthy();
    expect(extractProtectedHeaders(root)?.headers.getDecoded('subject')).toBe(headers.subject);
  });
});

describe('RFC 9788 header protection: receiving', () => {
  it('finds nothing to compare on an obscured message that was left alone except the declared Subject', async () => {
    const { entity, outerHeaders } = await buildProtectedPayload(headers, { text: 'x' }, 'cipher');
    const prot = extractProtectedHeaders(parseMessage(entity).root)!;
    expect(prot.mode).toBe('cipher');
    expect(prot.headers.has('content-type')).toBe(false);
    expect(prot.headers.has('hp-outer')).toBe(false);
    const result = compareHeaders(prot, outerOf(outerHeaders));
    expect(result.map((c) => c.name)).toEqual(['From', 'To', 'Cc', 'Subject', 'Date', 'Message-ID']);
    expect(byName(result, 'Subject')).toEqual({
      name: 'Subject',
      status: 'differs',
      inner: headers.subject,
      outer: '[...]',
      declaredBySender: true,
    });
    for (const name of ['From', 'To', 'Cc', 'Date', 'Message-ID']) {
      expect(byName(result, name)).toMatchObject({ status: 'match', declaredBySender: true });
    }
  });

  it('detects an outer From changed in transit (not what HP-Outer records)', async () => {
    const { entity, outerHeaders } = await buildProtectedPayload(headers, { text: 'x' }, 'cipher');
    const prot = extractProtectedHeaders(parseMessage(entity).root)!;
    const tampered = outerHeaders.map((h) =>
      h.name === 'From' ? { name: 'From', value: 'Hanako <hanako@evil.example>' } : h,
    );
    const from = byName(compareHeaders(prot, outerOf(tampered)), 'From')!;
    expect(from.status).toBe('differs');
    expect(from.declaredBySender).toBe(false);
    expect(from.outer).toBe('Hanako <hanako@evil.example>');
  });

  it('reports outer fields with no protected counterpart, and protected fields missing outside', async () => {
    const { entity, outerHeaders } = await buildProtectedPayload(headers, { text: 'x' }, 'cipher');
    const prot = extractProtectedHeaders(parseMessage(entity).root)!;
    const changed = [
      ...outerHeaders.filter((h) => h.name !== 'Cc'),
      { name: 'Reply-To', value: 'attacker@evil.example' },
    ];
    const result = compareHeaders(prot, outerOf(changed));
    expect(byName(result, 'Reply-To')).toMatchObject({ status: 'missing-inner', declaredBySender: false });
    expect(byName(result, 'Cc')).toMatchObject({ status: 'missing-outer', declaredBySender: false });
  });

  it('compares signed-only (clear) mail without any declared difference', async () => {
    const { entity, outerHeaders } = await buildProtectedPayload(headers, { text: 'x' }, 'clear');
    const signed = buildMultipartSigned({
      signedPart: entity,
      signature: Buffer.from([0x30, 0]),
      digest: 'SHA-256',
      headers: outerHeaders,
    });
    const msg = parseMessage(signed);
    const layer = analyzeSmime(msg.root).layers[0] as MultipartSignedLayer;
    const prot = extractProtectedHeaders(layer.signedPart)!;
    expect(prot.mode).toBe('clear');
    const ok = compareHeaders(prot, msg.root.headers);
    expect(ok.every((c) => c.status === 'match' && c.declaredBySender === undefined)).toBe(true);
    // A relay rewrites the Subject: the protected value wins and the difference is reported.
    const rewritten = parseMessage(
      Buffer.from(
        signed.toString('latin1').replace(/^Subject:[^\r]*(\r\n [^\r]*)*/m, 'Subject: [SPAM] hello'),
        'latin1',
      ),
    );
    expect(byName(compareHeaders(prot, rewritten.root.headers), 'Subject')).toMatchObject({
      status: 'differs',
      outer: '[SPAM] hello',
    });
  });

  it('compares addresses by mailbox and dates by instant, not by spelling', () => {
    const payload = crlf(`From: =?UTF-8?Q?Alice?= <ALICE@Example.org>
Date: Mon, 23 Nov 2026 10:00:00 +0000
Content-Type: text/plain; hp="clear"

x
`);
    const prot = extractProtectedHeaders(parseMessage(payload).root)!;
    const outer = parseMessage(
      crlf('From: Alice <alice@example.org>\nDate: Mon, 23 Nov 2026 11:00:00 +0100\n\n'),
    ).root.headers;
    const result = compareHeaders(prot, outer);
    expect(byName(result, 'From')?.status).toBe('match');
    expect(byName(result, 'Date')?.status).toBe('match');
    const otherName = parseMessage(crlf('From: "Bob" <alice@example.org>\n\n')).root.headers;
    expect(byName(compareHeaders(prot, otherName), 'From')?.status).toBe('differs');
  });

  it('reports an hp value that contradicts the envelope (signed-only mail claiming hp="cipher")', async () => {
    const { entity } = await buildProtectedPayload(headers, { text: 'x' }, 'cipher');
    const root = parseMessage(entity).root;
    expect(extractProtectedHeaders(root, { encrypted: true })!.envelopeMismatch).toBe(false);
    expect(extractProtectedHeaders(root, { encrypted: false })!.envelopeMismatch).toBe(true);
    expect(extractProtectedHeaders(root)!.envelopeMismatch).toBe(false);
  });

  it('reports duplicated protected fields as ambiguous', () => {
    const payload = crlf(
      'From: alice@example.org\nFrom: ceo@example.org\nSubject: x\nContent-Type: text/plain; hp="clear"\n\nx',
    );
    expect(extractProtectedHeaders(parseMessage(payload).root)!.duplicates).toEqual(['from']);
  });

  it('removes Comments and Keywords from the outside under hcp_baseline, without HP-Outer lines for them', async () => {
    const withExtra: MessageHeaders = {
      ...headers,
      extra: [
        { name: 'Keywords', value: 'merger' },
        { name: 'Comments', value: 'internal' },
      ],
    };
    const { entity, outerHeaders } = await buildProtectedPayload(withExtra, { text: 'x' }, 'cipher');
    expect(outerHeaders.map((h) => h.name)).not.toContain('Keywords');
    expect(outerHeaders.map((h) => h.name)).not.toContain('Comments');
    const prot = extractProtectedHeaders(parseMessage(entity).root)!;
    expect(prot.headers.get('keywords')).toBe('merger');
    expect(prot.hpOuter.map((h) => h.name)).not.toContain('Keywords');
    expect(prot.duplicates).toEqual([]);
    const cmp = compareHeaders(prot, outerOf(outerHeaders), ['Keywords']);
    expect(cmp).toEqual([
      { name: 'Keywords', status: 'missing-outer', inner: 'merger', declaredBySender: true },
    ]);
  });

  it('recognises a legacy display part so the client can hide it', () => {
    const payload = crlf(`Subject: real subject
Content-Type: multipart/mixed; boundary=b; hp="cipher"

--b
Content-Type: text/plain; charset=utf-8; hp-legacy-display="1"

Subject: real subject
--b
Content-Type: text/plain

body
--b--
`);
    const prot = extractProtectedHeaders(parseMessage(payload).root)!;
    expect(prot.legacyDisplayParts.map((e) => e.path)).toEqual(['1']);
  });

  it('reports every outer field as missing-inner when there is no header protection', () => {
    const outer = parseMessage(crlf('From: a@example.org\nSubject: unprotected\n\nx')).root.headers;
    expect(compareHeaders(undefined, outer)).toEqual([
      { name: 'From', status: 'missing-inner', outer: 'a@example.org' },
      { name: 'Subject', status: 'missing-inner', outer: 'unprotected' },
    ]);
  });

  it('returns undefined when the payload has no hp parameter (no header protection)', () => {
    expect(
      extractProtectedHeaders(parseMessage(crlf('Subject: x\nContent-Type: text/plain\n\nx')).root),
    ).toBeUndefined();
    // The published draft-era RFC 9788 vectors on disk use no header protection.
    const signed = analyzeSmime(parseMessage(fixture('rfc9788/smime-multipart.eml')).root);
    expect(extractProtectedHeaders(signed.payload!)).toBeUndefined();
  });
});
