import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { MemberDirectory } from '../../../org-node/directory/directory';
import { httpsBundleFetcher } from '../../../org-node/bundle/https-fetcher';
import { peerCrls } from '../../../org-node/relay/crl';
import { mapRoutes } from '../../../org-node/smtp/handoff';
import { startOrgNode, type OrgNodeHandle } from '../../../org-node/smtp/node';
import type { VerifiedOrgBundle } from '../../../smime/bundle/verify';
import { issueCrl } from '../../../smime/pki';
import { startDovecot, type DovecotHandle } from '../../harness/dovecot';
import { buildMail, caDer, headersFor, sendingOrg, signerOf } from '../../smime/chain/world';
import { buildRelayWorld, depsFor, directoryFor, type RelayWorld } from '../relay/relay-world';

/**
 * Org b's node on inbound checks the card of the sender ① against the CRL of the sender's org (URL
 * from a's bundle, fetched over HTTP here from a loopback server that plays a's CRL endpoint). The
 * mail is what a's node sends: ① by jiro@a.example, ② by a, encrypted to b's org key.
 */
let rw: RelayWorld;
let work: string;
let dovecotB: DovecotHandle;
let dirB: MemberDirectory;
let nodeB: OrgNodeHandle;
let crlServer: Server;
/** What a's CRL endpoint serves; undefined → 503. */
let servedCrl: Uint8Array | undefined;
const crlRequests: string[] = [];
const jiro = 'jiro@a.example';

async function crlOfA(revoked: boolean, crlNumber: number): Promise<Uint8Array> {
  const now = Date.now();
  const entries = revoked ? [{ serialNumber: rw.world.revoked.certificate.serialNumber, revocationDate: new Date(now - 60_000) }] : [];
  const crl = await issueCrl(rw.world.a.ca, { thisUpdate: new Date(now - 3_600_000), nextUpdate: new Date(now + 86_400_000), crlNumber, revoked: entries });
  return new Uint8Array(crl.rawData);
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'ssmax-inrev-'));
  rw = await buildRelayWorld();
  dovecotB = await startDovecot({ users: [{ address: rw.bob.email, password: 'x' }] });
  dirB = await directoryFor(join(work, 'dir-b.sqlite'), [rw.bob]);
  crlServer = createServer((req, res) => {
    crlRequests.push(req.url ?? '');
    if (!servedCrl) {
      res.writeHead(503).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/pkix-crl' }).end(Buffer.from(servedCrl));
  });
  await new Promise<void>((r) => crlServer.listen(0, '127.0.0.1', r));
  const crlUrl = `http://127.0.0.1:${(crlServer.address() as AddressInfo).port}/crl/org-ca.crl`;
  // What the node's bundle client knows of a: only the CRL URL matters to peerCrls.
  const bundles = { forDomain: (d: string) => (d === 'a.example' ? Promise.resolve({ manifest: { crlUrl } } as unknown as VerifiedOrgBundle) : Promise.reject(new Error(`no bundle for ${d}`))) };
  const fetcher = httpsBundleFetcher({ allowHttp: true, timeoutMs: 2_000, label: 'CRL' });
  // No caching, so every message sees what the endpoint serves right now.
  const relay = { ...depsFor(rw, rw.world.b, dirB), peerCrls: peerCrls({ bundles, fetch: (u) => fetcher.fetch(u), maxAgeMs: 0, staleMaxAgeMs: 0 }) };
  nodeB = await startOrgNode({ name: 'node.b.example', relay, spoolDir: join(work, 'spool-b'), inbound: { port: 0 }, routes: mapRoutes({}), lmtp: dovecotB.lmtp, worker: { retryDelaysMs: [200], pollMs: 200 } });
}, 120_000);

afterAll(async () => {
  await nodeB?.stop();
  await dovecotB?.stop();
  await dirB?.close();
  await new Promise<void>((r) => (crlServer ? crlServer.close(() => r()) : r()));
  if (work) rmSync(work, { recursive: true, force: true });
});

/** jiro's mail as a's node relays it: ① jiro, ② a (addressed to bob), encrypted to b's org key. */
async function fromA(): Promise<{ raw: Buffer; messageId: string }> {
  const headers = headersFor(jiro, rw.bob.email);
  const mail = await buildMail({ headers, signer: signerOf(rw.world.revoked), signerCaDer: caDer(rw.world.a), links: [{ ...sendingOrg(rw.world.a, new Date()), envelope: { mailFrom: jiro, rcptTo: [rw.bob.email] } }], encryptTo: rw.world.b.encryption.der });
  return { raw: mail.wire, messageId: headers.messageId };
}

async function send(raw: Buffer): Promise<{ ok: true; response: string } | { ok: false; responseCode?: number; response?: string }> {
  const t = nodemailer.createTransport({ host: '127.0.0.1', port: nodeB.inboundPort ?? 0, secure: false, ignoreTLS: true });
  try {
    const info = await t.sendMail({ envelope: { from: jiro, to: [rw.bob.email] }, raw });
    return { ok: true, response: String(info.response) };
  } catch (e) {
    const err = e as { responseCode?: number; response?: string };
    return { ok: false, ...(err.responseCode !== undefined ? { responseCode: err.responseCode } : {}), ...(err.response !== undefined ? { response: err.response } : {}) };
  } finally {
    t.close();
  }
}

async function inBox(messageId: string, timeoutMs = 30_000): Promise<number> {
  const box = join(dovecotB.maildirOf(rw.bob.email), 'new');
  const end = Date.now() + timeoutMs;
  for (;;) {
    const n = existsSync(box) ? readdirSync(box).filter((f) => readFileSync(join(box, f)).includes(messageId)).length : 0;
    if (n > 0 || Date.now() > end) return n;
    await new Promise((r) => setTimeout(r, 200));
  }
}

it('a card revoked at a (listed in a\'s current CRL) is refused by b at DATA with a reply naming the revocation; nothing is delivered', async () => {
  servedCrl = await crlOfA(true, 11);
  const before = crlRequests.length;
  const mail = await fromA();
  const r = await send(mail.raw);
  expect(r.ok).toBe(false);
  if (r.ok) return;
  expect(r.responseCode).toBe(550);
  expect(r.response).toMatch(/signature chain was refused.*"?jiro.*was revoked on/);
  expect(crlRequests.length).toBeGreaterThan(before);
  expect(await inBox(mail.messageId, 1_000)).toBe(0);
});

it('a\'s CRL cannot be had: 451 (the sending node retries), never counter-signed as if checked', async () => {
  servedCrl = undefined;
  const mail = await fromA();
  const r = await send(mail.raw);
  expect(r.ok).toBe(false);
  if (r.ok) return;
  expect(r.responseCode).toBe(451);
  expect(r.response).toMatch(/revocation list of a\.example could not be obtained: The CRL at http:\/\/127\.0\.0\.1:\d+\/crl\/org-ca\.crl could not be fetched \(HTTP 503\)/);
  expect(await inBox(mail.messageId, 1_000)).toBe(0);
});

it('the same card not revoked (a\'s current CRL without it): accepted and delivered to hanako@b', async () => {
  servedCrl = await crlOfA(false, 12);
  const mail = await fromA();
  const r = await send(mail.raw);
  expect(r).toMatchObject({ ok: true });
  expect(await inBox(mail.messageId)).toBe(1);
});
