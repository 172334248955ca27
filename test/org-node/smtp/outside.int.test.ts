import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyMessage } from '../../../smime/chain';
import type { MemberDirectory } from '../../../org-node/directory/directory';
import type { NonMemberPolicy } from '../../../org-node/relay/types';
import { fileAuthenticator, hashPassword } from '../../../org-node/smtp/credentials';
import { dnsMxLookup, mapRoutes, mxRoutes, type MxRecord } from '../../../org-node/smtp/handoff';
import { startOrgNode, type OrgNodeHandle } from '../../../org-node/smtp/node';
import { startDovecot, type DovecotHandle } from '../../harness/dovecot';
import { buildMail, caDer, headersFor, signerOf } from '../../smime/chain/world';
import { buildRelayWorld, depsFor, directoryFor, type RelayWorld } from '../relay/relay-world';

/**
 * Mail to a domain outside SSMAX (SPEC §5: "policy decides (signed only over verified TLS, or
 * refuse); never silently downgraded"), and MX routing: node a with policy `refuse` answers 550 with
 * the reason; with `deliver-signed` it sends ① + ② signed only (not encrypted) to the domain's MX —
 * found by an injected MX lookup — only over STARTTLS with a verified certificate, and tells the
 * sender in the 250 text and by a notice in her mailbox.
 */
let rw: RelayWorld;
let work: string;
let dovecotA: DovecotHandle;
let dirA: MemberDirectory;
let tls: { key: Buffer; cert: Buffer };
let credentials: string;
const received: { from: string; to: string[]; raw: Buffer }[] = [];
let mta: SMTPServer;
let mtaPort: number;
let plainMta: SMTPServer;
let plainPort: number;
const mxQueries: string[] = [];
const logs: Record<string, unknown>[] = [];

function listen(s: SMTPServer): Promise<number> {
  return new Promise((res) => s.listen(0, '127.0.0.1', () => res((s as unknown as { server: { address(): { port: number } } }).server.address().port)));
}

function outsideMta(withTls: boolean): SMTPServer {
  return new SMTPServer({
    ...(withTls ? { key: tls.key, cert: tls.cert } : { disabledCommands: ['STARTTLS'] }),
    authOptional: true,
    logger: false,
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks) });
        cb();
      });
    },
  });
}

/** MX lookups answered from a table (the production resolver is node:dns resolveMx). */
const mxTable: Record<string, readonly MxRecord[]> = {};
const lookup = (domain: string): Promise<readonly MxRecord[]> => {
  mxQueries.push(domain);
  const r = mxTable[domain];
  return r ? Promise.resolve(r) : Promise.reject(Object.assign(new Error(`queryMx ENOTFOUND ${domain}`), { code: 'ENOTFOUND' }));
};

async function nodeA(policy: NonMemberPolicy | undefined, port: number): Promise<OrgNodeHandle> {
  return startOrgNode({
    name: 'node.a.example',
    relay: { ...depsFor(rw, rw.world.a, dirA), ...(policy ? { nonMemberPolicy: policy } : {}) },
    spoolDir: join(work, `spool-${policy ?? 'default'}-${port}`),
    submission: { port: 0, tls, authenticate: fileAuthenticator(credentials) },
    routes: mapRoutes({}),
    nonMemberRoutes: mxRoutes({ resolveMx: lookup, port, ca: tls.cert.toString() }),
    lmtp: dovecotA.lmtp,
    worker: { retryDelaysMs: [200], pollMs: 200 },
    log: (e) => logs.push(e),
  });
}

async function submit(node: OrgNodeHandle, to: string, messageId: string): Promise<{ response?: string; responseCode?: number }> {
  const headers = { ...headersFor(rw.alice.email, to, 'outside'), messageId };
  const mail = await buildMail({ headers, signer: signerOf(rw.alice.signature), signerCaDer: caDer(rw.world.a), encryptTo: rw.world.a.encryption.der, content: { text: 'To a partner outside SSMAX.\n' } });
  const t = nodemailer.createTransport({ host: '127.0.0.1', port: node.submissionPort ?? 0, secure: false, requireTLS: true, tls: { rejectUnauthorized: false }, auth: { user: rw.alice.email, pass: 'pw' } });
  try {
    const info = await t.sendMail({ envelope: { from: rw.alice.email, to: [to] }, raw: mail.wire });
    return { response: String(info.response) };
  } catch (err) {
    return err as { response?: string; responseCode?: number };
  } finally {
    t.close();
  }
}

async function until<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, limitMs = 30_000): Promise<T> {
  for (const end = Date.now() + limitMs; ; await new Promise((r) => setTimeout(r, 100))) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
  }
}

function aliceMailbox(): string[] {
  const out: string[] = [];
  for (const sub of ['new', 'cur']) {
    const p = join(dovecotA.maildirOf(rw.alice.email), sub);
    if (existsSync(p)) for (const f of readdirSync(p)) out.push(readFileSync(join(p, f), 'utf8'));
  }
  return out;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'ssmax-outside-'));
  rw = await buildRelayWorld();
  dovecotA = await startDovecot({ users: [{ address: rw.alice.email, password: 'x' }] });
  dirA = await directoryFor(join(work, 'dir-a.sqlite'), [rw.alice]);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(work, 'tls.key'), '-out', join(work, 'tls.pem'), '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  tls = { key: readFileSync(join(work, 'tls.key')), cert: readFileSync(join(work, 'tls.pem')) };
  credentials = join(work, 'credentials.json');
  writeFileSync(credentials, JSON.stringify({ [rw.alice.email]: await hashPassword('pw') }));
  mta = outsideMta(true);
  mtaPort = await listen(mta);
  plainMta = outsideMta(false);
  plainPort = await listen(plainMta);
  // partner.example: two exchanges, the preferred one (lowest value) is ours; nullmx.example: RFC 7505.
  mxTable['partner.example'] = [{ exchange: 'backup.invalid', priority: 20 }, { exchange: '127.0.0.1', priority: 10 }];
  mxTable['nullmx.example'] = [{ exchange: '', priority: 0 }];
}, 120_000);

afterAll(async () => {
  await new Promise<void>((r) => (mta ? mta.close(() => r()) : r()));
  await new Promise<void>((r) => (plainMta ? plainMta.close(() => r()) : r()));
  await dovecotA?.stop();
  await dirA?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('mail to domains outside SSMAX', () => {
  it('default policy (refuse): 550 with the reason, nothing queued, nothing sent', async () => {
    const node = await nodeA(undefined, mtaPort);
    try {
      const r = await submit(node, 'sales@partner.example', `<refuse-${Date.now()}@a.example>`);
      expect(r.responseCode).toBe(550);
      expect(r.response).toMatch(/partner\.example is not an SSMAX organisation, and this organisation's policy refuses mail outside SSMAX/);
      expect(await node.spool.queued()).toHaveLength(0);
      expect(received).toHaveLength(0);
    } finally {
      await node.stop();
    }
  });

  it('deliver-signed: signed only (① + ②, not encrypted) to the preferred MX over verified TLS; the sender is told', async () => {
    const node = await nodeA('deliver-signed', mtaPort);
    try {
      const messageId = `<signed-only-${Date.now()}@a.example>`;
      const r = await submit(node, 'sales@partner.example', messageId);
      expect(r.response).toMatch(/^250 .*signed only, not encrypted, for sales@partner\.example: outside SSMAX/);
      const got = await until('the partner MTA received it', () => received.find((m) => m.raw.includes(messageId)));
      expect(got.to).toEqual(['sales@partner.example']);
      expect(mxQueries).toContain('partner.example');
      expect(got.raw.toString('latin1')).toMatch(/^Content-Type: multipart\/signed/im);
      expect(got.raw.toString('latin1')).not.toMatch(/X-SSMAX-Relay-Id/i);
      // Any S/MIME client verifies it: Alice's signature, and A's countersignature with the envelope and inspection.
      const v = await verifyMessage(got.raw, { trustAnchors: [rw.world.rootPem], decryptors: [], at: new Date() });
      expect(v.content?.encrypted).toBe(false);
      expect(v.links.map((l) => [l.role, l.status])).toEqual([['sender', 'valid'], ['sending-org', 'valid']]);
      expect(v.links[1]?.envelope?.rcptTo).toEqual(['sales@partner.example']);
      const notice = await until('the notice to the sender', () => aliceMailbox().find((m) => m.includes('Sent signed only, not encrypted') && m.includes(messageId)));
      expect(notice).toMatch(/sales@partner\.example/);
    } finally {
      await node.stop();
    }
  });

  it('deliver-signed never goes without verified TLS: an MTA without STARTTLS gets nothing, the sender gets a bounce saying why', async () => {
    mxTable['plain.example'] = [{ exchange: '127.0.0.1', priority: 10 }];
    const node = await nodeA('deliver-signed', plainPort);
    try {
      const messageId = `<no-tls-${Date.now()}@a.example>`;
      expect((await submit(node, 'x@plain.example', messageId)).response).toMatch(/^250 .*signed only/);
      const bounce = await until('the bounce', () => aliceMailbox().find((m) => m.includes('Undelivered mail') && m.includes(messageId)));
      expect(bounce).toMatch(/offers no verified TLS/);
      expect(received.filter((m) => m.raw.includes(messageId))).toHaveLength(0);
    } finally {
      await node.stop();
    }
  });

  it('a null MX (RFC 7505) domain: the signed-only copy bounces to the sender with the reason', async () => {
    const node = await nodeA('deliver-signed', mtaPort);
    try {
      const messageId = `<nullmx-${Date.now()}@a.example>`;
      expect((await submit(node, 'x@nullmx.example', messageId)).response).toMatch(/^250/);
      const bounce = await until('the bounce', () => aliceMailbox().find((m) => m.includes('Undelivered mail') && m.includes(messageId)));
      expect(bounce).toMatch(/No route to the mail server of nullmx\.example/);
    } finally {
      await node.stop();
    }
  });
});

describe('mxRoutes', () => {
  it('prefers the lowest MX value, falls back to the domain itself without MX, no route for a null MX, throws on a DNS failure', async () => {
    const r = mxRoutes({ resolveMx: lookup, port: 2525 });
    expect(await r('partner.example')).toEqual({ host: '127.0.0.1', port: 2525 });
    expect(await r('no-mx.example')).toEqual({ host: 'no-mx.example', port: 2525 });
    expect(await r('nullmx.example')).toBeUndefined();
    const failing = mxRoutes({ resolveMx: () => Promise.reject(Object.assign(new Error('queryMx ESERVFAIL x'), { code: 'ESERVFAIL' })) });
    await expect(failing('x.example')).rejects.toThrow(/ESERVFAIL/);
  });
});

/** A tiny DNS server on loopback answering MX queries from `zone` (NXDOMAIN otherwise), RFC 1035 wire format. */
async function tinyDns(zone: Record<string, readonly MxRecord[]>): Promise<{ port: number; close: () => void }> {
  const sock = createSocket('udp4');
  const name = (n: string): Buffer => Buffer.concat([...n.split('.').filter(Boolean).map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0])]);
  sock.on('message', (q, peer) => {
    let i = 12;
    const labels: string[] = [];
    while (q[i]) {
      labels.push(q.subarray(i + 1, i + 1 + (q[i] ?? 0)).toString());
      i += 1 + (q[i] ?? 0);
    }
    const question = q.subarray(12, i + 5);
    const records = zone[labels.join('.').toLowerCase()];
    const answers = (records ?? []).map((r) => {
      const rdata = Buffer.concat([Buffer.from([r.priority >> 8, r.priority & 0xff]), name(r.exchange)]);
      return Buffer.concat([Buffer.from([0xc0, 0x0c, 0, 15, 0, 1, 0, 0, 0, 60, rdata.length >> 8, rdata.length & 0xff]), rdata]);
    });
    const header = Buffer.from([q[0] ?? 0, q[1] ?? 0, 0x81, records ? 0x80 : 0x83, 0, 1, 0, answers.length, 0, 0, 0, 0]);
    sock.send(Buffer.concat([header, question, ...answers]), peer.port, peer.address);
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  return { port: sock.address().port, close: () => sock.close() };
}

describe('MX from a DNS server (the production lookup, node:dns with configured servers)', () => {
  it('finds the preferred exchange of a domain through a DNS server on loopback; NXDOMAIN → the domain itself', async () => {
    const dns = await tinyDns({ 'peer.example': [{ exchange: 'mx2.peer.example', priority: 20 }, { exchange: 'mx1.peer.example', priority: 5 }] });
    try {
      const r = mxRoutes({ resolveMx: dnsMxLookup([`127.0.0.1:${dns.port}`]), port: 2525 });
      expect(await r('peer.example')).toEqual({ host: 'mx1.peer.example', port: 2525 });
      expect(await r('unknown.example')).toEqual({ host: 'unknown.example', port: 2525 });
    } finally {
      dns.close();
    }
  });
});
