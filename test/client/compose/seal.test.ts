import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Draft } from '../../../api';
import { checkPpap, composeAndSeal, PpapWarning, readAttachments, type SealKeys } from '../../../client/compose/seal';
import { decryptContent } from '../../../smime/cms';
import { verifyMessage } from '../../../smime/chain';
import { analyzeSmime, extractProtectedHeaders, parseMessage } from '../../../smime/mime';
import { T, buildMail, buildWorld, caDer, decryptorOf, headersFor, receivingOrg, sendingOrg, signerOf, type World } from '../../smime/chain/world';
import { buildZip, SEVENZIP_ENCODED_AES_HEADER, sevenZipBytes } from '../../org-node/inspection/fixtures';

let world: World;
let work: string;
const at = new Date('2026-06-01T09:00:00Z');

function draft(extra: Partial<Draft> = {}): Draft {
  return { accountId: 'acc', to: ['taro@b.example'], cc: ['carol@a.example'], subject: '見積書の送付について', text: 'こんにちは\nPlease find the quote.', attachments: [], ...extra };
}

const keysOf = (w: World): (() => Promise<SealKeys>) => async () => ({ signer: signerOf(w.a.employee.signature), ownEncryptionCertificate: w.a.employee.keyManagement.der });

beforeAll(async () => {
  world = await buildWorld();
  work = mkdtempSync(join(tmpdir(), 'ssmax-seal-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('composeAndSeal', () => {
  it('signs (9C) and encrypts to the org key only; the Sent copy to the own 9D; protected headers inside', async () => {
    writeFileSync(join(work, 'quote.pdf'), '%PDF-1.4 quote');
    const d = draft({ attachments: [{ path: join(work, 'quote.pdf') }] });
    const sealed = await composeAndSeal(d, await readAttachments(d), keysOf(world), { from: world.a.employee.email, fromName: '山田 花子', orgEncryptionCertificate: world.a.encryption.der, chainCertificates: [caDer(world.a)], now: () => at });
    expect(sealed.envelope).toEqual({ from: world.a.employee.email, to: ['taro@b.example', 'carol@a.example'] });
    expect(sealed.messageId).toMatch(/^<[0-9a-f-]{36}@a\.example>$/);

    // Outer: application/pkcs7-mime authEnveloped-data, subject obscured.
    const outer = parseMessage(sealed.wire).root;
    expect(outer.contentType.value).toBe('application/pkcs7-mime');
    expect(outer.headers.get('subject')).toBe('[...]');
    expect(sealed.wire.toString('latin1')).not.toContain('Please find');

    // The org key opens it; the sender's own 9D key does not.
    const layer = analyzeSmime(outer).layers[0];
    if (!layer || layer.kind !== 'pkcs7-mime') throw new Error('no pkcs7 layer');
    await expect(decryptContent(layer.der(), decryptorOf(world.a.employee.keyManagement))).rejects.toThrow();
    const plain = await decryptContent(layer.der(), decryptorOf(world.a.encryption));
    const inner = parseMessage(Buffer.from(plain.content)).root;
    expect(inner.contentType.value).toBe('multipart/signed');
    const signedPart = inner.children[0];
    if (!signedPart) throw new Error('no signed part');
    const prot = extractProtectedHeaders(signedPart, { encrypted: true });
    expect(prot?.mode).toBe('cipher');
    expect(prot?.headers.getDecoded('subject')).toBe('見積書の送付について');
    expect(prot?.headers.get('message-id')).toBe(sealed.messageId);
    expect(prot?.headers.get('cc')).toContain('carol@a.example');
    // The account's display name, RFC 2047-encoded; the address (what the chain checks) unchanged.
    expect(prot?.headers.get('from')).toMatch(/^=\?UTF-8\?/i);
    expect(prot?.headers.getDecoded('from')).toContain('山田 花子');
    expect(prot?.headers.getDecoded('from')).toContain(`<${world.a.employee.email}>`);

    // The whole thing verifies (① valid; no org links yet) with the org key as decryptor …
    const v = await verifyMessage(sealed.wire, { trustAnchors: [world.rootPem], decryptors: [decryptorOf(world.a.encryption)], at });
    expect(v.links[0]?.status).toBe('valid');
    expect(v.displayedFrom?.address).toBe(world.a.employee.email);
    expect(v.partiallySigned).toBe(false);
    // … and the Sent copy with the sender's own 9D key (not the org's).
    const s = await verifyMessage(sealed.sentCopy, { trustAnchors: [world.rootPem], decryptors: [decryptorOf(world.a.employee.keyManagement)], at });
    expect(s.links[0]?.status).toBe('valid');
    const sentLayer = analyzeSmime(parseMessage(sealed.sentCopy).root).layers[0];
    if (!sentLayer || sentLayer.kind !== 'pkcs7-mime') throw new Error('no pkcs7 layer');
    await expect(decryptContent(sentLayer.der(), decryptorOf(world.a.encryption))).rejects.toThrow();
  });

  it('a card error while signing propagates and nothing is returned (the caller keeps the draft)', async () => {
    const failing = async (): Promise<SealKeys> => ({
      signer: { ...signerOf(world.a.employee.signature), certificate: world.a.employee.signature.der, algorithm: signerOf(world.a.employee.signature).algorithm, sign: () => Promise.reject(new Error('card removed')) },
      ownEncryptionCertificate: world.a.employee.keyManagement.der,
    });
    await expect(composeAndSeal(draft(), [], failing, { from: world.a.employee.email, orgEncryptionCertificate: world.a.encryption.der })).rejects.toThrow('card removed');
  });
});

describe('replies and forwards (the original as the mailbox holds it: encrypted to the own 9D)', () => {
  /** Taro (b.example) → Hanako (a.example), chain ① ② ③, re-encrypted by A's node to Hanako's 9D. */
  async function received(extra: { references?: string; subject?: string } = {}) {
    const headers = { ...headersFor(world.b.employee.email, world.a.employee.email, extra.subject ?? '見積書の送付について'), ...(extra.references ? { references: extra.references } : {}) };
    const mail = await buildMail({ headers, signer: signerOf(world.b.employee.signature), signerCaDer: caDer(world.b), links: [sendingOrg(world.b), receivingOrg(world.a, world.a.employee.email)], encryptTo: world.a.employee.keyManagement.der });
    return { raw: mail.wire, messageId: headers.messageId };
  }
  const withCard = async (): Promise<SealKeys> => ({ ...(await keysOf(world)()), decryptor: decryptorOf(world.a.employee.keyManagement) as SealKeys['decryptor'] });
  const protectedOf = async (wire: Buffer) => {
    const layer = analyzeSmime(parseMessage(wire).root).layers[0];
    if (!layer || layer.kind !== 'pkcs7-mime') throw new Error('no pkcs7 layer');
    const inner = parseMessage(Buffer.from((await decryptContent(layer.der(), decryptorOf(world.a.encryption))).content)).root;
    return extractProtectedHeaders(inner.children[0]!, { encrypted: true })!.headers;
  };

  it('reply: In-Reply-To = the original Message-ID, References = its References + Message-ID (protected), "Re: " once', async () => {
    const orig = await received({ references: '<root@b.example> <mid@b.example>' });
    const opts = { from: world.a.employee.email, orgEncryptionCertificate: world.a.encryption.der, now: () => at, original: { kind: 'reply' as const, raw: orig.raw } };
    const sealed = await composeAndSeal(draft({ to: [world.b.employee.email], cc: [], subject: '' }), [], withCard, opts);
    const h = await protectedOf(sealed.wire);
    expect(h.get('in-reply-to')).toBe(orig.messageId);
    expect(h.get('references')?.replace(/\s+/g, ' ')).toBe(`<root@b.example> <mid@b.example> ${orig.messageId}`);
    expect(h.getDecoded('subject')).toBe('Re: 見積書の送付について');
    expect(sealed.subject).toBe('Re: 見積書の送付について');
    // Already "Re:" (any case, or the UI's own edit) → not doubled; the UI's subject is kept.
    const again = await composeAndSeal(draft({ to: [world.b.employee.email], cc: [], subject: 'RE: 見積書の送付について' }), [], withCard, opts);
    expect((await protectedOf(again.wire)).getDecoded('subject')).toBe('RE: 見積書の送付について');
    const edited = await composeAndSeal(draft({ to: [world.b.employee.email], cc: [], subject: '日程' }), [], withCard, opts);
    expect((await protectedOf(edited.wire)).getDecoded('subject')).toBe('Re: 日程');
  });

  it('reply to an original without the card key → Refused, nothing sealed', async () => {
    const orig = await received();
    await expect(composeAndSeal(draft(), [], keysOf(world), { from: world.a.employee.email, orgEncryptionCertificate: world.a.encryption.der, original: { kind: 'reply', raw: orig.raw } })).rejects.toMatchObject({ code: 'Refused' });
  });

  it('forward: the decrypted original (its chain ① ② ③ intact) as message/rfc822 inside the signed forward; "Fwd: "; the inner chain verifies', async () => {
    const orig = await received();
    const sealed = await composeAndSeal(draft({ to: ['ichiro@a.example'], cc: [], subject: '', text: 'FYI\n' }), [], withCard, {
      from: world.a.employee.email,
      orgEncryptionCertificate: world.a.encryption.der,
      chainCertificates: [caDer(world.a)],
      now: () => at,
      original: { kind: 'forward', raw: orig.raw },
    });
    const h = await protectedOf(sealed.wire);
    expect(h.getDecoded('subject')).toBe('Fwd: 見積書の送付について');
    expect(h.get('in-reply-to')).toBeUndefined();
    const v = await verifyMessage(sealed.wire, { trustAnchors: [world.rootPem], decryptors: [decryptorOf(world.a.encryption)], at: T.at, ownOrgDomains: ['a.example'] });
    expect(v.links.map((l) => [l.role, l.status])).toEqual([['forwarder', 'valid']]);
    expect(v.forwards).toHaveLength(1);
    const inner = v.forwards[0]!;
    expect(inner.reasons).toEqual([]);
    expect(inner.state).toBe('verified');
    expect(inner.links.map((l) => [l.role, l.email ?? l.domains.join()])).toEqual([
      ['sender', world.b.employee.email],
      ['sending-org', 'b.example'],
      ['receiving-org', 'a.example'],
    ]);
  });
});

describe('PPAP warning', () => {
  it('encrypted ZIP (ZipCrypto and AES) and encrypted 7z → PpapWarning until acknowledged; the card is not asked', async () => {
    writeFileSync(join(work, 'secret.zip'), buildZip([{ name: '見積書.xlsx', content: 'data', password: 'pw' }]));
    writeFileSync(join(work, 'aes.dat'), buildZip([{ name: 'a.docx', content: Buffer.alloc(40, 1), aes: true }])); // renamed: found by content
    writeFileSync(join(work, 'plain.zip'), buildZip([{ name: 'a.txt', content: 'hello' }]));
    writeFileSync(join(work, 'packed.7z'), sevenZipBytes(SEVENZIP_ENCODED_AES_HEADER));
    const d = draft({ attachments: ['secret.zip', 'aes.dat', 'plain.zip', 'packed.7z'].map((n) => ({ path: join(work, n) })) });
    const files = await readAttachments(d);
    const check = await checkPpap(files);
    expect(check.suspicious.map((s) => s.path)).toEqual([join(work, 'secret.zip'), join(work, 'aes.dat'), join(work, 'packed.7z')]);
    expect(check.suspicious[0]?.reason).toMatch(/password-protected ZIP.*見積書\.xlsx/);

    let asked = 0;
    const keys = async (): Promise<SealKeys> => {
      asked++;
      return keysOf(world)();
    };
    const opts = { from: world.a.employee.email, orgEncryptionCertificate: world.a.encryption.der };
    const err = await composeAndSeal(d, files, keys, opts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PpapWarning);
    expect((err as PpapWarning).code).toBe('PpapWarning');
    expect((err as PpapWarning).suspicious).toHaveLength(3);
    expect(asked).toBe(0);
    const sealed = await composeAndSeal({ ...d, acknowledgedPpap: true }, files, keys, opts);
    expect(asked).toBe(1);
    expect(sealed.wire.length).toBeGreaterThan(0);
  });

  it('no archive, or a clear one → no warning', async () => {
    writeFileSync(join(work, 'plain2.zip'), buildZip([{ name: 'a.txt', content: 'hello' }]));
    writeFileSync(join(work, 'note.txt'), 'PK not a zip');
    const files = await readAttachments({ attachments: [{ path: join(work, 'plain2.zip') }, { path: join(work, 'note.txt') }] });
    expect((await checkPpap(files)).suspicious).toEqual([]);
  });
});
