import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { x509 } from '../../../smime/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Draft, OutboxEntry } from '../../../api';
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
 * compose.send through the service host with the real card path: pcscd + the virtual card
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
const logs: Record<string, unknown>[] = [];
const events: OutboxEntry[][] = [];

function draft(extra: Partial<Draft> = {}): Draft {
  return { accountId: 'acct-1', to: [rw.carol.email], cc: [], subject: 'カードで署名', text: 'signed on the card', attachments: [], ...extra };
}

async function record(der: Uint8Array, slot: '9C' | '9D'): Promise<void> {
  const c = new x509.X509Certificate(der);
  await dir.recordCertificate({ serial: c.serialNumber.toLowerCase().replace(/^(00)+/, ''), address: HOLDER, slot, der, notBefore: c.notBefore, notAfter: c.notAfter }, 'test');
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'ssmax-compose-host-'));
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
    lmtp: { host: '127.0.0.1', port: 1 },
    log: (e) => logs.push(e),
    worker: { retryDelaysMs: [3_600_000], pollMs: 3_600_000 },
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
  host.events.on('outbox.changed', (e) => events.push(e));
  const found = await host.accounts.discover(HOLDER);
  await host.accounts.confirm(found.id);
  card = await startVirtualCard(pcscd, { stateFile: enrolled.stateFile });
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

/** Answers the next PIN prompt with `pin`. */
function answerNextPin(pin: string): void {
  const stop = host.events.on('pin.requested', (req) => {
    stop();
    void host.pin.answer(req.requestId, pin);
  });
}

describe('compose.send through the service host and the card', () => {
  it('wrong PIN → WrongPin with the tries left; nothing queued', async () => {
    answerNextPin('654321');
    await expect(host.compose.send(draft())).rejects.toMatchObject({ code: 'WrongPin', message: expect.stringMatching(/2 tries left/) });
    expect(await host.outbox.list()).toEqual([]);
  });

  it('right PIN → signed on the card, 250 from the org node, Sent copy APPENDed, removed; the Sent copy opens with the card', async () => {
    answerNextPin(PIN);
    const done = new Promise<void>((resolve) => {
      let sawSent = false;
      const stop = host.events.on('outbox.changed', (e) => {
        if (e.some((x) => x.state === 'sent')) sawSent = true;
        if (sawSent && e.length === 0) {
          stop();
          resolve();
        }
      });
    });
    const receipt = await host.compose.send(draft());
    expect(receipt.state).toBe('queued');
    await done;
    expect(await host.outbox.list()).toEqual([]);
    expect(events.flat().map((e) => e.state)).toEqual(expect.arrayContaining(['queued', 'submitting', 'sent']));
    const sub = logs.find((e) => e.event === 'submission' && e.submitter === HOLDER);
    expect(sub?.chain).toEqual([expect.objectContaining({ status: 'valid' })]);
    expect(sub?.outcomes).toEqual([expect.objectContaining({ kind: 'deliver' })]);

    // The Sent copy: encrypted to the card's 9D certificate, in Dovecot's Sent folder as UID 1.
    answerNextPin(PIN);
    const opened = await host.messages.open({ accountId: 'acct-1', path: 'Sent', uid: 1 }, { loadRemoteContent: false });
    expect(opened.headers.subject).toBe('カードで署名');
    expect(opened.text).toContain('signed on the card');
    expect(opened.chain.links[0]).toEqual(expect.objectContaining({ status: 'valid', email: HOLDER }));
  });
});
