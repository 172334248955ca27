import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import nodemailer from 'nodemailer';
import type { Draft } from '../api';
import { Spool } from '../org-node/queue/spool';
import { eicarTestFile } from '../test/harness/clamav-signatures';
import { openDemoClient, type OpenedDemoClient } from './client';
import type { DemoClient, DemoOrg, DemoOrgKey, DemoUser } from './world';

const run = promisify(execFile);

/**
 * The seeded mail: one message per state the client must show, sent through the real path wherever
 * the product has one (the sender's service host with their card in the reader, org node A's
 * submission, inspection, countersignature, relay to node B, B's checks, LMTP into Dovecot).
 */
export type SeedKind =
  'verified' | 'verified-internal' | 'forwarded' | 'encrypted-zip' | 'eicar' | 'external' | 'spoof';

export interface SeededMessage {
  readonly kind: SeedKind;
  readonly subject: string;
  readonly from: string;
  /** Whose mailbox (INBOX) it is in. */
  readonly mailbox: DemoUser;
  /** What the client should show, in one line (README and the demo banner). */
  readonly shows: string;
}

interface SeedContext {
  stateDir: string;
  orgs: Record<DemoOrgKey, DemoOrg>;
  clientFor(user: DemoUser): DemoClient;
  insertCard(user: DemoUser): Promise<void>;
  maildir(user: DemoUser): string;
  tlsCert: string;
  tlsKey: string;
  log(line: string): void;
}

function mailCount(maildir: string): number {
  let n = 0;
  for (const sub of ['new', 'cur'])
    if (existsSync(join(maildir, sub))) n += readdirSync(join(maildir, sub)).length;
  return n;
}

async function until<T>(
  what: string,
  fn: () => T | undefined | Promise<T | undefined>,
  limitMs = 90_000,
): Promise<T> {
  const end = Date.now() + limitMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`demo seeding: gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** compose.send through the user's service host, then waits until the outbox is empty (250 + Sent copy stored). */
async function send(client: OpenedDemoClient, draft: Omit<Draft, 'accountId' | 'cc'>): Promise<void> {
  await client.host.compose.send({ accountId: client.accountId, cc: [], ...draft });
  await until(`the outbox to hand "${draft.subject}" to the org node`, async () => {
    const entries = await client.host.outbox.list();
    const failed = entries.find((e) => e.state === 'failed');
    if (failed)
      throw new Error(`demo seeding: "${failed.subject}" failed: ${failed.lastError ?? 'no reason'}`);
    return entries.length === 0 ? true : undefined;
  });
}

/** Waits for a copy held by the node's inspection and releases it, as the org's administrator would. */
async function releaseHeld(org: DemoOrg): Promise<string> {
  const held = join(org.spoolDir, 'held');
  const id = await until(`a held message at ${org.name}`, async () =>
    (await readdir(held).catch(() => [])).find((f) => !f.endsWith('.reason')),
  );
  const spool = await Spool.open(org.spoolDir);
  const reason = (await spool.heldEntries()).find((e) => e.id === id)?.reason ?? '';
  await spool.release(id);
  return reason;
}

export async function seedMessages(ctx: SeedContext): Promise<SeededMessage[]> {
  const seeded: SeededMessage[] = [];
  const bobBox = ctx.maildir('bob');
  const aliceBox = ctx.maildir('alice');
  const files = join(ctx.stateDir, 'seed-files');
  await mkdir(files, { recursive: true });
  const inBob = async (n: number, what: string): Promise<void> => {
    await until(what, () => (mailCount(bobBox) >= n ? true : undefined));
  };
  let expected = mailCount(bobBox);

  // Carol (A Corp): to Bob, and internal mail to Alice (one hop, single-org link).
  await ctx.insertCard('carol');
  const carol = await openDemoClient(ctx.clientFor('carol'), { answerPin: true });
  try {
    const s4 = 'Meeting notes';
    await send(carol, {
      to: ['bob@b.example'],
      subject: s4,
      text: "Hi Bob,\n\nthe notes of today's meeting.\n\nCarol",
      attachments: [],
    });
    seeded.push({
      kind: 'verified',
      subject: s4,
      from: 'carol@a.example',
      mailbox: 'bob',
      shows: 'verified: Carol → A Corp → B Corp',
    });
    await inBob(++expected, "carol's message in bob@b.example");
    const aliceBefore = mailCount(aliceBox);
    const s5 = 'Lunch on Friday?';
    await send(carol, {
      to: ['alice@a.example'],
      subject: s5,
      text: 'Alice, lunch on Friday?',
      attachments: [],
    });
    seeded.push({
      kind: 'verified-internal',
      subject: s5,
      from: 'carol@a.example',
      mailbox: 'alice',
      shows: 'verified inside A Corp: Carol → A Corp (one hop)',
    });
    await until("carol's internal message in alice@a.example", () =>
      mailCount(aliceBox) > aliceBefore ? true : undefined,
    );
  } finally {
    await carol.close();
  }

  // Alice (A Corp) with her card in the reader.
  await ctx.insertCard('alice');
  const alice = await openDemoClient(ctx.clientFor('alice'), { answerPin: true });
  try {
    const s1 = 'Quarterly figures for the joint project';
    await send(alice, {
      to: ['bob@b.example'],
      subject: s1,
      text: 'Hello Bob,\n\nthe figures for the quarter are below; see you on Thursday.\n\nAlice',
      attachments: [],
    });
    seeded.push({
      kind: 'verified',
      subject: s1,
      from: 'alice@a.example',
      mailbox: 'bob',
      shows: 'verified: Alice → A Corp → B Corp',
    });
    await inBob(++expected, 'the verified message in bob@b.example');

    const zipDir = join(files, 'zip');
    await mkdir(zipDir, { recursive: true });
    await writeFile(join(zipDir, 'price-list.txt'), 'Price list (confidential)\n');
    const zip = join(files, 'price-list.zip');
    if (!existsSync(zip))
      await run('zip', ['-q', '-j', '-P', 'demo-password', zip, join(zipDir, 'price-list.txt')]);
    const s2 = 'Price list (password to follow)';
    await send(alice, {
      to: ['bob@b.example'],
      subject: s2,
      text: 'The price list is attached; I will send the password separately.',
      attachments: [{ path: zip }],
      acknowledgedPpap: true,
    });
    seeded.push({
      kind: 'encrypted-zip',
      subject: s2,
      from: 'alice@a.example',
      mailbox: 'bob',
      shows: 'verified chain; price-list.zip Unsupported (password-protected archive, PPAP)',
    });
    await inBob(++expected, 'the encrypted ZIP message in bob@b.example');

    const eicar = join(files, 'invoice.com');
    await writeFile(eicar, eicarTestFile());
    const s3 = 'Invoice (contains the EICAR test file)';
    await send(alice, {
      to: ['bob@b.example'],
      subject: s3,
      text: 'The attachment is the harmless EICAR anti-virus test file.',
      attachments: [{ path: eicar }],
    });
    ctx.log(
      `  A Corp held it: ${(await releaseHeld(ctx.orgs.a)).split('\n')[0]} — released by the demo admin`,
    );
    ctx.log(
      `  B Corp held it: ${(await releaseHeld(ctx.orgs.b)).split('\n')[0]} — released by the demo admin`,
    );
    seeded.push({
      kind: 'eicar',
      subject: s3,
      from: 'alice@a.example',
      mailbox: 'bob',
      shows: 'verified chain; invoice.com Danger (EICAR), held by both orgs and released by their admins',
    });
    await inBob(++expected, 'the EICAR message in bob@b.example');

    // A forwarded chain: Alice forwards Carol's internal mail to Bob (④ Alice, ⑤ A Corp, ③ B Corp;
    // the original rides inside as message/rfc822 with its own chain intact).
    const lunch = await until("carol's message in alice's client", async () => {
      const page = await alice.host.messages
        .page({ folder: { accountId: alice.accountId, path: 'INBOX' }, offset: 0, limit: 50 })
        .catch(() => undefined);
      return page?.rows.find((r) => r.from.email === 'carol@a.example');
    });
    const s8 = 'Fwd: Lunch on Friday?';
    await send(alice, {
      to: ['bob@b.example'],
      subject: s8,
      text: 'Bob, Carol asks about Friday — join us?',
      attachments: [],
      forwardOf: lunch.ref,
    });
    seeded.push({
      kind: 'forwarded',
      subject: s8,
      from: 'alice@a.example',
      mailbox: 'bob',
      shows: "verified forward: Alice → A Corp → B Corp, with Carol's original chain inside",
    });
    await inBob(++expected, 'the forward in bob@b.example');
  } finally {
    await alice.close();
  }

  // Mail from outside SSMAX, straight to node B's inbound port: delivered marked external.
  const s6 = 'Special offer for B Corp';
  const external = nodemailer.createTransport({
    host: ctx.orgs.b.inbound.host,
    port: ctx.orgs.b.inbound.port,
    secure: false,
    ignoreTLS: true,
    name: 'mx.partner.example',
  });
  try {
    await external.sendMail({
      envelope: { from: 'sales@partner.example', to: ['bob@b.example'] },
      raw: `From: Partner Sales <sales@partner.example>\r\nTo: bob@b.example\r\nSubject: ${s6}\r\nDate: ${new Date().toUTCString()}\r\nMessage-ID: <offer-${Date.now()}@partner.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nDear Bob, our prices are lower this month.\r\n`,
    });
  } finally {
    external.close();
  }
  seeded.push({
    kind: 'external',
    subject: s6,
    from: 'sales@partner.example',
    mailbox: 'bob',
    shows: 'unsigned, external (outside SSMAX), with SPF/DKIM/DMARC results',
  });
  await inBob(++expected, 'the external message in bob@b.example');

  // A spoof: "Alice" with an S/MIME certificate the attacker made (not under the SSMAX root),
  // put straight into Bob's mailbox over LMTP, bypassing both org nodes.
  const s7 = 'URGENT: change of bank account';
  const key = join(files, 'spoof.key');
  const cert = join(files, 'spoof.pem');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-days',
    '365',
    '-subj',
    '/CN=Alice Arai/O=A Corp',
    '-addext',
    'subjectAltName=email:alice@a.example',
    '-addext',
    'keyUsage=digitalSignature',
    '-addext',
    'extendedKeyUsage=emailProtection',
    '-keyout',
    key,
    '-out',
    cert,
  ]);
  await writeFile(
    join(files, 'spoof.txt'),
    'Bob, please pay the invoice to our new bank account today.\r\nAlice\r\n',
  );
  const { stdout: signed } = await run('openssl', [
    'cms',
    '-sign',
    '-signer',
    cert,
    '-inkey',
    key,
    '-in',
    join(files, 'spoof.txt'),
    '-text',
    '-md',
    'sha256',
    '-from',
    'Alice Arai <alice@a.example>',
    '-to',
    'bob@b.example',
    '-subject',
    s7,
  ]);
  const raw = `Date: ${new Date().toUTCString()}\r\nMessage-ID: <spoof-${Date.now()}@a.example>\r\n${signed.replace(/\r?\n/g, '\r\n')}`;
  const lmtp = nodemailer.createTransport({
    host: ctx.orgs.b.lmtp.host,
    port: ctx.orgs.b.lmtp.port,
    lmtp: true,
    secure: false,
    ignoreTLS: true,
  });
  try {
    await lmtp.sendMail({ envelope: { from: 'alice@a.example', to: ['bob@b.example'] }, raw });
  } finally {
    lmtp.close();
  }
  seeded.push({
    kind: 'spoof',
    subject: s7,
    from: 'alice@a.example',
    mailbox: 'bob',
    shows: 'failed: the signature does not chain to the SSMAX root (a spoof)',
  });
  await inBob(++expected, 'the spoof in bob@b.example');
  return seeded;
}
