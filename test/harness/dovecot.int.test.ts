import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SPECIAL_USE_MAILBOXES, startDovecot, type DovecotHandle, type Endpoint, type MailUser } from './dovecot';
import { keepLogsRequested, waitFor } from './process';
import { findProcesses } from './procfs';

const alice: MailUser = { address: 'alice@org-a.test', password: 'alice-imap-secret' };

function imapClient(endpoint: Endpoint, user: MailUser, extra: Partial<ConstructorParameters<typeof ImapFlow>[0]> = {}): ImapFlow {
  return new ImapFlow({
    host: endpoint.host,
    port: endpoint.port,
    secure: false,
    doSTARTTLS: false,
    auth: { user: user.address, pass: user.password },
    logger: false,
    ...extra,
  });
}

/** Delivers exactly these bytes by LMTP (nodemailer's `raw` sends them unchanged apart from SMTP dot-stuffing). */
async function deliverByLmtp(lmtp: Endpoint, to: string, raw: string): Promise<void> {
  const transport = nodemailer.createTransport({ host: lmtp.host, port: lmtp.port, lmtp: true, secure: false, ignoreTLS: true });
  try {
    await transport.sendMail({ envelope: { from: 'sender@org-b.test', to: [to] }, raw });
  } finally {
    transport.close();
  }
}

function bodyOf(source: Buffer): Buffer {
  const end = source.indexOf('\r\n\r\n');
  expect(end).toBeGreaterThan(0);
  return source.subarray(end + 4);
}

describe('private Dovecot (IMAP + LMTP)', () => {
  let dovecot: DovecotHandle;

  beforeAll(async () => {
    dovecot = await startDovecot({ users: [alice], starttls: true });
  });

  afterAll(async () => {
    await dovecot?.stop();
  });

  it('stores an LMTP-delivered message that IMAP then shows with its subject and exact body bytes', async () => {
    const subject = `harness proof ${Date.now()}`;
    // A leading dot and trailing whitespace check that nothing on the way rewrites the body.
    const body = 'First line\r\n.a line that starts with a dot\r\ntrailing spaces   \r\nlast line\r\n';
    const raw = `From: sender@org-b.test\r\nTo: ${alice.address}\r\nSubject: ${subject}\r\nMessage-ID: <proof-${Date.now()}@org-b.test>\r\n\r\n${body}`;
    await deliverByLmtp(dovecot.lmtp, alice.address, raw);

    const client = imapClient(dovecot.imap, alice);
    await client.connect();
    try {
      const lock = await client.getMailboxLock('INBOX');
      try {
        const found = await client.search({ subject });
        expect(found).not.toBe(false);
        expect(found).toHaveLength(1);
        const msg = await client.fetchOne(String((found as number[])[0]), { envelope: true, source: true });
        expect(msg).not.toBe(false);
        if (msg === false) return;
        expect(msg.envelope?.subject).toBe(subject);
        expect(bodyOf(msg.source!).toString('latin1')).toBe(body);
      } finally {
        lock.release();
      }
    } finally {
      await client.logout();
    }
  });

  it('creates and subscribes the special-use mailboxes Sent, Drafts, Trash and Junk', async () => {
    const client = imapClient(dovecot.imap, alice);
    await client.connect();
    try {
      const boxes = await client.list();
      for (const [name, flag] of Object.entries(SPECIAL_USE_MAILBOXES)) {
        const box = boxes.find((b) => b.path === name);
        expect(box, `mailbox ${name}`).toBeDefined();
        expect(box?.specialUse).toBe(flag);
        expect(box?.subscribed).toBe(true);
      }
    } finally {
      await client.logout();
    }
  });

  it('refuses a wrong password', async () => {
    const client = imapClient(dovecot.imap, { address: alice.address, password: 'not-the-password' });
    await expect(client.connect()).rejects.toMatchObject({ authenticationFailed: true });
    client.close();
  });

  it('refuses LMTP delivery to an unknown user and accepts it once the user is added', async () => {
    const carol: MailUser = { address: 'carol@org-a.test', password: 'carol-secret' };
    const raw = `From: sender@org-b.test\r\nTo: ${carol.address}\r\nSubject: for carol\r\n\r\nhello carol\r\n`;
    await expect(deliverByLmtp(dovecot.lmtp, carol.address, raw)).rejects.toMatchObject({ responseCode: 550 });

    await dovecot.addUser(carol.address, carol.password);
    await deliverByLmtp(dovecot.lmtp, carol.address, raw);
    const client = imapClient(dovecot.imap, carol);
    await client.connect();
    try {
      expect(await client.status('INBOX', { messages: true })).toMatchObject({ messages: 1 });
    } finally {
      await client.logout();
    }
  });

  it('logs in over STARTTLS when the client trusts the generated certificate', async () => {
    expect(dovecot.tls).toBeDefined();
    const client = imapClient(dovecot.imap, alice, {
      doSTARTTLS: true,
      tls: { ca: [dovecot.tls!.certPem], rejectUnauthorized: true },
    });
    await client.connect();
    try {
      expect(client.secureConnection).toBe(true);
      expect(client.authenticated).toBeTruthy();
    } finally {
      await client.logout();
    }
  });

  it('runs a second instance alongside and leaves no process or directory behind when stopped', async () => {
    const second = await startDovecot({ users: [alice] });
    expect(second.imap.port).not.toBe(dovecot.imap.port);
    const client = imapClient(second.imap, alice);
    await client.connect();
    await client.logout();

    await second.stop();
    // SSMAX_KEEP_LOGS=1 keeps the directory on purpose.
    expect(existsSync(second.dir)).toBe(keepLogsRequested());
    expect(findProcesses((p) => p.cmdline.includes(second.dir) || p.cmdline.startsWith(`dovecot-${second.instance}/`))).toEqual([]);
    // The first instance is untouched.
    const again = imapClient(dovecot.imap, alice);
    await again.connect();
    await again.logout();
  });

  it('stops Dovecot and its workers when the process that started it is SIGKILLed (no exit hook runs)', async () => {
    const script = fileURLToPath(new URL('./dovecot-child.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let started: { instance: string; dir: string } | undefined;
    const instanceProcesses = (s: { instance: string; dir: string }) =>
      findProcesses((p) => p.cmdline.includes(s.dir) || p.cmdline.startsWith(`dovecot-${s.instance}/`));
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout }).once('line', resolve);
        child.once('exit', (code) => reject(new Error(`dovecot-child exited early with ${code}`)));
      });
      started = JSON.parse(line) as { instance: string; dir: string };
      const running = started;
      // The master forks its log, config and anvil workers right after binding the listeners.
      await waitFor('dovecot workers to start', () => (instanceProcesses(running).length > 1 ? true : undefined), { timeoutMs: 10_000 });
      child.kill('SIGKILL');
      await waitFor('the orphaned Dovecot to exit', () => (instanceProcesses(running).length === 0 ? true : undefined), {
        timeoutMs: 15_000,
      });
    } finally {
      child.kill('SIGKILL');
      // When the test fails, Dovecot is still running: do not leave it behind.
      for (const p of started ? instanceProcesses(started) : []) process.kill(p.pid, 'SIGKILL');
      if (started) await rm(started.dir, { recursive: true, force: true });
    }
  });
});
