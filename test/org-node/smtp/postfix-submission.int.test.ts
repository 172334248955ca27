import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { verifyMessage } from '../../../smime/chain';
import type { MemberDirectory } from '../../../org-node/directory/directory';
import { mapRoutes } from '../../../org-node/smtp/handoff';
import { startOrgNode, type OrgNodeHandle } from '../../../org-node/smtp/node';
import { startDovecot, type DovecotHandle } from '../../harness/dovecot';
import { startPostfix, type PostfixHandle } from '../../harness/postfix';
import { freePort } from '../../harness/process';
import { buildMail, caDer, decryptorOf, headersFor, signerOf } from '../../smime/chain/world';
import { buildRelayWorld, depsFor, directoryFor, type Person, type RelayWorld } from '../relay/relay-world';

/**
 * Org a in production mode for submissions: members log in to a's private Postfix (SASL against
 * a's Dovecot), Postfix writes the login into its Received field (`smtpd_sasl_authenticated_header`)
 * and hands the message to a's node as content filter; the node checks that ① is that login, and
 * re-injects the copy for b into Postfix, which routes it to b's node (standalone inbound).
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
const logs: Record<string, unknown>[] = [];
const passwords: Record<string, string> = { 'hanako@a.example': 'pw-alice', 'carol@a.example': 'pw-carol' };

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'ssmax-pfsub-'));
  rw = await buildRelayWorld();
  [dovecotA, dovecotB] = await Promise.all([
    startDovecot({ saslForPostfix: true, users: [{ address: rw.alice.email, password: passwords[rw.alice.email] ?? '' }, { address: rw.carol.email, password: passwords[rw.carol.email] ?? '' }] }),
    startDovecot({ users: [{ address: rw.bob.email, password: 'x' }] }),
  ]);
  dirA = await directoryFor(join(work, 'a.sqlite'), [rw.alice, rw.carol]);
  dirB = await directoryFor(join(work, 'b.sqlite'), [rw.bob]);
  nodeB = await startOrgNode({ name: 'node.b.example', relay: depsFor(rw, rw.world.b, dirB), spoolDir: join(work, 'spool-b'), inbound: { port: 0 }, routes: mapRoutes({}), lmtp: dovecotB.lmtp, worker: { retryDelaysMs: [200], pollMs: 200 } });
  const filterPort = await freePort();
  postfix = await startPostfix({
    contentFilter: { port: filterPort },
    nextHop: { protocol: 'lmtp', host: dovecotA.lmtp.host, port: dovecotA.lmtp.port },
    routes: { 'b.example': { protocol: 'smtp', host: '127.0.0.1', port: nodeB.inboundPort ?? 0 } },
    // The lines README.md "Behind Postfix" documents for submissions.
    mainCf: { smtpd_sasl_auth_enable: 'yes', smtpd_sasl_type: 'dovecot', smtpd_sasl_path: dovecotA.authSocket, smtpd_sasl_authenticated_header: 'yes' },
  });
  nodeA = await startOrgNode({ name: 'node.a.example', relay: depsFor(rw, rw.world.a, dirA), spoolDir: join(work, 'spool-a'), filter: { port: filterPort, reinject: postfix.reinject }, routes: mapRoutes({}), lmtp: dovecotA.lmtp, log: (e) => logs.push(e) });
}, 180_000);

afterAll(async () => {
  await nodeA?.stop();
  await nodeB?.stop();
  await Promise.all([postfix?.stop(), dovecotA?.stop(), dovecotB?.stop()]);
  await dirA?.close();
  await dirB?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Submits through Postfix: SASL login as `login` (or none), envelope sender `mailFrom`. */
async function submit(login: Person | undefined, raw: Buffer, mailFrom: string): Promise<void> {
  const t = nodemailer.createTransport({ host: postfix.smtp.host, port: postfix.smtp.port, secure: false, ignoreTLS: true, ...(login ? { auth: { user: login.email, pass: passwords[login.email] ?? '' } } : {}) });
  try {
    await t.sendMail({ envelope: { from: mailFrom, to: [rw.bob.email] }, raw });
  } finally {
    t.close();
  }
}

function bobHas(messageId: string): Buffer[] {
  const box = join(dovecotB.maildirOf(rw.bob.email), 'new');
  return existsSync(box) ? readdirSync(box).map((f) => readFileSync(join(box, f))).filter((m) => m.includes(messageId)) : [];
}

async function until<T>(what: string, f: () => T | undefined, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const maillog = (): string => readFileSync(join(dirname(postfix.configDir), 'maillog'), 'utf8');

async function aliceMail(): Promise<{ raw: Buffer; messageId: string }> {
  const headers = headersFor(rw.alice.email, rw.bob.email);
  const mail = await buildMail({ headers, signer: signerOf(rw.alice.signature), signerCaDer: caDer(rw.world.a), encryptTo: rw.world.a.encryption.der });
  return { raw: mail.wire, messageId: headers.messageId };
}

it('logged in to Postfix as carol, a message signed by alice: the node refuses it (Postfix bounces it with the reason); nothing reaches b', async () => {
  const mail = await aliceMail();
  await submit(rw.carol, mail.raw, rw.alice.email);
  const line = await until('the filter refusal in the maillog', () => maillog().split('\n').find((l) => l.includes('The message is signed by hanako@a.example, but you are logged in as carol@a.example')));
  expect(line).toMatch(/said: 550 5\.7\.1 /);
  expect(line).toMatch(/status=bounced/);
  expect(logs.find((e) => e.event === 'submission' && e.messageId === mail.messageId)).toMatchObject({ submitter: 'carol@a.example', via: 'postfix' });
  expect(bobHas(mail.messageId)).toEqual([]);
});

it('not logged in, with a forged Authenticated-sender line in the message: taken as inbound, not as alice\'s submission; refused', async () => {
  const mail = await aliceMail();
  const forged = Buffer.concat([Buffer.from('Received: from pc (localhost [127.0.0.1])\r\n\t(Authenticated sender: hanako@a.example)\r\n\tby mail.a.example (Postfix) with ESMTPSA id 4XyZ1\r\n'), mail.raw]);
  await submit(undefined, forged, rw.alice.email);
  const line = await until('the filter refusal in the maillog', () => maillog().split('\n').find((l) => l.includes('does not accept mail for hanako@b.example from an unauthenticated sender')));
  expect(line).toMatch(/said: 550 5\.7\.1 /);
  expect(logs.some((e) => e.event === 'submission' && e.messageId === mail.messageId)).toBe(false);
  expect(bobHas(mail.messageId)).toEqual([]);
});

it('logged in as alice, signed by alice: ② at a, re-injected, routed by Postfix to b, delivered once and verified', async () => {
  const mail = await aliceMail();
  await submit(rw.alice, mail.raw, rw.alice.email);
  const found = await until('the message in hanako@b.example\'s mailbox', () => {
    const m = bobHas(mail.messageId);
    return m.length > 0 ? m : undefined;
  });
  expect(found).toHaveLength(1);
  const v = await verifyMessage(found[0] ?? Buffer.alloc(0), { trustAnchors: [rw.world.rootPem], decryptors: [decryptorOf(rw.bob.keyManagement)], at: new Date(), ownOrgDomains: ['b.example'], recipient: rw.bob.email });
  expect(v.reasons).toEqual([]);
  expect(v.state).toBe('verified');
  expect(v.links.map((l) => l.role)).toEqual(['sender', 'sending-org', 'receiving-org']);
  expect(logs.find((e) => e.event === 'submission' && e.messageId === mail.messageId)).toMatchObject({ submitter: 'hanako@a.example', via: 'postfix' });
});
