import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { x509 } from '../../../smime/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Draft, MessageRef } from '../../../api';
import { PROVISIONING_FORMAT } from '../../../client/first-launch/provisioning';
import { ServiceHost } from '../../../client/service-host';
import type { MemberDirectory } from '../../../org-node/directory/directory';
import { fileAuthenticator, hashPassword } from '../../../org-node/smtp/credentials';
import { mapRoutes } from '../../../org-node/smtp/handoff';
import { startOrgNode, type OrgNodeHandle } from '../../../org-node/smtp/node';
import { signOrgBundle } from '../../../smime/bundle/sign';
import { startDovecot, type DovecotHandle } from '../../harness/dovecot';
import { startPcscd, type PcscdHandle } from '../../harness/pcsc';
import { freePort } from '../../harness/process';
import { startVirtualCard, type VirtualCardHandle } from '../../harness/virtual-card';
import { buildRelayWorld, depsFor, directoryFor, type RelayWorld } from '../../org-node/relay/relay-world';
import { caDer, signerOf } from '../../smime/chain/world';
import { enrollVirtualCard, type EnrolledCard } from '../../support/virtual-card-enroll';

/**
 * Replies and forwards through the service host, the card and A's org node (SPEC §4): Kaori sends
 * herself a mail (internal, one hop: the node counter-signs and delivers it by LMTP to Dovecot,
 * encrypted to her 9D); she replies to it and forwards it. The reply carries In-Reply-To and
 * References of the original and "Re: " once; the forward, delivered by the node, opens as
 * verified (④ + the node's link) with the original inside verified on its own (① + its link).
 *
 * Setup as host.int.test.ts: compose.send through the service host with the real card path: pcscd + the virtual card
 * (9C/9D enrolled under A Corp's CA), the org bundle pinned by first launch (served over HTTPS,
 * signed by A's org signing key), the org node's submission server. Wrong PIN → WrongPin, nothing
 * queued; right PIN → signed on the card, 250 from the node (which verified the card's signature
 * and that it is the submitting user's), outbox.changed events, the Sent copy APPENDed to Dovecot's
 * Sent folder and only then the entry removed; the Sent copy opens with the card's 9D key.
 */
const HOLDER = 'kaori@a.example';
const PIN = '123456';

let rw: RelayWorld;
let work: string;
let dir: MemberDirectory;
let node: OrgNodeHandle;
let https: Server;
let pcscd: PcscdHandle;
let dovecot: DovecotHandle;
let card: VirtualCardHandle | undefined;
let enrolled: EnrolledCard;
let host: ServiceHost;


function draft(extra: Partial<Draft> = {}): Draft {
  return { accountId: 'acct-1', to: [rw.carol.email], cc: [], subject: 'カードで署名', text: 'signed on the card', attachments: [], ...extra };
}

async function record(der: Uint8Array, slot: '9C' | '9D'): Promise<void> {
  const c = new x509.X509Certificate(der);
  await dir.recordCertificate({ serial: c.serialNumber.toLowerCase().replace(/^(00)+/, ''), address: HOLDER, slot, der, notBefore: c.notBefore, notAfter: c.notAfter }, 'test');
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'ssmax-compose-reply-'));
  rw = await buildRelayWorld();
  pcscd = await startPcscd();
  dovecot = await startDovecot({ users: [{ address: HOLDER, password: 'pw-kaori' }] });
  enrolled = await enrollVirtualCard(join(work, 'card.json'), rw.world.a.ca, { orgName: 'A Corp', name: 'Kaori Sato', staffId: 'A-0007', email: HOLDER });
  dir = await directoryFor(join(work, 'dir-a.sqlite'), [rw.alice, rw.carol]);
  await dir.addMember({ address: HOLDER, name: 'Kaori Sato', staffId: 'A-0007' }, 'test');
  await record(enrolled.signatureCert, '9C');
  await record(enrolled.keyManagementCert, '9D');

  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(work, 'tls.key'), '-out', join(work, 'tls.pem'), '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const key = readFileSync(join(work, 'tls.key'));
  const cert = readFileSync(join(work, 'tls.pem'));
  writeFileSync(join(work, 'credentials.json'), JSON.stringify({ [HOLDER]: await hashPassword('pw-kaori') }));
  const port = await freePort();
  node = await startOrgNode({
    name: 'node.a.example',
    relay: depsFor(rw, rw.world.a, dir),
    spoolDir: join(work, 'spool'),
    submission: { port, tls: { key, cert }, authenticate: fileAuthenticator(join(work, 'credentials.json')) },
    routes: mapRoutes({}),
    lmtp: dovecot.lmtp,
    log: () => undefined,
    worker: { retryDelaysMs: [200], pollMs: 200 },
  });

  // A's org bundle, served over HTTPS (first launch pins it).
  const now = Date.now();
  const bundle = await signOrgBundle(
    {
      org: { name: 'A Corp', domains: ['a.example'] },
      version: 1,
      issuedAt: new Date(now - 60_000),
      expiresAt: new Date(now + 30 * 86_400_000),
      orgCa: caDer(rw.world.a),
      signingCertificates: [rw.world.a.signing.der],
      encryptionCertificates: [rw.world.a.encryption.der],
      crlUrl: 'https://ssmax.a.example/crl',
      submission: { host: '127.0.0.1', port },
      abuseEndpoint: 'https://ssmax.a.example/abuse',
    },
    signerOf(rw.world.a.signing),
  );
  https = createServer({ key, cert }, (req, res) => {
    if (req.url === '/.well-known/ssmax/bundle.p7s') res.writeHead(200, { 'content-type': 'application/pkcs7-mime' }).end(Buffer.from(bundle));
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
  const bundleUrl = `https://127.0.0.1:${(https.address() as AddressInfo).port}/.well-known/ssmax/bundle.p7s`;

  const dataDir = join(work, 'data');
  execFileSync('mkdir', ['-p', dataDir]);
  writeFileSync(join(dataDir, 'provisioning.json'), JSON.stringify({ format: PROVISIONING_FORMAT, address: HOLDER, bundleUrl, tlsCaPem: cert.toString('utf8'), trustAnchorsPem: [rw.world.rootPem] }));
  // The mail account on a real Dovecot (the Sent copy is APPENDed there; SMTP AUTH uses the same credentials).
  writeFileSync(join(dataDir, 'accounts.json'), JSON.stringify({ version: 1, accounts: [{ id: 'acct-1', email: HOLDER, displayName: 'Kaori', imap: { host: dovecot.imap.host, port: dovecot.imap.port, security: 'none', username: HOLDER, password: 'pw-kaori' }, createdAt: new Date().toISOString() }] }));
  host = await ServiceHost.open({
    dataDir,
    runtime: 'bridge',
    card: { env: { ...process.env, ...pcscd.env }, requestTimeoutMs: 20_000, pinTtlMs: 0 },
    compose: { smtpCaPem: cert.toString('utf8'), retryDelayMs: () => 3_600_000 },
    open: { trust: { trustAnchors: [rw.world.rootPem], ownOrgDomains: ['a.example'] } },
  });
  const found = await host.accounts.discover(HOLDER);
  await host.accounts.confirm(found.id);
  card = await startVirtualCard(pcscd, { stateFile: enrolled.stateFile });
  answerEveryPin();
}, 180_000);

afterAll(async () => {
  await host?.close();
  await card?.stop();
  await pcscd?.stop();
  await dovecot?.stop();
  await node?.stop();
  await new Promise((r) => https?.close(r));
  await dir?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The user types the right PIN at every prompt (pinTtlMs 0: the decrypt of the original and the signature prompt separately). */
function answerEveryPin(): void {
  host.events.on('pin.requested', (req) => void host.pin.answer(req.requestId, PIN));
}

/** Sends `d` and waits until the outbox is empty again (250 from the node, Sent copy stored). */
async function sendAndWait(d: Draft): Promise<void> {
  const done = new Promise<void>((resolve) => {
    const stop = host.events.on('outbox.changed', (e) => {
      if (e.length === 0) {
        stop();
        resolve();
      }
    });
  });
  await host.compose.send(d);
  await done;
}

/** Waits for the INBOX message with this subject (delivered by the node over LMTP) and returns its ref. */
async function inboxMessage(subject: string): Promise<MessageRef> {
  for (let i = 0; i < 200; i++) {
    const uids = await host.mail.account('acct-1')!.connection.run(async (c) => {
      const lock = await c.getMailboxLock('INBOX');
      try {
        return (await c.search({ all: true }, { uid: true })) || [];
      } finally {
        lock.release();
      }
    });
    for (const uid of uids) {
      const m = await host.messages.open({ accountId: 'acct-1', path: 'INBOX', uid }, { loadRemoteContent: false });
      if (m.headers.subject === subject) return m.ref;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`no INBOX message "${subject}"`);
}

describe('replies and forwards through the card and the org node', () => {
  let original: MessageRef;
  let originalId: string;

  it('the original: Kaori → Kaori, one hop, verified in her INBOX', async () => {
    await sendAndWait(draft({ to: [HOLDER], subject: '見積書', text: '見積書を送ります。' }));
    original = await inboxMessage('見積書');
    const opened = await host.messages.open(original, { loadRemoteContent: false });
    expect(opened.chain.state).toBe('verified');
    originalId = opened.headers.messageId;
    expect(originalId).toMatch(/^<.+@a\.example>$/);
  });

  it('reply: In-Reply-To and References name the original, subject "Re: " once (also when the UI already wrote it)', async () => {
    await sendAndWait(draft({ to: [HOLDER], subject: 'Re: 見積書', text: 'ありがとうございます。\n\n> 見積書を送ります。', inReplyTo: original }));
    const ref = await inboxMessage('Re: 見積書');
    const raw = await host.mail.account('acct-1')!.connection.run(async (c) => {
      const lock = await c.getMailboxLock('INBOX');
      try {
        const m = await c.fetchOne(String(ref.uid), { source: true }, { uid: true });
        if (!m || !m.source) throw new Error('no source');
        return m.source;
      } finally {
        lock.release();
      }
    });
    // Inside the encryption: decrypt through the API's open, which verified the protected headers.
    const opened = await host.messages.open(ref, { loadRemoteContent: false });
    expect(opened.chain.state).toBe('verified');
    expect(opened.text).toContain('> 見積書を送ります。');
    // In-Reply-To / References are protected (inside): the outer header shows them too (RFC 9788 keeps them).
    const outer = raw.toString('latin1');
    expect(outer).toMatch(new RegExp(`In-Reply-To: ${originalId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    expect(outer).toMatch(new RegExp(`References: ${originalId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  });

  it('forward: the node accepts it, and it opens verified with the original inside verified on its own chain', async () => {
    await sendAndWait(draft({ to: [HOLDER], subject: '', text: 'FYI', forwardOf: original }));
    const ref = await inboxMessage('Fwd: 見積書');
    const opened = await host.messages.open(ref, { loadRemoteContent: false });
    expect(opened.chain.reasons).toEqual([]);
    expect(opened.chain.state).toBe('verified');
    expect(opened.chain.links.map((l) => [l.role, l.status])).toEqual([
      ['forwarder', 'valid'],
      ['single-org', 'valid'],
    ]);
    expect(opened.chain.forwards).toHaveLength(1);
    const inner = opened.chain.forwards[0]!;
    expect(inner.state).toBe('verified');
    expect(inner.links.map((l) => [l.role, l.email ?? l.domains.join()])).toEqual([
      ['sender', HOLDER],
      ['single-org', 'a.example'],
    ]);
  });

  it('a reply to a message that is gone → NotFound before any PIN prompt; nothing queued', async () => {
    await expect(host.compose.send(draft({ inReplyTo: { ...original, uid: 99_999 } }))).rejects.toMatchObject({ code: 'NotFound' });
    expect(await host.outbox.list()).toEqual([]);
  });
});
