import nodemailer from 'nodemailer';
import type { SubmitResult, Submitter } from './outbox';

/**
 * SMTP submission with nodemailer (SPEC §5): STARTTLS required (never plain), the server verified
 * against the system CAs or a pinned CA, AUTH with the account's credentials. The answer is
 * classified for the outbox: 250 → accepted; 5xx → permanent (the server's reason is kept);
 * 4xx, no connection, TLS or login trouble → temporary (the message is not at fault: it stays queued).
 */
export interface SmtpSubmission {
  host: string;
  port: number;
  user: string;
  pass: string;
  /** PEM CA(s) to trust instead of the system CAs (an org's private CA). */
  caPem?: string;
  /** Name the server certificate must carry (default: host). */
  servername?: string;
  /** Deadlines (default 30 s to connect, 120 s for the whole answer incl. the node's inspection). */
  connectionTimeoutMs?: number;
  socketTimeoutMs?: number;
}

interface SmtpErrorLike {
  message?: string;
  code?: string;
  responseCode?: number;
  response?: string;
}

export function classifySmtpError(err: unknown): SubmitResult {
  const e = (err ?? {}) as SmtpErrorLike;
  const reason = (e.response ?? e.message ?? String(err)).replace(/[\r\n]+/g, ' ').slice(0, 1000);
  const code = e.responseCode;
  // A refused login is an account problem, not the message's: keep it queued (the state says why).
  if (e.code === 'EAUTH') return { kind: 'temporary', reason: `The server refused the login: ${reason}` };
  if (typeof code === 'number' && code >= 500 && code < 600) return { kind: 'permanent', reason };
  return { kind: 'temporary', reason };
}

export function smtpSubmitter(settings: () => SmtpSubmission | Promise<SmtpSubmission>): Submitter {
  return async (envelope, raw) => {
    let s: SmtpSubmission;
    try {
      s = await settings();
    } catch (err) {
      return { kind: 'temporary', reason: (err as Error).message };
    }
    const transport = nodemailer.createTransport({
      host: s.host,
      port: s.port,
      secure: false,
      requireTLS: true,
      tls: { ...(s.caPem ? { ca: s.caPem } : {}), ...(s.servername ? { servername: s.servername } : {}), minVersion: 'TLSv1.2' },
      auth: { user: s.user, pass: s.pass },
      connectionTimeout: s.connectionTimeoutMs ?? 30_000,
      greetingTimeout: s.connectionTimeoutMs ?? 30_000,
      socketTimeout: s.socketTimeoutMs ?? 120_000,
    });
    try {
      const info = await transport.sendMail({ envelope, raw });
      const rejected = (info.rejected ?? []) as unknown[];
      if (rejected.length > 0 && (info.accepted ?? []).length === 0)
        return { kind: 'permanent', reason: info.response ?? 'every recipient was refused' };
      return { kind: 'accepted', response: info.response ?? '250' };
    } catch (err) {
      return classifySmtpError(err);
    } finally {
      transport.close();
    }
  };
}
