import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Draft, OutboxEntry } from '../../../api';
import { Outbox, type SubmitResult } from '../../../client/compose/outbox';
import { composeAndSeal } from '../../../client/compose/seal';
import { ComposeService, type ComposeDeps } from '../../../client/compose/service';
import { smtpSubmitter } from '../../../client/compose/smtp';
import type { MemberDirectory } from '../../../org-node/directory/directory';
import { fileAuthenticator, hashPassword } from '../../../org-node/smtp/credentials';
import { mapRoutes } from '../../../org-node/smtp/handoff';
import { startOrgNode, type OrgNodeHandle } from '../../../org-node/smtp/node';
import { verifyMessage } from '../../../smime/chain';
import { freePort } from '../../harness/process';
import { buildZip } from '../../org-node/inspection/fixtures';
import { buildRelayWorld, depsFor, directoryFor, type RelayWorld } from '../../org-node/relay/relay-world';
import { caDer, decryptorOf, signerOf } from '../../smime/chain/world';

/**
 * compose.send end to end against the real org node's submission server (org-node/smtp, STARTTLS
 * with a pinned CA, AUTH from its credentials file, the relay pipeline: decrypt with the org key,
 * verify the sender's signature and that it is the submitting user's, spool, 250).
 * The card is replaced by a software Signer (9C) and the 9D certificate through the same
 * `withCard` interface the host fills from the card session (the virtual-card path is covered by
 * client/open's tests; not wired here for time).
 */
let rw: RelayWorld;
let work: string;
let dir: MemberDirectory;
let tls: { key: Buffer; cert: Buffer; pem: string };
let credentialsPath: string;
const logs: Record<string, unknown>[] = [];

async function startNode(port: number, spool: string): Promise<OrgNodeHandle> {
  return startOrgNode({
    name: 'node.a.example',
    relay: depsFor(rw, rw.world.a, dir),
    spoolDir: join(work, spool),
    submission: { port, tls: { key: tls.key, cert: tls.cert }, authenticate: fileAuthenticator(credentialsPath) },
    routes: mapRoutes({}),
    lmtp: { host: '127.0.0.1', port: 1 }, // nothing delivers in these tests: copies stay in the spool
    log: (e) => logs.push(e),
    worker: { retryDelaysMs: [3_600_000], pollMs: 3_600_000 },
  });
}

function deps(dataDir: string, port: number, user = rw.alice.email, pass = 'pw-alice', onChanged?: (e: OutboxEntry[]) => void): ComposeDeps {
  return {
    dataDir,
    account: async () => ({ email: rw.alice.email, user, pass }),
    org: async () => ({ encryptionCertificate: rw.world.a.encryption.der, smtp: { host: '127.0.0.1', port }, smtpCaPem: tls.pem, chainCertificates: [caDer(rw.world.a)] }),
    withCard: (_description, op) => op(async () => ({ signer: signerOf(rw.alice.signature), ownEncryptionCertificate: rw.alice.keyManagement.der })),
    retryDelayMs: () => 3_600_000, // the loop never retries by itself here: the test kicks it
    smtpTimeouts: { connectionTimeoutMs: 5_000, socketTimeoutMs: 30_000 },
    ...(onChanged ? { onChanged } : {}),
  };
}

function draft(extra: Partial<Draft> = {}): Draft {
  return { accountId: 'acc', to: [rw.bob.email], cc: [rw.carol.email], subject: '見積書の送付について', text: 'Please find the quote.', attachments: [], ...extra };
}

const submissions = (messageId: string): Record<string, unknown>[] => logs.filter((e) => e.event === 'submission' && e.messageId === messageId);

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'ssmax-compose-'));
  rw = await buildRelayWorld();
  dir = await directoryFor(join(work, 'dir-a.sqlite'), [rw.alice, rw.carol]);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(work, 'tls.key'), '-out', join(work, 'tls.pem'), '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  tls = { key: readFileSync(join(work, 'tls.key')), cert: readFileSync(join(work, 'tls.pem')), pem: readFileSync(join(work, 'tls.pem'), 'utf8') };
  credentialsPath = join(work, 'credentials.json');
  writeFileSync(credentialsPath, JSON.stringify({ [rw.alice.email]: await hashPassword('pw-alice'), [rw.carol.email]: await hashPassword('pw-carol') }));
}, 120_000);

afterAll(async () => {
  await dir?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('compose.send → outbox → org node submission', () => {
  it('sealed, queued durably, 250 from the org node (which decrypted and verified it), then removed', async () => {
    const port = await freePort();
    const node = await startNode(port, 'spool-1');
    const events: string[] = [];
    const svc = await ComposeService.open(deps(join(work, 'client-1'), port, undefined, undefined, (e) => events.push(e.map((x) => x.state).join(','))));
    try {
      const receipt = await svc.send(draft());
      expect(receipt.state).toBe('queued');
      await svc.outbox.kick();
      expect(svc.list()).toEqual([]);
      expect(events).toContain('submitting');
      expect(events.at(-1)).toBe('');
      const sub = logs.filter((e) => e.event === 'submission' && e.submitter === rw.alice.email).at(-1);
      expect(sub).toBeDefined();
      // The node's pipeline decrypted it with the org key and verified ① (the sender's card signature).
      expect(sub?.chain).toEqual([expect.objectContaining({ status: 'valid' })]);
      expect((sub?.outcomes as { kind: string }[]).map((o) => o.kind).sort()).toEqual(['deliver', 'relay']);
    } finally {
      await svc.close();
      await node.stop();
    }
  });

  it('org node down → retrying (across a client restart) → delivered once when it is up', async () => {
    const port = await freePort();
    const dataDir = join(work, 'client-2');
    const svc = await ComposeService.open(deps(dataDir, port));
    const { outboxId } = await svc.send(draft({ subject: 'while down' }));
    await svc.outbox.kick();
    const e = svc.outbox.entry(outboxId);
    expect(e).toEqual(expect.objectContaining({ state: 'retrying', attempts: 1 }));
    expect(e?.lastError).toMatch(/ECONNREFUSED|connect/i);
    await svc.close();

    const node = await startNode(port, 'spool-2');
    const again = await ComposeService.open(deps(dataDir, port));
    try {
      expect(again.list().map((x) => [x.id, x.state])).toEqual([[outboxId, 'retrying']]);
      await again.retry(outboxId); // the user's "send now" (or the backoff running out)
      await again.outbox.kick();
      expect(again.list()).toEqual([]);
      const mine = logs.filter((l) => l.event === 'submission' && JSON.stringify(l).includes(rw.bob.email));
      const ids = mine.map((l) => l.messageId);
      const last = ids.at(-1) as string;
      expect(submissions(last)).toHaveLength(1);
    } finally {
      await again.close();
      await node.stop();
    }
  });

  it('5xx (the node refuses a signature that is not the submitting user\'s) → failed with the reason', async () => {
    const port = await freePort();
    const node = await startNode(port, 'spool-3');
    // Authenticated as carol, signed by hanako's card: the node answers 550.
    const svc = await ComposeService.open(deps(join(work, 'client-3'), port, rw.carol.email, 'pw-carol'));
    try {
      const { outboxId } = await svc.send(draft({ subject: 'spoof' }));
      await svc.outbox.kick();
      const e = svc.outbox.entry(outboxId);
      expect(e?.state).toBe('failed');
      expect(e?.lastError).toMatch(/^5\d\d /);
      await svc.outbox.kick();
      expect(svc.outbox.entry(outboxId)?.attempts).toBe(1);
    } finally {
      await svc.close();
      await node.stop();
    }
  });

  it('PPAP attachment → PpapWarning, nothing queued; acknowledged → queued', async () => {
    const zip = join(work, 'secret.zip');
    writeFileSync(zip, buildZip([{ name: 'a.xlsx', content: 'x', password: 'pw' }]));
    const svc = await ComposeService.open(deps(join(work, 'client-4'), await freePort()));
    try {
      const d = draft({ attachments: [{ path: zip }] });
      expect((await svc.checkPpap(d)).suspicious).toEqual([{ path: zip, reason: expect.stringMatching(/password-protected ZIP/) }]);
      await expect(svc.send(d)).rejects.toMatchObject({ code: 'PpapWarning' });
      expect(svc.list()).toEqual([]);
      const r = await svc.send({ ...d, acknowledgedPpap: true });
      expect(svc.list().map((x) => x.id)).toEqual([r.outboxId]);
    } finally {
      await svc.close();
    }
  });

  it('the Sent copy handed to storeSent decrypts with the sender\'s own 9D key and verifies', async () => {
    const port = await freePort();
    const node = await startNode(port, 'spool-5');
    const copies: Buffer[] = [];
    const svc = await ComposeService.open({ ...deps(join(work, 'client-5'), port), storeSent: async (copy) => void copies.push(copy) });
    try {
      await svc.send(draft({ subject: 'sent copy' }));
      await svc.outbox.kick();
      expect(copies).toHaveLength(1);
      const v = await verifyMessage(copies[0] ?? Buffer.alloc(0), { trustAnchors: [rw.world.rootPem], decryptors: [decryptorOf(rw.alice.keyManagement)] });
      expect(v.links[0]?.status).toBe('valid');
      expect(v.displayedFrom?.address).toBe(rw.alice.email);
    } finally {
      await svc.close();
      await node.stop();
    }
  });

  it('the duplicate edge: killed after the 250, resubmitted once with the same Message-ID → the node\'s spool answers with the same entries (deduped)', async () => {
    const port = await freePort();
    const node = await startNode(port, 'spool-6');
    const answers: SubmitResult[] = [];
    const smtp = smtpSubmitter(() => ({ host: '127.0.0.1', port, user: rw.alice.email, pass: 'pw-alice', caPem: tls.pem }));
    const submit: typeof smtp = async (env, raw, meta) => {
      const r = await smtp(env, raw, meta);
      answers.push(r);
      return r;
    };
    const dataDir = join(work, 'client-6');
    const sealed = await composeAndSeal(draft({ subject: 'dup' }), [], async () => ({ signer: signerOf(rw.alice.signature), ownEncryptionCertificate: rw.alice.keyManagement.der }), { from: rw.alice.email, orgEncryptionCertificate: rw.world.a.encryption.der });
    try {
      const first: Outbox = await Outbox.open({
        dataDir,
        submit,
        faultHook: (p) => {
          if (p !== 'after-accept') return;
          void first.close(); // the process dies right after the server's 250
          throw new Error('killed');
        },
      });
      await first.enqueue(sealed, 'acc');
      await first.kick();
      expect(first.list().map((e) => e.state)).toEqual(['queued']);
      const second = await Outbox.open({ dataDir, submit });
      await second.kick();
      expect(second.list()).toEqual([]);
      expect(answers.map((a) => a.kind)).toEqual(['accepted', 'accepted']);
      const ids = answers.map((a) => (a.kind === 'accepted' ? /Queued as (\S+)/.exec(a.response)?.[1] : undefined));
      expect(ids[0]).toBeTruthy();
      expect(ids[1]).toBe(ids[0]);
      expect(submissions(sealed.messageId)).toHaveLength(2);
    } finally {
      await node.stop();
    }
  });
});
