import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { connect, createServer, type Server } from 'node:net';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyMessage } from '../../../smime/chain';
import type { MemberDirectory } from '../../../org-node/directory/directory';
import { engineInspector } from '../../../org-node/relay/engine-inspector';
import type { RelayDeps } from '../../../org-node/relay/types';
import { hashPassword, fileAuthenticator } from '../../../org-node/smtp/credentials';
import { mapRoutes } from '../../../org-node/smtp/handoff';
import { mailauthChecker } from '../../../org-node/relay/external';
import { startOrgNode, type OrgNodeHandle } from '../../../org-node/smtp/node';
import { startClamd, type ClamdHandle } from '../../harness/clamd';
import { eicarTestFile } from '../../harness/clamav-signatures';
import { startDovecot, type DovecotHandle } from '../../harness/dovecot';
import { freePort } from '../../harness/process';
import { buildMail, caDer, decryptorOf, headersFor, signerOf } from '../../smime/chain/world';
import { buildRelayWorld, depsFor, directoryFor, type Person, type RelayWorld } from '../relay/relay-world';
import type { ChildConfig } from './node-child';
import { writeOrgAChildConfig } from './node-child-config';
import type { ContentInput } from '../../../smime/mime';

/**
 * Two org nodes on loopback: a.example (submission + relay + LMTP to its Dovecot) and b.example
 * (inbound + LMTP to its Dovecot), real clamd through the inspection engine.
 */
let rw: RelayWorld;
let work: string;
let dovecotA: DovecotHandle;
let dovecotB: DovecotHandle;
let clamd: ClamdHandle;
let dirA: MemberDirectory;
let dirB: MemberDirectory;
let nodeA: OrgNodeHandle;
let nodeB: OrgNodeHandle;
let depsA: RelayDeps;
let depsB: RelayDeps;
let tls: { key: Buffer; cert: Buffer; keyPath: string; certPath: string };
let credentialsPath: string;
const logs: Record<string, unknown>[] = [];

async function startB(port = 0, spoolDir = join(work, 'spool-b')): Promise<OrgNodeHandle> {
  const resolver = (name: string): Promise<never> => Promise.reject(Object.assign(new Error(`no DNS in tests: ${name}`), { code: 'ENOTFOUND' }));
  return startOrgNode({ name: 'node.b.example', relay: depsB, spoolDir, inbound: { port, external: mailauthChecker({ mta: 'node.b.example', resolver }) }, routes: mapRoutes({}), lmtp: dovecotB.lmtp, log: (e) => logs.push(e), worker: { retryDelaysMs: [200], pollMs: 200 } });
}

async function startA(route: number, spoolDir: string): Promise<OrgNodeHandle> {
  return startOrgNode({
    name: 'node.a.example',
    relay: depsA,
    spoolDir,
    submission: { port: 0, tls: { key: tls.key, cert: tls.cert }, authenticate: fileAuthenticator(credentialsPath) },
    routes: mapRoutes({ 'b.example': { host: '127.0.0.1', port: route } }),
    lmtp: dovecotA.lmtp,
    log: (e) => logs.push(e),
    worker: { retryDelaysMs: [200], pollMs: 200 },
  });
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'ssmax-relay-'));
  rw = await buildRelayWorld();
  [dovecotA, dovecotB, clamd] = await Promise.all([
    startDovecot({ users: [{ address: rw.alice.email, password: 'x' }, { address: rw.carol.email, password: 'x' }] }),
    startDovecot({ users: [{ address: rw.bob.email, password: 'x' }] }),
    startClamd(),
  ]);
  dirA = await directoryFor(join(work, 'dir-a.sqlite'), [rw.alice, rw.carol]);
  dirB = await directoryFor(join(work, 'dir-b.sqlite'), [rw.bob]);
  const inspect = engineInspector({ clamd: clamd.tcp });
  depsA = depsFor(rw, rw.world.a, dirA, inspect);
  depsB = depsFor(rw, rw.world.b, dirB, inspect);
  const keyPath = join(work, 'tls.key');
  const certPath = join(work, 'tls.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
  tls = { key: readFileSync(keyPath), cert: readFileSync(certPath), keyPath, certPath };
  credentialsPath = join(work, 'credentials.json');
  writeFileSync(credentialsPath, JSON.stringify({ [rw.alice.email]: await hashPassword('pw-alice'), [rw.carol.email]: await hashPassword('pw-carol'), [jiro]: await hashPassword('pw-jiro') }));
  // jiro@a.example: a member whose card certificate the org revoked (lost card).
  const revoked = rw.world.revoked.certificate;
  await dirA.addMember({ address: jiro, name: 'Jiro', staffId: 'S-jiro' }, 'test');
  const serial = revoked.serialNumber.toLowerCase().replace(/^(00)+/, '');
  await dirA.recordCertificate({ serial, address: jiro, slot: '9C', der: rw.world.revoked.der, notBefore: revoked.notBefore, notAfter: revoked.notAfter }, 'test');
  await dirA.revokeCertificate(serial, 'keyCompromise', 'test');
  nodeB = await startB();
  nodeA = await startA(nodeB.inboundPort ?? 0, join(work, 'spool-a'));
}, 180_000);

afterAll(async () => {
  await nodeA?.stop();
  await nodeB?.stop();
  await Promise.all([dovecotA?.stop(), dovecotB?.stop(), clamd?.stop()]);
  await dirA?.close();
  await dirB?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

const jiro = 'jiro@a.example';
const passwords: Record<string, string> = { 'hanako@a.example': 'pw-alice', 'carol@a.example': 'pw-carol', [jiro]: 'pw-jiro' };

async function submit(port: number, login: Person, raw: Buffer, rcptTo: string[], mailFrom = login.email): Promise<string> {
  const t = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, requireTLS: true, tls: { rejectUnauthorized: false }, auth: { user: login.email, pass: passwords[login.email] ?? '' } });
  try {
    const info = await t.sendMail({ envelope: { from: mailFrom, to: rcptTo }, raw });
    return String(info.response);
  } finally {
    t.close();
  }
}

async function signedMail(from: Person, to: string, opts: { signer?: Person; content?: ContentInput } = {}): Promise<{ raw: Buffer; messageId: string }> {
  const headers = headersFor(from.email, to);
  const mail = await buildMail({ headers, signer: signerOf((opts.signer ?? from).signature), signerCaDer: caDer(rw.world.a), encryptTo: rw.world.a.encryption.der, ...(opts.content ? { content: opts.content } : {}) });
  return { raw: mail.wire, messageId: headers.messageId };
}

function mailbox(d: DovecotHandle, address: string): Buffer[] {
  const root = d.maildirOf(address);
  const out: Buffer[] = [];
  for (const sub of ['new', 'cur']) {
    const p = join(root, sub);
    if (!existsSync(p)) continue;
    for (const f of readdirSync(p)) out.push(readFileSync(join(p, f)));
  }
  return out;
}

const withId = (msgs: Buffer[], messageId: string): Buffer[] => msgs.filter((m) => m.includes(messageId));

async function until<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, limitMs = 60_000): Promise<T> {
  const end = Date.now() + limitMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('two org nodes on loopback', () => {
  it('alice@a → hanako@b arrives encrypted to the recipient 9D and verifies: sender, sending-org, receiving-org', async () => {
    const { raw, messageId } = await signedMail(rw.alice, rw.bob.email);
    expect(await submit(nodeA.submissionPort ?? 0, rw.alice, raw, [rw.bob.email])).toMatch(/^250/);
    const [delivered] = await until('delivery to b', () => (withId(mailbox(dovecotB, rw.bob.email), messageId).length ? withId(mailbox(dovecotB, rw.bob.email), messageId) : undefined));
    const v = await verifyMessage(delivered ?? Buffer.alloc(0), { trustAnchors: [rw.world.rootPem], decryptors: [decryptorOf(rw.bob.keyManagement)], at: new Date(), ownOrgDomains: ['b.example'], recipient: rw.bob.email });
    expect(v.reasons).toEqual([]);
    expect(v.state).toBe('verified');
    expect(v.links.map((l) => l.role)).toEqual(['sender', 'sending-org', 'receiving-org']);
    expect(v.links[1]?.attestation?.engine).toMatch(/ClamAV/);
    const orgKey = await verifyMessage(delivered ?? Buffer.alloc(0), { trustAnchors: [rw.world.rootPem], decryptors: [decryptorOf(rw.world.b.encryption)], at: new Date() });
    expect(orgKey.reasons.map((r) => r.code)).toContain('decryption-failed');
  });

  it('internal alice@a → carol@a is one hop with a single-org link', async () => {
    const { raw, messageId } = await signedMail(rw.alice, rw.carol.email);
    await submit(nodeA.submissionPort ?? 0, rw.alice, raw, [rw.carol.email]);
    const [delivered] = await until('delivery to carol', () => (withId(mailbox(dovecotA, rw.carol.email), messageId).length ? withId(mailbox(dovecotA, rw.carol.email), messageId) : undefined));
    const v = await verifyMessage(delivered ?? Buffer.alloc(0), { trustAnchors: [rw.world.rootPem], decryptors: [decryptorOf(rw.carol.keyManagement)], at: new Date(), ownOrgDomains: ['a.example'], recipient: rw.carol.email });
    expect(v.state).toBe('verified');
    expect(v.links.map((l) => l.role)).toEqual(['sender', 'single-org']);
  });

  it('some recipients refused: the others get the mail, the sender gets a bounce with the reason in her mailbox', async () => {
    const { raw, messageId } = await signedMail(rw.alice, rw.carol.email);
    const response = await submit(nodeA.submissionPort ?? 0, rw.alice, raw, [rw.carol.email, 'nobody@a.example']);
    expect(response).toMatch(/^250 .*refused for nobody@a\.example/);
    await until('delivery to carol', () => (withId(mailbox(dovecotA, rw.carol.email), messageId).length ? true : undefined));
    const [bounce] = await until('the bounce', () => {
      const b = mailbox(dovecotA, rw.alice.email).filter((m) => m.includes(messageId) && m.includes('Undelivered mail'));
      return b.length ? b : undefined;
    });
    expect(bounce?.toString('utf8')).toMatch(/nobody@a\.example: nobody@a\.example is not an active member of this organisation/);
  });

  it('a spoof (signed by alice, submitted by carol with From carol) is refused at DATA with the reason; nothing is queued', async () => {
    // An earlier test's bounce may still be moving from queued to done: count once a is idle.
    const idle = async (): Promise<true | undefined> => ((await nodeA.spool.queued()).length === 0 ? true : undefined);
    await until('a idle', idle);
    const before = readdirSync(join(nodeA.spool.dir, 'done')).length;
    const headers = headersFor(rw.carol.email, rw.bob.email);
    const mail = await buildMail({ headers, signer: signerOf(rw.alice.signature), signerCaDer: caDer(rw.world.a), encryptTo: rw.world.a.encryption.der });
    const err = (await submit(nodeA.submissionPort ?? 0, rw.carol, mail.wire, [rw.bob.email]).catch((e: unknown) => e)) as { responseCode?: number; response?: string };
    expect(err.responseCode).toBe(550);
    expect(err.response).toMatch(/signed by hanako@a\.example, but you are logged in as carol@a\.example/);
    expect(await idle()).toBe(true);
    expect(readdirSync(join(nodeA.spool.dir, 'done')).length).toBe(before);
  });

  it('a member whose card certificate was revoked is refused at DATA', async () => {
    const headers = headersFor(jiro, rw.bob.email);
    const mail = await buildMail({ headers, signer: signerOf(rw.world.revoked), signerCaDer: caDer(rw.world.a), encryptTo: rw.world.a.encryption.der });
    const person = { email: jiro, signature: rw.world.revoked, keyManagement: rw.world.revoked };
    const err = (await submit(nodeA.submissionPort ?? 0, person, mail.wire, [rw.bob.email]).catch((e: unknown) => e)) as { responseCode?: number; response?: string };
    expect(err.responseCode).toBe(550);
    expect(err.response).toMatch(/not your current staff card certificate/);
  });

  it('inbound: a message of a member of a countersigned by another org (b, or a rogue "a" under another root) is refused', async () => {
    for (const org of [rw.world.b, rw.world.rogue]) {
      const headers = headersFor(rw.alice.email, rw.bob.email);
      const forged = await buildMail({
        headers,
        signer: signerOf(rw.alice.signature),
        signerCaDer: caDer(rw.world.a),
        links: [{ signer: signerOf(org.signing), caDer: caDer(org), hop: 'sending-org', time: new Date(), envelope: { mailFrom: rw.alice.email, rcptTo: [rw.bob.email] } }],
        encryptTo: rw.world.b.encryption.der,
      });
      const t = nodemailer.createTransport({ host: '127.0.0.1', port: nodeB.inboundPort ?? 0, secure: false, ignoreTLS: true });
      const err = (await t.sendMail({ envelope: { from: rw.alice.email, to: [rw.bob.email] }, raw: forged.wire }).catch((e: unknown) => e)) as { responseCode?: number; response?: string };
      t.close();
      expect(err.responseCode).toBe(550);
      expect(err.response).toMatch(/signature chain was refused/);
      console.log(`forged ② by ${org.name} (${org === rw.world.rogue ? 'rogue root' : 'b'}): ${err.response ?? ''}`);
    }
    expect(withId(mailbox(dovecotB, rw.bob.email), 'forged')).toHaveLength(0);
  });

  it('inbound: plain mail from outside SSMAX is delivered marked external with its SPF/DKIM/DMARC results; a plain "colleague" is refused', async () => {
    const messageId = `<ext-${Date.now()}@partner.example>`;
    const raw = `From: Partner <sales@partner.example>\r\nTo: ${rw.bob.email}\r\nSubject: Quote\r\nMessage-ID: ${messageId}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nHello.\r\n`;
    const t = nodemailer.createTransport({ host: '127.0.0.1', port: nodeB.inboundPort ?? 0, secure: false, ignoreTLS: true, name: 'mx.partner.example' });
    await t.sendMail({ envelope: { from: 'sales@partner.example', to: [rw.bob.email] }, raw });
    const spoof = (await t.sendMail({ envelope: { from: 'boss@b.example', to: [rw.bob.email] }, raw: raw.replace('sales@partner.example', 'boss@b.example') }).catch((e: unknown) => e)) as { responseCode?: number; response?: string };
    t.close();
    expect(spoof.responseCode).toBe(550);
    expect(spoof.response).toMatch(/refused as a spoof/);
    const [delivered] = await until('external delivery', () => (withId(mailbox(dovecotB, rw.bob.email), messageId).length ? withId(mailbox(dovecotB, rw.bob.email), messageId) : undefined));
    const v = await verifyMessage(delivered ?? Buffer.alloc(0), { trustAnchors: [rw.world.rootPem], decryptors: [decryptorOf(rw.bob.keyManagement)], at: new Date(), ownOrgDomains: ['b.example'], recipient: rw.bob.email });
    expect(v.state).toBe('unsigned');
    expect(v.external).toBe(true);
    const text = Buffer.from(v.content?.bytes ?? new Uint8Array()).toString('utf8');
    expect(text).toMatch(/^Authentication-Results: node\.b\.example;/m);
    expect(text).toMatch(/spf=/);
    expect(text).toMatch(/dmarc=/);
  });

  it('inbound: mail for a domain of another org is refused at RCPT', async () => {
    const t = nodemailer.createTransport({ host: '127.0.0.1', port: nodeB.inboundPort ?? 0, secure: false, ignoreTLS: true });
    const err = (await t.sendMail({ envelope: { from: rw.alice.email, to: ['x@c.example'] }, raw: 'Subject: x\r\n\r\nx\r\n' }).catch((e: unknown) => e)) as { responseCode?: number; response?: string };
    t.close();
    expect(err.responseCode).toBe(550);
    expect(err.response).toMatch(/does not accept mail for c\.example/);
  });

  it('no password over plain text: AUTH before STARTTLS is refused', async () => {
    const t = nodemailer.createTransport({ host: '127.0.0.1', port: nodeA.submissionPort ?? 0, secure: false, ignoreTLS: true, auth: { user: rw.alice.email, pass: 'pw-alice' } });
    const err = (await t.sendMail({ envelope: { from: rw.alice.email, to: [rw.bob.email] }, raw: 'Subject: x\r\n\r\nx\r\n' }).catch((e: unknown) => e)) as { responseCode?: number; response?: string };
    t.close();
    expect(err.responseCode).toBe(538);
  });

  it('without login nothing is accepted', async () => {
    const t = nodemailer.createTransport({ host: '127.0.0.1', port: nodeA.submissionPort ?? 0, secure: false, requireTLS: true, tls: { rejectUnauthorized: false } });
    const err = (await t.sendMail({ envelope: { from: rw.alice.email, to: [rw.bob.email] }, raw: 'Subject: x\r\n\r\nx\r\n' }).catch((e: unknown) => e)) as { responseCode?: number };
    t.close();
    expect(err.responseCode).toBe(530);
  });

  it('an EICAR attachment is refused with the inspection reason', async () => {
    const { raw } = await signedMail(rw.alice, rw.bob.email, { content: { text: 'see attached\n', attachments: [{ filename: 'invoice.pdf', content: eicarTestFile() }] } });
    const err = (await submit(nodeA.submissionPort ?? 0, rw.alice, raw, [rw.bob.email]).catch((e: unknown) => e)) as { responseCode?: number; response?: string };
    expect(err.responseCode).toBe(550);
    expect(err.response).toMatch(/invoice\.pdf/);
    expect(err.response).toMatch(/Danger|malware|EICAR/i);
    console.log(`EICAR refusal: ${err.response ?? ''}`);
  });

  it('next hop down: the copy stays queued, and is delivered once the node of b is back', async () => {
    const port = await freePort();
    const a2 = await startA(port, join(work, 'spool-a2'));
    let b2: OrgNodeHandle | undefined;
    try {
      const { raw, messageId } = await signedMail(rw.alice, rw.bob.email);
      expect(await submit(a2.submissionPort ?? 0, rw.alice, raw, [rw.bob.email])).toMatch(/^250/);
      await until('a deferred attempt', () => logs.some((l) => l['event'] === 'spool.deferred' && String(l['reason']).match(/ECONNREFUSED|connect/i)) || undefined);
      expect(await a2.spool.queued()).toHaveLength(1);
      expect(withId(mailbox(dovecotB, rw.bob.email), messageId)).toHaveLength(0);
      b2 = await startB(port, join(work, 'spool-b2'));
      await until('delivery after the next hop came back', () => (withId(mailbox(dovecotB, rw.bob.email), messageId).length > 0 ? true : undefined));
      await until('a2 queue empty', async () => ((await a2.spool.queued()).length === 0 ? true : undefined));
      expect(withId(mailbox(dovecotB, rw.bob.email), messageId)).toHaveLength(1);
    } finally {
      await a2.stop();
      await b2?.stop();
    }
  });

  it('mailbox store (LMTP) down: the copy stays queued at b, and is delivered once Dovecot is reachable again', async () => {
    // A TCP proxy in front of Dovecot's LMTP stands for Dovecot going away and coming back on its port.
    const lmtpPort = await freePort();
    let proxy: Server | undefined;
    const openProxy = (): Promise<void> =>
      new Promise((res) => {
        proxy = createServer((c) => {
          const up = connect(dovecotB.lmtp.port, dovecotB.lmtp.host);
          c.pipe(up).pipe(c);
          c.on('error', () => up.destroy());
          up.on('error', () => c.destroy());
        });
        proxy.listen(lmtpPort, '127.0.0.1', () => res());
      });
    const b3 = await startOrgNode({ name: 'node.b.example', relay: depsB, spoolDir: join(work, 'spool-b3'), inbound: { port: 0 }, routes: mapRoutes({}), lmtp: { host: '127.0.0.1', port: lmtpPort }, log: (e) => logs.push({ ...e, node: 'b3' }), worker: { retryDelaysMs: [200], pollMs: 200 } });
    const a3 = await startA(b3.inboundPort ?? 0, join(work, 'spool-a3'));
    try {
      const { raw, messageId } = await signedMail(rw.alice, rw.bob.email);
      expect(await submit(a3.submissionPort ?? 0, rw.alice, raw, [rw.bob.email])).toMatch(/^250/);
      await until('a deferred LMTP attempt at b', () => logs.some((l) => l['node'] === 'b3' && l['event'] === 'spool.deferred') || undefined);
      expect(await b3.spool.queued()).toHaveLength(1);
      expect(withId(mailbox(dovecotB, rw.bob.email), messageId)).toHaveLength(0);
      await openProxy();
      await until('delivery after LMTP came back', () => (withId(mailbox(dovecotB, rw.bob.email), messageId).length > 0 ? true : undefined));
      await until('b3 queue empty', async () => ((await b3.spool.queued()).length === 0 ? true : undefined));
      expect(withId(mailbox(dovecotB, rw.bob.email), messageId)).toHaveLength(1);
    } finally {
      await a3.stop();
      await b3.stop();
      await new Promise((r) => (proxy ? proxy.close(r) : r(undefined)));
    }
  });

  it('kill -9 of the sending node right after the next hop accepted: after restart the message is delivered exactly once', async () => {
    const spoolDir = join(work, 'spool-child');
    const { config, configPath, submissionPort } = await childConfig(spoolDir, 'crashed', 1);
    const child1 = await startChild(configPath);
    const { raw, messageId } = await signedMail(rw.alice, rw.bob.email);
    expect(await submit(submissionPort, rw.alice, raw, [rw.bob.email])).toMatch(/^250/);
    const exit = await new Promise<NodeJS.Signals | null>((r) => child1.proc.once('exit', (_c, sig) => r(sig)));
    expect(exit).toBe('SIGKILL');
    expect(existsSync(config.crashMarker ?? '')).toBe(true);
    expect(readdirSync(join(spoolDir, 'queue'))).toHaveLength(1); // b said 250, a did not record it
    await until('b delivered the first copy', () => (withId(mailbox(dovecotB, rw.bob.email), messageId).length > 0 ? true : undefined));

    const child2 = await startChild(configPath);
    try {
      await until('the restarted node handed the copy on again', () => (readdirSync(join(spoolDir, 'queue')).length === 0 ? true : undefined));
      await until('b idle', async () => ((await nodeB.spool.queued()).length === 0 ? true : undefined));
      // b saw the copy twice (before the crash and after the restart) and kept one.
      expect(logs.filter((l) => l['event'] === 'inbound' && String(l['messageId']) === messageId)).toHaveLength(2);
      expect(withId(mailbox(dovecotB, rw.bob.email), messageId)).toHaveLength(1);
    } finally {
      child2.proc.kill('SIGTERM');
      await new Promise((r) => child2.proc.once('exit', r));
    }
  });

  it('kill -9 of the receiving node after it spooled but before its 250: the sender retries, b keeps one copy, delivered once', async () => {
    const b64 = (u: Uint8Array): string => Buffer.from(u).toString('base64');
    const inboundPort = await freePort();
    const spoolDir = join(work, 'spool-b-child');
    const config: ChildConfig = {
      name: 'node.b.example',
      domains: ['b.example'],
      caB64: b64(caDer(rw.world.b)),
      signing: { pkcs8: b64(rw.world.b.signing.pkcs8), cert: b64(rw.world.b.signing.der) },
      encryption: { pkcs8: b64(rw.world.b.encryption.pkcs8), cert: b64(rw.world.b.encryption.der) },
      rootPem: rw.world.rootPem,
      directoryPath: join(work, 'dir-b.sqlite'),
      spoolDir,
      inboundPort,
      tlsKey: tls.keyPath,
      tlsCert: tls.certPath,
      credentialsPath,
      routes: {},
      orgs: {},
      lmtp: dovecotB.lmtp,
      crashMarker: join(work, 'crashed-b'),
      crashPoint: 'after-enqueue',
    };
    const configPath = join(work, 'child-b.json');
    writeFileSync(configPath, JSON.stringify(config));
    const a4 = await startA(inboundPort, join(work, 'spool-a4'));
    const child1 = await startChild(configPath);
    try {
      const { raw, messageId } = await signedMail(rw.alice, rw.bob.email);
      expect(await submit(a4.submissionPort ?? 0, rw.alice, raw, [rw.bob.email])).toMatch(/^250/);
      expect(await new Promise<NodeJS.Signals | null>((r) => child1.proc.once('exit', (_c, sig) => r(sig)))).toBe('SIGKILL');
      expect(readdirSync(join(spoolDir, 'queue'))).toHaveLength(1); // spooled, but a never got the 250
      expect(await a4.spool.queued()).toHaveLength(1);
      const child2 = await startChild(configPath);
      try {
        await until('a handed it on after the restart', async () => ((await a4.spool.queued()).length === 0 ? true : undefined));
        await until('b delivered', () => (readdirSync(join(spoolDir, 'queue')).length === 0 && withId(mailbox(dovecotB, rw.bob.email), messageId).length > 0 ? true : undefined));
        expect(readdirSync(join(spoolDir, 'done'))).toHaveLength(1); // the retry was recognised by its relay id
        expect(withId(mailbox(dovecotB, rw.bob.email), messageId)).toHaveLength(1);
      } finally {
        child2.proc.kill('SIGTERM');
        await new Promise((r) => child2.proc.once('exit', r));
      }
    } finally {
      await a4.stop();
    }
  });

  it('kill -9 in the middle of a batch of 40: the client retries like its outbox, every message arrives exactly once', async () => {
    const spoolDir = join(work, 'spool-batch');
    const { config, configPath, submissionPort } = await childConfig(spoolDir, 'crashed-batch', 15);
    let restarts = 0;
    let stopping = false;
    let current = await startChild(configPath);
    const supervise = (c: { proc: ChildProcess }): void => {
      c.proc.once('exit', (_code, sig) => {
        if (stopping || sig !== 'SIGKILL') return;
        restarts++;
        void startChild(configPath).then((n) => {
          current = n;
          supervise(n);
        });
      });
    };
    supervise(current);
    const ids: string[] = [];
    try {
      for (let i = 0; i < 40; i++) {
        const { raw, messageId } = await signedMail(rw.alice, rw.bob.email);
        ids.push(messageId);
        for (let attempt = 0; ; attempt++) {
          try {
            expect(await submit(submissionPort, rw.alice, raw, [rw.bob.email])).toMatch(/^250/);
            break;
          } catch (err) {
            if (attempt > 100) throw err;
            await new Promise((r) => setTimeout(r, 100));
          }
        }
      }
      await until('the crash', () => (existsSync(config.crashMarker ?? '') ? true : undefined));
      await until('the restarted node emptied its queue', () => (restarts === 1 && readdirSync(join(spoolDir, 'queue')).length === 0 ? true : undefined), 120_000);
      await until('b idle', async () => ((await nodeB.spool.queued()).length === 0 ? true : undefined));
      const box = mailbox(dovecotB, rw.bob.email);
      const counts = ids.map((id) => withId(box, id).length);
      expect(counts).toEqual(ids.map(() => 1));
      expect(restarts).toBe(1);
    } finally {
      stopping = true;
      current.proc.kill('SIGTERM');
      await new Promise((r) => current.proc.once('exit', r));
    }
  }, 300_000);
});

async function childConfig(spoolDir: string, marker: string, crashAfter: number): Promise<{ config: ChildConfig; configPath: string; submissionPort: number }> {
  const submissionPort = await freePort();
  const written = writeOrgAChildConfig(rw, {
    work,
    name: marker,
    spoolDir,
    submissionPort,
    tls,
    credentialsPath,
    bInboundPort: nodeB.inboundPort ?? 0,
    lmtp: dovecotA.lmtp,
    crash: { marker, after: crashAfter },
  });
  return { ...written, submissionPort };
}

async function startChild(configPath: string): Promise<{ proc: ChildProcess }> {
  const script = resolve(__dirname, 'node-child.ts');
  const proc = spawn(process.execPath, ['--import', 'tsx', script, configPath], { stdio: ['ignore', 'pipe', 'pipe'], cwd: resolve(__dirname, '../../..') });
  let err = '';
  proc.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  await new Promise<void>((res, rej) => {
    let out = '';
    proc.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready ')) res();
    });
    proc.once('exit', (code) => rej(new Error(`node child exited (${code}): ${err}`)));
  });
  return { proc };
}
