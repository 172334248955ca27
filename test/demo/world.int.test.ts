import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OpenedMessage } from '../../api';
import { openDemoClient, type OpenedDemoClient } from '../../demo/client';
import type { SeedKind } from '../../demo/seed';
import { startDemoWorld, type DemoUser, type DemoWorld, type NewDemoMember } from '../../demo/world';

/**
 * The demo world once end to end (issue 9 "Done means"): brought up on a fresh state dir (authority
 * and orgs through the CLI, nodes, cards enrolled, mail seeded), every seeded message opened through
 * the recipient's service host with their card in the reader and checked for the state it must show;
 * then stopped and started again on the same state dir: reused, nothing seeded twice.
 */
let stateDir: string;
let world: DemoWorld | undefined;

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'ssmax-demo-world-'));
  world = await startDemoWorld({ stateDir, reset: true });
}, 300_000);

afterAll(async () => {
  await world?.stop();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

/** Opens every message of `user`'s INBOX (card inserted, PIN answered), keyed by the protected Subject. */
async function openInbox(user: DemoUser, expected: number): Promise<Map<string, OpenedMessage>> {
  await world!.insertCard(user);
  let client: OpenedDemoClient | undefined;
  try {
    client = await openDemoClient(world!.clientFor(user), { answerPin: true });
    const c = client;
    const end = Date.now() + 60_000;
    let rows: Awaited<ReturnType<typeof c.host.messages.page>>['rows'] = [];
    while (Date.now() < end) {
      rows =
        (
          await c.host.messages
            .page({ folder: { accountId: c.accountId, path: 'INBOX' }, offset: 0, limit: 50 })
            .catch(() => undefined)
        )?.rows ?? [];
      if (rows.length >= expected) break;
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(rows).toHaveLength(expected);
    const opened = new Map<string, OpenedMessage>();
    for (const row of rows) {
      // After a restart the list comes from the client's cache before IMAP has reconnected.
      for (let attempt = 0; ; attempt++) {
        try {
          const m = await c.host.messages.open(row.ref, { loadRemoteContent: false });
          opened.set(m.headers.subject, m);
          break;
        } catch (err) {
          if ((err as { code?: string }).code !== 'ServerUnavailable' || attempt > 100) throw err;
          await new Promise((r) => setTimeout(r, 300));
        }
      }
    }
    return opened;
  } finally {
    await client?.close();
  }
}

const DAVE: NewDemoMember = {
  user: 'dave',
  address: 'dave@a.example',
  name: 'Dave Doi',
  staffId: 'A-0003',
  org: 'a',
  password: 'dave-demo',
  pin: '13572468',
};

/** The `ssmax` CLI's output (the demo world's org directories are read by A Corp's administrator). */
const cli = (args: string[]): Promise<string> =>
  new Promise((done, fail) =>
    execFile(process.execPath, ['cli/bin/ssmax.mjs', ...args], (err, out, stderr) => (err ? fail(new Error(stderr || String(err))) : done(out))),
  );

/** `address` logs in to its org's Dovecot (IMAP) and node (submission, STARTTLS); a wrong password is refused. */
async function expectLogins(address: string, password: string): Promise<void> {
  const org = world!.orgs.a;
  const imap = new ImapFlow({ host: org.imap.host, port: org.imap.port, secure: false, doSTARTTLS: false, auth: { user: address, pass: password }, logger: false });
  await imap.connect();
  await imap.logout();
  const smtp = (pass: string) =>
    nodemailer.createTransport({ host: org.submission.host, port: org.submission.port, secure: false, requireTLS: true, tls: { ca: world!.tlsCaPem }, auth: { user: address, pass } });
  expect(await smtp(password).verify()).toBe(true);
  await expect(smtp(`${password}-wrong`).verify()).rejects.toThrow();
}

const subjectOf = (kind: SeedKind, from?: string): string => {
  const m = world!.seeded.find((s) => s.kind === kind && (from === undefined || s.from === from));
  if (!m) throw new Error(`nothing seeded of kind ${kind}`);
  return m.subject;
};

describe('the demo world', () => {
  it('bob@b.example sees every seeded state: verified chains, a forwarded chain, PPAP Unsupported, EICAR Danger, external, spoof', async () => {
    const bobSeeded = world!.seeded.filter((s) => s.mailbox === 'bob');
    expect(bobSeeded.map((s) => s.kind).sort()).toEqual(
      ['eicar', 'encrypted-zip', 'external', 'forwarded', 'spoof', 'verified', 'verified'].sort(),
    );
    const inbox = await openInbox('bob', bobSeeded.length);

    for (const from of ['alice@a.example', 'carol@a.example']) {
      const m = inbox.get(subjectOf('verified', from));
      expect(m?.chain.reasons).toEqual([]);
      expect(m?.chain.state).toBe('verified');
      expect(m?.chain.links.map((l) => [l.role, l.status])).toEqual([
        ['sender', 'valid'],
        ['sending-org', 'valid'],
        ['receiving-org', 'valid'],
      ]);
      expect(m?.chain.links[0]).toMatchObject({ email: from, orgName: 'A Corp' });
      expect(m?.chain.links[1]?.domains).toEqual(['a.example']);
      expect(m?.chain.links[2]?.domains).toEqual(['b.example']);
      // Revocation was checked at read time against both nodes' CRLs (their distribution points, HTTPS).
      expect(m?.chain.links.map((l) => l.notes.map((n) => n.code))).toEqual([[], [], []]);
    }

    const fwd = inbox.get(subjectOf('forwarded'));
    expect(fwd?.chain.state).toBe('verified');
    expect(fwd?.chain.links.map((l) => [l.role, l.status])).toEqual([
      ['forwarder', 'valid'],
      ['forwarder-org', 'valid'],
      ['receiving-org', 'valid'],
    ]);
    expect(fwd?.chain.links[0]?.email).toBe('alice@a.example');
    expect(fwd?.chain.forwards).toHaveLength(1);
    expect(fwd?.chain.forwards[0]?.state).toBe('verified');
    expect(fwd?.chain.forwards[0]?.links.map((l) => [l.role, l.status])).toEqual([
      ['sender', 'valid'],
      ['single-org', 'valid'],
    ]);
    expect(fwd?.chain.forwards[0]?.links[0]?.email).toBe('carol@a.example');

    const zip = inbox.get(subjectOf('encrypted-zip'));
    expect(zip?.chain.state).toBe('verified');
    const zipFile = zip?.attachments.find((a) => a.name === 'price-list.zip');
    expect(zipFile?.verdicts.map((v) => [v.by, v.verdict])).toEqual([
      ['sending-org', 'Unsupported'],
      ['receiving-org', 'Unsupported'],
    ]);

    const eicar = inbox.get(subjectOf('eicar'));
    expect(eicar?.chain.links.map((l) => l.role)).toEqual(['sender', 'sending-org', 'receiving-org']);
    const eicarFile = eicar?.attachments.find((a) => a.name === 'invoice.com');
    expect(eicarFile?.verdicts.map((v) => [v.by, v.verdict])).toEqual([
      ['sending-org', 'Danger'],
      ['receiving-org', 'Danger'],
    ]);
    expect(eicarFile?.savable).toBe(false);

    const external = inbox.get(subjectOf('external'));
    expect(external?.chain.state).toBe('unsigned');
    expect(external?.chain.external).toBe(true);

    const spoof = inbox.get(subjectOf('spoof'));
    expect(spoof?.chain.state).toBe('failed');
    expect(spoof?.chain.links[0]).toMatchObject({
      role: 'sender',
      status: 'untrusted',
      email: 'alice@a.example',
    });
    expect(spoof?.chain.links[0]?.reasons.map((r) => r.code)).toContain('untrusted');
  });

  it("alice@a.example (card switched in the one reader) sees carol's internal mail verified with one org link", async () => {
    const inbox = await openInbox('alice', world!.seeded.filter((s) => s.mailbox === 'alice').length);
    expect(world!.cardHolder).toBe('alice');
    const m = inbox.get(subjectOf('verified-internal'));
    expect(m?.chain.state).toBe('verified');
    expect(m?.chain.links.map((l) => [l.role, l.status])).toEqual([
      ['sender', 'valid'],
      ['single-org', 'valid'],
    ]);
  });

  it('a member added to the running world: in A Corp\'s directory without certificates, an enrollment code, IMAP and submission logins, a blank card', async () => {
    const { person, enrollmentCode } = await world!.addMember(DAVE);
    expect(person.address).toBe(DAVE.address);
    expect(enrollmentCode.length).toBeGreaterThan(0);
    const shown = await cli(['org', 'member', 'show', '--dir', world!.orgs.a.dir, '--address', DAVE.address]);
    expect(shown.trim().split('\n')).toEqual([`${DAVE.address}\t${DAVE.name}\t${DAVE.staffId}\tactive`]);
    await expect(world!.addMember(DAVE)).rejects.toThrow(/already in the demo world/);
    await expect(world!.addMember({ ...DAVE, user: 'dave2', address: 'dave@b.example' })).rejects.toThrow(/not an address of A Corp/);
    await expectLogins(DAVE.address, DAVE.password);
    expect(world!.clientFor('dave').pin).toBe(DAVE.pin);
    // The card is blank: no certificate for the client to find.
    await world!.insertCard('dave');
    expect(world!.cardHolder).toBe('dave');
    const status = await new Promise<string>((done) =>
      execFile('yubico-piv-tool', ['-r', 'Virtual PCD', '-a', 'status'], { env: { ...process.env, ...world!.cardEnv } }, (_e, out, err) => done(`${out}${err}`)),
    );
    expect(status).toMatch(/PIN tries left:\s*3/);
    expect(status).not.toMatch(/Slot 9[cd]:/);
    await world!.insertCard('bob');
  });

  it('a second start on the same state dir reuses everything and seeds nothing twice', async () => {
    const seeded = world!.seeded;
    await world!.stop();
    world = undefined;
    world = await startDemoWorld({ stateDir });
    expect(world.seeded).toEqual(seeded);
    expect(world.cardHolder).toBe('bob');
    // The added member came back: mailbox and submission password on this start's Dovecot and node.
    await expectLogins(DAVE.address, DAVE.password);
    expect(world.clientFor('dave').pin).toBe(DAVE.pin);
    const inbox = await openInbox('bob', seeded.filter((s) => s.mailbox === 'bob').length);
    expect(inbox.get(subjectOf('verified', 'alice@a.example'))?.chain.state).toBe('verified');
  }, 180_000);

  it("npm run demo -- --once on that state dir: up, bob's inbox checked, stopped, exit 0", async () => {
    await world!.stop();
    world = undefined;
    const r = await new Promise<{ code: number; out: string }>((done) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', 'scripts/demo.ts', '--once', '--user', 'bob', '--state-dir', stateDir],
        { timeout: 170_000 },
        (err, stdout, stderr) =>
          done({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, out: `${stdout}${stderr}` }),
      );
    });
    expect(r.out).toMatch(/bob's inbox lists 7 message\(s\); 7 seeded there/);
    expect(r.code, r.out).toBe(0);
  }, 180_000);
});
