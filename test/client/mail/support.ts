import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import type { Endpoint, MailUser } from '../../harness/dovecot';

/** Test helpers for the mail tests: LMTP delivery and a second, independent IMAP client. */

export interface TestMail {
  subject: string;
  from?: string;
  to?: string;
  messageId?: string;
  date?: string;
  /** Full Content-Type line value; default text/plain. */
  contentType?: string;
  body?: string;
  extraHeaders?: string;
}

export function rawMail(m: TestMail, to: string): string {
  const headers = [
    `From: ${m.from ?? 'Sender <sender@org-b.test>'}`,
    `To: ${m.to ?? to}`,
    `Subject: ${m.subject}`,
    `Date: ${m.date ?? new Date().toUTCString()}`,
    `Message-ID: ${m.messageId ?? `<${Math.random().toString(36).slice(2)}@org-b.test>`}`,
    'MIME-Version: 1.0',
    `Content-Type: ${m.contentType ?? 'text/plain; charset=utf-8'}`,
    ...(m.extraHeaders ? [m.extraHeaders] : []),
  ];
  return `${headers.join('\r\n')}\r\n\r\n${m.body ?? 'hello\r\n'}`;
}

/** Delivers by LMTP, one transaction per message, in order. */
export async function deliver(lmtp: Endpoint, to: string, mails: readonly TestMail[]): Promise<void> {
  const transport = nodemailer.createTransport({
    host: lmtp.host,
    port: lmtp.port,
    lmtp: true,
    pool: true,
    maxMessages: Infinity,
    secure: false,
    ignoreTLS: true,
  });
  try {
    for (const m of mails)
      await transport.sendMail({ envelope: { from: 'sender@org-b.test', to: [to] }, raw: rawMail(m, to) });
  } finally {
    transport.close();
  }
}

/** A second IMAP client (another device of the same user) for changes behind the client's back. */
export async function otherDevice(imap: Endpoint, user: MailUser): Promise<ImapFlow> {
  const client = new ImapFlow({
    host: imap.host,
    port: imap.port,
    secure: false,
    doSTARTTLS: false,
    auth: { user: user.address, pass: user.password },
    logger: false,
  });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** Polls until `check` returns a value (not a timing assertion: a generous deadline). */
export async function eventually<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
