import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { SMTPServer, type SMTPServerAddress } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDovecot, type DovecotHandle, type Endpoint, type MailUser } from './dovecot';
import { startPostfix, type PostfixHandle } from './postfix';
import { keepLogsRequested, waitFor } from './process';
import { findProcesses } from './procfs';

const bob: MailUser = { address: 'bob@org-b.test', password: 'bob-imap-secret' };
const FILTER_HEADER = 'X-SSMAX-Test-Filter';

interface FilteredMessage {
  from: string;
  to: string[];
  raw: Buffer;
}

/**
 * A minimal after-queue content filter: receives what Postfix hands over, adds a header and sends
 * it back to the re-injection port before answering 250, so Postfix only forgets the message once
 * the re-injected copy is safely queued (the contract the org node will follow).
 */
class TestFilter {
  readonly seen: FilteredMessage[] = [];
  /** When set, the filter answers this temporary failure instead of re-injecting. */
  refuseWith: string | undefined;
  private reinject: Endpoint | undefined;
  private readonly server: SMTPServer;

  constructor() {
    this.server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['AUTH', 'STARTTLS'],
      logger: false,
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          const from = (session.envelope.mailFrom as SMTPServerAddress | false) || undefined;
          const message: FilteredMessage = {
            from: from?.address ?? '',
            to: session.envelope.rcptTo.map((r) => r.address),
            raw: Buffer.concat(chunks),
          };
          this.seen.push(message);
          this.pass(message).then(
            () => callback(),
            (err: unknown) => callback(err instanceof Error ? err : new Error(String(err))),
          );
        });
      },
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.server.address() as AddressInfo).port;
  }

  reinjectTo(endpoint: Endpoint): void {
    this.reinject = endpoint;
  }

  private async pass(message: FilteredMessage): Promise<void> {
    if (this.refuseWith !== undefined) {
      const err = new Error(this.refuseWith) as Error & { responseCode: number };
      err.responseCode = 451;
      throw err;
    }
    if (!this.reinject) throw new Error('filter has no re-injection endpoint');
    const transport = nodemailer.createTransport({ host: this.reinject.host, port: this.reinject.port, secure: false, ignoreTLS: true });
    try {
      const marked = Buffer.concat([Buffer.from(`${FILTER_HEADER}: passed\r\n`), message.raw]);
      await transport.sendMail({ envelope: { from: message.from, to: message.to }, raw: marked });
    } finally {
      transport.close();
    }
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

async function submit(smtp: Endpoint, subject: string, text: string): Promise<void> {
  const transport = nodemailer.createTransport({ host: smtp.host, port: smtp.port, secure: false, ignoreTLS: true });
  try {
    await transport.sendMail({ from: 'alice@org-a.test', to: bob.address, subject, text });
  } finally {
    transport.close();
  }
}

/** Fetches the full source of the message with this subject from bob's INBOX, if it is there yet. */
async function findInInbox(dovecot: DovecotHandle, subject: string): Promise<Buffer | undefined> {
  const client = new ImapFlow({
    host: dovecot.imap.host,
    port: dovecot.imap.port,
    secure: false,
    doSTARTTLS: false,
    auth: { user: bob.address, pass: bob.password },
    logger: false,
  });
  await client.connect();
  try {
    const lock = await client.getMailboxLock('INBOX');
    try {
      const found = await client.search({ subject });
      if (!found || found.length === 0) return undefined;
      expect(found).toHaveLength(1);
      const msg = await client.fetchOne(String(found[0]), { source: true });
      return msg === false ? undefined : msg.source;
    } finally {
      lock.release();
    }
  } finally {
    await client.logout();
  }
}

describe('private Postfix with an after-queue content filter, delivering to Dovecot by LMTP', () => {
  let dovecot: DovecotHandle;
  let postfix: PostfixHandle;
  const filter = new TestFilter();

  beforeAll(async () => {
    dovecot = await startDovecot({ users: [bob] });
    const filterPort = await filter.listen();
    postfix = await startPostfix({
      contentFilter: { port: filterPort },
      nextHop: { protocol: 'lmtp', ...dovecot.lmtp },
    });
    filter.reinjectTo(postfix.reinject);
  });

  afterAll(async () => {
    await postfix?.stop();
    await filter.close();
    await dovecot?.stop();
  });

  it('passes mail submitted by SMTP through the filter and delivers the filtered copy to the mailbox', async () => {
    const subject = `through the filter ${Date.now()}`;
    const text = 'Body that the filter must not change.\n';
    await submit(postfix.smtp, subject, text);

    const source = await waitFor(`"${subject}" in bob's INBOX`, () => findInInbox(dovecot, subject), { timeoutMs: 30_000, intervalMs: 250 });
    const received = source.toString('utf8');
    expect(received).toMatch(new RegExp(`^${FILTER_HEADER}: passed$`, 'm'));
    expect(received).toContain(text.replace(/\n/g, '\r\n'));

    const atFilter = filter.seen.filter((m) => m.raw.toString('utf8').includes(subject));
    expect(atFilter).toHaveLength(1);
    expect(atFilter[0]).toMatchObject({ from: 'alice@org-a.test', to: [bob.address] });
    // The copy Postfix gave the filter had no filter header yet: it came from the public port.
    expect(atFilter[0]!.raw.toString('utf8')).not.toContain(FILTER_HEADER);
    await waitFor('the Postfix queue to be empty', async () => ((await postfix.queue()).length === 0 ? true : undefined), { timeoutMs: 15_000 });
  });

  it('keeps the mail queued, never delivered around the filter, while the filter refuses it', async () => {
    const subject = `refused by the filter ${Date.now()}`;
    filter.refuseWith = 'test filter is refusing mail';
    try {
      await submit(postfix.smtp, subject, 'must wait for the filter\n');
      const deferred = await waitFor(
        'the message to be deferred by the filter',
        async () => (await postfix.queue()).find((e) => e.queue_name === 'deferred' && e.recipients.some((r) => r.delay_reason?.includes('refusing mail'))),
        { timeoutMs: 30_000, intervalMs: 250 },
      );
      expect(deferred.recipients.map((r) => r.address)).toEqual([bob.address]);
      expect(await findInInbox(dovecot, subject)).toBeUndefined();
    } finally {
      filter.refuseWith = undefined;
    }
    // Once the filter accepts again, a queue run delivers it.
    await postfix.flushQueue();
    const source = await waitFor(`"${subject}" in bob's INBOX`, () => findInInbox(dovecot, subject), { timeoutMs: 30_000, intervalMs: 250 });
    expect(source.toString('utf8')).toMatch(new RegExp(`^${FILTER_HEADER}: passed$`, 'm'));
  });

  it('as a plain relay holds mail until a next hop is set, then delivers it; stops without leftovers', async () => {
    const relay = await startPostfix({ contentFilter: false });
    const masterPid = relay.masterPid;
    try {
      expect(relay.filter).toBeUndefined();
      expect(relay.smtp.port).not.toBe(postfix.smtp.port);
      expect(Number(readFileSync(`${relay.dir}/queue/pid/master.pid`, 'utf8').trim())).toBe(masterPid);

      const subject = `plain relay ${Date.now()}`;
      await submit(relay.smtp, subject, 'no filter on this instance\n');
      await waitFor(
        'the message to wait for a next hop',
        async () => (await relay.queue()).find((e) => e.recipients.some((r) => r.delay_reason?.includes('no next hop'))),
        { timeoutMs: 30_000, intervalMs: 250 },
      );
      await relay.setNextHop({ protocol: 'lmtp', ...dovecot.lmtp });
      const source = await waitFor(`"${subject}" in bob's INBOX`, () => findInInbox(dovecot, subject), { timeoutMs: 30_000, intervalMs: 250 });
      expect(source.toString('utf8')).not.toContain(FILTER_HEADER);
      expect(findProcesses((p) => p.pgrp === masterPid).length).toBeGreaterThan(0);
    } finally {
      await relay.stop();
    }
    // SSMAX_KEEP_LOGS=1 keeps the directory on purpose.
    expect(existsSync(relay.dir)).toBe(keepLogsRequested());
    expect(findProcesses((p) => p.pid === masterPid || p.pgrp === masterPid)).toEqual([]);
  });

  it('stops Postfix when the process that started it is SIGKILLed (no exit hook runs)', async () => {
    const script = fileURLToPath(new URL('./postfix-child.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let started: { masterPid: number; dir: string } | undefined;
    const instanceProcesses = (pid: number) => findProcesses((p) => p.pid === pid || p.pgrp === pid);
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout }).once('line', resolve);
        child.once('exit', (code) => reject(new Error(`postfix-child exited early with ${code}`)));
      });
      started = JSON.parse(line) as { masterPid: number; dir: string };
      const masterPid = started.masterPid;
      expect(instanceProcesses(masterPid).length).toBeGreaterThan(0);
      child.kill('SIGKILL');
      await waitFor('the orphaned Postfix to exit', () => (instanceProcesses(masterPid).length === 0 ? true : undefined), {
        timeoutMs: 15_000,
      });
    } finally {
      child.kill('SIGKILL');
      // When the test fails, Postfix is still running: do not leave it behind.
      if (started && instanceProcesses(started.masterPid).length > 0) process.kill(started.masterPid, 'SIGTERM');
      if (started) await rm(started.dir, { recursive: true, force: true });
    }
  });
});
