import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { verifyMessage } from '../../../smime/chain';
import type { MemberDirectory } from '../../../org-node/directory/directory';
import { fileAuthenticator, hashPassword } from '../../../org-node/smtp/credentials';
import { mapRoutes } from '../../../org-node/smtp/handoff';
import { startOrgNode, type OrgNodeHandle } from '../../../org-node/smtp/node';
import { startDovecot, type DovecotHandle } from '../../harness/dovecot';
import { startPostfix, type PostfixHandle } from '../../harness/postfix';
import { freePort } from '../../harness/process';
import { buildMail, caDer, decryptorOf, headersFor, signerOf } from '../../smime/chain/world';
import { buildRelayWorld, depsFor, directoryFor, type RelayWorld } from '../relay/relay-world';

/**
 * Org b in production mode: its private Postfix takes the mail on its public port, hands it to the
 * node's content filter, gets the re-encrypted copies back on the re-injection port and delivers
 * them by LMTP to Dovecot. Org a is a standalone node relaying to b's Postfix.
 */
let rw: RelayWorld;
let work: string;
let dovecotA: DovecotHandle;
let dovecotB: DovecotHandle;
let postfix: PostfixHandle;
let dirA: MemberDirectory;
let dirB: MemberDirectory;
let nodeA: OrgNodeHandle;
let nodeB: OrgNodeHandle;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'ssmax-pf-'));
  rw = await buildRelayWorld();
  [dovecotA, dovecotB] = await Promise.all([startDovecot({ users: [{ address: rw.alice.email, password: 'x' }] }), startDovecot({ users: [{ address: rw.bob.email, password: 'x' }] })]);
  dirA = await directoryFor(join(work, 'a.sqlite'), [rw.alice]);
  dirB = await directoryFor(join(work, 'b.sqlite'), [rw.bob]);
  const filterPort = await freePort();
  postfix = await startPostfix({ contentFilter: { port: filterPort }, nextHop: { protocol: 'lmtp', host: dovecotB.lmtp.host, port: dovecotB.lmtp.port } });
  nodeB = await startOrgNode({ name: 'node.b.example', relay: depsFor(rw, rw.world.b, dirB), spoolDir: join(work, 'spool-b'), filter: { port: filterPort, reinject: postfix.reinject }, routes: mapRoutes({}), lmtp: dovecotB.lmtp });
  const keyPath = join(work, 'tls.key');
  const certPath = join(work, 'tls.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '2', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
  const creds = join(work, 'creds.json');
  writeFileSync(creds, JSON.stringify({ [rw.alice.email]: await hashPassword('pw') }));
  nodeA = await startOrgNode({
    name: 'node.a.example',
    relay: depsFor(rw, rw.world.a, dirA),
    spoolDir: join(work, 'spool-a'),
    submission: { port: 0, tls: { key: readFileSync(keyPath), cert: readFileSync(certPath) }, authenticate: fileAuthenticator(creds) },
    routes: mapRoutes({ 'b.example': postfix.smtp }),
    lmtp: dovecotA.lmtp,
    worker: { retryDelaysMs: [200], pollMs: 200 },
  });
}, 180_000);

afterAll(async () => {
  await nodeA?.stop();
  await nodeB?.stop();
  await Promise.all([postfix?.stop(), dovecotA?.stop(), dovecotB?.stop()]);
  await dirA?.close();
  await dirB?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

it('alice@a → hanako@b through b\'s Postfix content_filter: delivered once, verified with the full chain', async () => {
  const headers = headersFor(rw.alice.email, rw.bob.email);
  const mail = await buildMail({ headers, signer: signerOf(rw.alice.signature), signerCaDer: caDer(rw.world.a), encryptTo: rw.world.a.encryption.der });
  const t = nodemailer.createTransport({ host: '127.0.0.1', port: nodeA.submissionPort ?? 0, secure: false, requireTLS: true, tls: { rejectUnauthorized: false }, auth: { user: rw.alice.email, pass: 'pw' } });
  await t.sendMail({ envelope: { from: rw.alice.email, to: [rw.bob.email] }, raw: mail.wire });
  t.close();
  const box = join(dovecotB.maildirOf(rw.bob.email), 'new');
  const end = Date.now() + 60_000;
  let found: Buffer[] = [];
  while (Date.now() < end) {
    found = existsSync(box) ? readdirSync(box).map((f) => readFileSync(join(box, f))).filter((m) => m.includes(headers.messageId)) : [];
    if (found.length > 0) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  expect(found).toHaveLength(1);
  const v = await verifyMessage(found[0] ?? Buffer.alloc(0), { trustAnchors: [rw.world.rootPem], decryptors: [decryptorOf(rw.bob.keyManagement)], at: new Date(), ownOrgDomains: ['b.example'], recipient: rw.bob.email });
  expect(v.reasons).toEqual([]);
  expect(v.state).toBe('verified');
  expect(v.links.map((l) => l.role)).toEqual(['sender', 'sending-org', 'receiving-org']);
  expect(await postfix.queue()).toEqual([]);
});
