/**
 * verifyMessage on damaged input: deterministic byte flips and truncations of a complete SSMAX
 * message never throw, and a change inside the signed bytes is never verified. Plus a 25 MB
 * attachment through the whole receive path (peak RSS printed).
 */
import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { verifyMessage, type VerifyMessageOptions } from '../../../smime/chain';
import { peakRssMiB, pseudoRandomBytes } from '../mime/helpers';
import { T, buildMail, buildWorld, caDer, decryptorOf, headersFor, receivingOrg, sendingOrg, signerOf, type World } from './world';

let w: World;
let signedOnly: Buffer;
let entityStart: number;
let entityEnd: number;
beforeAll(async () => {
  w = await buildWorld();
  const m = await buildMail({ headers: headersFor(w.a.employee.email, w.b.employee.email), signer: signerOf(w.a.employee.signature), signerCaDer: caDer(w.a), links: [sendingOrg(w.a), receivingOrg(w.b, w.b.employee.email)] });
  signedOnly = m.wire;
  entityStart = signedOnly.indexOf(m.entity);
  entityEnd = entityStart + m.entity.length;
}, 120_000);

const opts = (): VerifyMessageOptions => ({ trustAnchors: [w.rootPem], at: T.at, ownOrgDomains: ['b.example'], recipient: w.b.employee.email, decryptors: [decryptorOf(w.b.employee.keyManagement)] });

describe('damaged input', () => {
  it('the intact message verifies (the baseline of the mutations)', async () => {
    expect(entityStart).toBeGreaterThan(0);
    expect((await verifyMessage(signedOnly, opts())).state).toBe('verified');
  });

  it('100 single-byte changes inside the signed part: never verified, never thrown', async () => {
    const rnd = pseudoRandomBytes(200, 0x1234);
    for (let i = 0; i < 100; i++) {
      const pos = entityStart + (rnd.readUInt16BE(i * 2) % (entityEnd - entityStart));
      const m = Buffer.from(signedOnly);
      m[pos] = (m[pos]! ^ (1 << (i % 7))) & 0xff;
      const r = await verifyMessage(m, opts());
      expect(r.state, `flip at ${pos}`).not.toBe('verified');
    }
  });

  it('150 changes anywhere and 60 truncations: always a result, never an exception', async () => {
    const rnd = pseudoRandomBytes(600, 0xbeef);
    for (let i = 0; i < 150; i++) {
      const pos = rnd.readUInt32BE(i * 4) % signedOnly.length;
      const m = Buffer.from(signedOnly);
      m[pos] = rnd[i]!;
      const r = await verifyMessage(m, opts());
      expect(['verified', 'signed', 'unsigned', 'failed']).toContain(r.state);
    }
    for (let i = 1; i <= 60; i++) {
      const cut = Math.floor((signedOnly.length * i) / 61);
      const r = await verifyMessage(signedOnly.subarray(0, cut), opts());
      if (cut < entityEnd) expect(r.state).not.toBe('verified');
    }
  });
});

describe('large mail', () => {
  it('a 25 MB attachment, encrypted, with ① ② ③: verified; prints time and peak RSS', async () => {
    const attachment = pseudoRandomBytes(25 * 1024 * 1024, 7);
    const built = await buildMail({
      headers: headersFor(w.a.employee.email, w.b.employee.email),
      content: { text: 'big\n', attachments: [{ filename: 'big.bin', content: attachment }] },
      signer: signerOf(w.a.employee.signature),
      signerCaDer: caDer(w.a),
      links: [sendingOrg(w.a), receivingOrg(w.b, w.b.employee.email)],
      encryptTo: w.b.employee.keyManagement.der,
    });
    const started = process.hrtime.bigint();
    const r = await verifyMessage(built.wire, opts());
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    expect(r.reasons).toEqual([]);
    expect(r.state).toBe('verified');
    const part = r.content!.entity.children.find((c) => c.filename === 'big.bin')!;
    expect(createHash('sha256').update(part.body()).digest('hex')).toBe(createHash('sha256').update(attachment).digest('hex'));
    console.log(`verifyMessage 25 MB: ${Math.round(ms)} ms, wire ${Math.round(built.wire.length / 1048576)} MiB, peak RSS ${peakRssMiB()} MiB`);
  }, 120_000);
});
