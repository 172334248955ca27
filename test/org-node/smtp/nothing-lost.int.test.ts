import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MemberDirectory } from '../../../org-node/directory/directory';
import { hashPassword } from '../../../org-node/smtp/credentials';
import { mapRoutes } from '../../../org-node/smtp/handoff';
import { startOrgNode, type OrgNodeHandle } from '../../../org-node/smtp/node';
import { startDovecot, type DovecotHandle } from '../../harness/dovecot';
import { freePort } from '../../harness/process';
import { buildMail, caDer, headersFor, signerOf } from '../../smime/chain/world';
import { buildRelayWorld, depsFor, directoryFor, type RelayWorld } from '../relay/relay-world';
import { writeOrgAChildConfig } from './node-child-config';

/**
 * SPEC §9 "kill any process at any moment", at batch scale: 200 messages alice@a → bob@b submitted
 * 8 at a time by clients that resend like the client's outbox (same bytes, same Message-ID, until a
 * 250). Node a runs in a child process; node b in this process, delivering to Bob's Dovecot by LMTP.
 * 1. kill -9 of node a in the middle of the batch (at its 100th hand-off to b, right after b's 250
 *    and before a records it: the worst moment), restarted by a supervisor.
 * 2. kill -9 of Bob's whole Dovecot in the middle of the batch, restarted on the same maildir.
 * Afterwards every Message-ID is in Bob's maildir exactly once. Software keys (speed); the card path
 * is cards.int.test.ts.
 */
const BATCH = Number(process.env.SSMAX_TEST_BATCH ?? 200);
const PARALLEL = 8;

let rw: RelayWorld;
let work: string;
let dovecotB: DovecotHandle;
let dirA: MemberDirectory;
let dirB: MemberDirectory;
let nodeB: OrgNodeHandle;
let tls: { keyPath: string; certPath: string };
let credentialsPath: string;
const logs: Record<string, unknown>[] = [];
let onLog: ((e: Record<string, unknown>) => void) | undefined;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'ssmax-batch-'));
  rw = await buildRelayWorld();
  dovecotB = await startDovecot({ users: [{ address: rw.bob.email, password: 'x' }] });
  dirA = await directoryFor(join(work, 'dir-a.sqlite'), [rw.alice]);
  dirB = await directoryFor(join(work, 'dir-b.sqlite'), [rw.bob]);
  nodeB = await startOrgNode({ name: 'node.b.example', relay: depsFor(rw, rw.world.b, dirB), spoolDir: join(work, 'spool-b'), inbound: { port: 0 }, routes: mapRoutes({}), lmtp: dovecotB.lmtp, log: (e) => {
      logs.push(e);
      onLog?.(e);
    }, worker: { retryDelaysMs: [200], pollMs: 200 } });
  tls = { keyPath: join(work, 'tls.key'), certPath: join(work, 'tls.pem') };
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', tls.keyPath, '-out', tls.certPath, '-days', '2', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
  credentialsPath = join(work, 'credentials.json');
  writeFileSync(credentialsPath, JSON.stringify({ [rw.alice.email]: await hashPassword('pw-alice') }));
}, 120_000);

afterAll(async () => {
  await nodeB?.stop();
  await dovecotB?.stop();
  await dirA?.close();
  await dirB?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

function bobsMessageIds(): string[] {
  const ids: string[] = [];
  for (const sub of ['new', 'cur']) {
    const p = join(dovecotB.maildirOf(rw.bob.email), sub);
    if (!existsSync(p)) continue;
    for (const f of readdirSync(p)) {
      const m = /^Message-ID:\s*(<[^>\r\n]+>)/im.exec(readFileSync(join(p, f), 'latin1'));
      if (m?.[1]) ids.push(m[1]);
    }
  }
  return ids;
}

async function until<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, limitMs = 240_000): Promise<T> {
  for (const end = Date.now() + limitMs; ; await new Promise((r) => setTimeout(r, 250))) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
  }
}

async function batch(tag: string): Promise<{ raw: Buffer; messageId: string }[]> {
  const out: { raw: Buffer; messageId: string }[] = [];
  for (let i = 0; i < BATCH; i++) {
    const headers = { ...headersFor(rw.alice.email, rw.bob.email, `batch ${tag} #${i}`), messageId: `<${tag}-${i}-${Date.now()}@a.example>` };
    const mail = await buildMail({ headers, signer: signerOf(rw.alice.signature), signerCaDer: caDer(rw.world.a), encryptTo: rw.world.a.encryption.der, content: { text: `message ${i}\n` } });
    out.push({ raw: mail.wire, messageId: headers.messageId });
  }
  return out;
}

/** PARALLEL clients, each resending a message until its 250 (what the client's durable outbox does). */
async function submitAll(port: number, mails: readonly { raw: Buffer }[], onAccepted: (n: number) => void | Promise<void> = () => undefined): Promise<number> {
  let next = 0;
  let accepted = 0;
  let resends = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < mails.length; i = next++) {
      for (let attempt = 0; ; attempt++) {
        const t = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, requireTLS: true, tls: { rejectUnauthorized: false }, auth: { user: rw.alice.email, pass: 'pw-alice' } });
        try {
          const info = await t.sendMail({ envelope: { from: rw.alice.email, to: [rw.bob.email] }, raw: mails[i]?.raw ?? Buffer.alloc(0) });
          expect(String(info.response)).toMatch(/^250/);
          await onAccepted(++accepted);
          break;
        } catch (err) {
          if ((err as { responseCode?: number }).responseCode === 550 || attempt > 300) throw err;
          resends++;
          await new Promise((r) => setTimeout(r, 100));
        } finally {
          t.close();
        }
      }
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  return resends;
}

function childConfig(spoolDir: string, marker: string | undefined, crashAfter: number, submissionPort: number): string {
  return writeOrgAChildConfig(rw, {
    work,
    name: `${marker ?? 'plain'}-${submissionPort}`,
    spoolDir,
    submissionPort,
    tls,
    credentialsPath,
    bInboundPort: nodeB.inboundPort ?? 0,
    lmtp: { host: '127.0.0.1', port: 9 },
    ...(marker ? { crash: { marker, after: crashAfter } } : {}),
  }).configPath;
}

const childErrors: string[] = [];

async function startChild(configPath: string): Promise<{ proc: ChildProcess }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', resolve(__dirname, 'node-child.ts'), configPath], { stdio: ['ignore', 'pipe', 'pipe'], cwd: resolve(__dirname, '../../..') });
  let err = '';
  proc.stderr?.on('data', (d: Buffer) => (err += d.toString()).length > 200_000 && (err = err.slice(-100_000)));
  proc.once('exit', (code, sig) => {
    if (sig !== 'SIGKILL' && sig !== 'SIGTERM') childErrors.push(`node a exited (${code}, ${sig}): ${err.slice(-3000)}`);
  });
  await new Promise<void>((res, rej) => {
    let out = '';
    proc.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready ')) res();
    });
    proc.once('exit', (code) => rej(new Error(`node child exited (${code}): ${err.slice(-4000)}`)));
  });
  return { proc };
}

/** Runs node a as a child that a supervisor restarts after a SIGKILL; `stop()` ends it for good. */
async function supervised(configPath: string): Promise<{ restarts: () => number; stop: () => Promise<void> }> {
  let restarts = 0;
  let stopping = false;
  let current = await startChild(configPath);
  const watch = (c: { proc: ChildProcess }): void => {
    c.proc.once('exit', (_code, sig) => {
      if (stopping || sig !== 'SIGKILL') return;
      restarts++;
      void startChild(configPath).then((n) => {
        current = n;
        watch(n);
      });
    });
  };
  watch(current);
  return {
    restarts: () => restarts,
    async stop() {
      stopping = true;
      if (current.proc.exitCode !== null || current.proc.signalCode !== null) return;
      current.proc.kill('SIGTERM');
      await new Promise((r) => current.proc.once('exit', r));
    },
  };
}

function expectEachOnce(ids: readonly string[]): void {
  const box = bobsMessageIds();
  const counts = new Map<string, number>();
  for (const id of box) counts.set(id, (counts.get(id) ?? 0) + 1);
  const wrong = ids.filter((id) => counts.get(id) !== 1).map((id) => `${id}: ${counts.get(id) ?? 0}`);
  expect(wrong).toEqual([]);
}

describe(`nothing lost, nothing doubled: ${BATCH} messages`, () => {
  it('kill -9 of the sending node in the middle of the batch: after the restart every message is in Bob\'s mailbox exactly once', async () => {
    const mails = await batch('nodekill');
    const port = await freePort();
    const spoolDir = join(work, 'spool-a1');
    const node = await supervised(childConfig(spoolDir, 'crashed-1', BATCH / 2, port));
    try {
      const resends = await submitAll(port, mails);
      await until('the crash', () => (existsSync(join(work, 'crashed-1')) ? true : undefined));
      await until('node a restarted and emptied its queue', () => (node.restarts() === 1 && readdirSync(join(spoolDir, 'queue')).length === 0 ? true : undefined));
      await until('node b idle', async () => ((await nodeB.spool.queued()).length === 0 ? true : undefined));
      await until('all delivered', () => (mails.every((m) => bobsMessageIds().includes(m.messageId)) ? true : undefined));
      console.log(`node kill: ${resends} client resends, ${logs.filter((l) => l['event'] === 'inbound' && mails.some((m) => m.messageId === l['messageId'])).length} inbound passes at b for ${BATCH} messages`);
      expectEachOnce(mails.map((m) => m.messageId));
      expect(node.restarts()).toBe(1);
    } finally {
      await node.stop();
    }
  }, 300_000);

  it('kill -9 of Bob\'s Dovecot in the middle of the batch: after its restart every message is in Bob\'s mailbox exactly once', async () => {
    const mails = await batch('dovecotkill');
    const port = await freePort();
    const node = await supervised(childConfig(join(work, 'spool-a2'), undefined, 0, port));
    const deferredBefore = logs.filter((l) => l['event'] === 'spool.deferred').length;
    const files = (): number => ['new', 'cur'].reduce((n, sub) => n + (existsSync(join(dovecotB.maildirOf(rw.bob.email), sub)) ? readdirSync(join(dovecotB.maildirOf(rw.bob.email), sub)).length : 0), 0);
    const before = files();
    try {
      const submitted = submitAll(port, mails);
      // A quarter of the batch is in Bob's maildir; at b's next accepted message its LMTP hand-off is
      // under way: pull Dovecot away under it (kill -9 of every Dovecot process), back after 1 s.
      await until('deliveries under way', () => (files() - before >= BATCH / 4 ? true : undefined));
      const crashed = new Promise<void>((res, rej) => {
        onLog = (e) => {
          if (e['event'] !== 'inbound') return;
          onLog = undefined;
          dovecotB.crash({ downMs: 1_000 }).then(res, rej);
        };
      });
      await crashed;
      const crashedAt = files() - before;
      await submitted;
      await until('node b idle', async () => ((await nodeB.spool.queued()).length === 0 ? true : undefined));
      await until('all delivered', () => (mails.every((m) => bobsMessageIds().includes(m.messageId)) ? true : undefined)).catch(async (err: unknown) => {
        const ids = bobsMessageIds();
        console.log(childErrors.join('\n'));
        console.log(`missing ${mails.filter((m) => !ids.includes(m.messageId)).length}, a queue ${readdirSync(join(work, 'spool-a2', 'queue')).length}, b queue ${(await nodeB.spool.queued()).length}, b bounced ${readdirSync(join(nodeB.spool.dir, 'bounced')).length}`);
        console.log(JSON.stringify(logs.filter((l) => String(l['event']).match(/deferred|bounced|error/)).slice(-5)));
        throw err;
      });
      const deferred = logs.filter((l) => l['event'] === 'spool.deferred').slice(deferredBefore);
      console.log(`dovecot kill after ${crashedAt} deliveries: ${deferred.length} deferred LMTP attempts at b, e.g. ${String(deferred[0]?.['reason'] ?? '-')}`);
      expect(crashedAt).toBeLessThan(BATCH);
      expect(deferred.length).toBeGreaterThan(0); // the crash did hit deliveries
      expectEachOnce(mails.map((m) => m.messageId));
    } finally {
      await node.stop();
    }
  }, 300_000);
});
