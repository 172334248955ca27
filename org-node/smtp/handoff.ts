import nodemailer from 'nodemailer';
import type { HandOff, HandOffResult } from '../queue/worker';
import type { SpoolEntry } from '../queue/spool';

/**
 * Handing a spooled copy to the next hop with nodemailer: another org node by SMTP (relay copies),
 * the mailbox store by LMTP (deliver copies). 5xx → rejected (bounce), anything else → deferred.
 */

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

export interface Route extends Endpoint {
  /** Require STARTTLS and check the next node's certificate against `ca` (production); default: opportunistic. */
  readonly requireTls?: boolean;
  readonly ca?: string;
}

/** Where an org's node takes mail: a configured map (tests) or MX/bundle lookup (production). */
export type RouteResolver = (org: string) => Promise<Route | undefined>;

export function mapRoutes(map: Readonly<Record<string, Route>>): RouteResolver {
  return (org) => Promise.resolve(map[org.toLowerCase()]);
}

function classify(err: unknown): HandOffResult {
  const e = err as { responseCode?: number; response?: string; message?: string; rejectedErrors?: { responseCode?: number; response?: string }[] };
  const code = e.responseCode ?? e.rejectedErrors?.[0]?.responseCode;
  const text = e.response ?? e.rejectedErrors?.[0]?.response ?? e.message ?? String(err);
  return code !== undefined && code >= 500 && code < 600 ? { status: 'rejected', reason: text } : { status: 'deferred', reason: text };
}

async function send(transportOptions: Record<string, unknown>, entry: SpoolEntry): Promise<HandOffResult> {
  const transport = nodemailer.createTransport({ connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 60_000, ...transportOptions });
  try {
    const info = await transport.sendMail({ envelope: { from: entry.mailFrom, to: [...entry.rcptTo] }, raw: entry.message });
    const rejected = (info as { rejected?: unknown[] }).rejected ?? [];
    if (rejected.length > 0) return classify(info);
    return { status: 'accepted', response: String((info as { response?: string }).response ?? '') };
  } catch (err) {
    return classify(err);
  } finally {
    transport.close();
  }
}

export function smtpHandOff(routes: RouteResolver, name: string): HandOff {
  return async (entry) => {
    const route = entry.org ? await routes(entry.org) : undefined;
    if (!route) return { status: 'deferred', reason: `No route to the node of ${entry.org ?? '(no org)'}.` };
    return send({ host: route.host, port: route.port, secure: false, name, requireTLS: route.requireTls ?? false, tls: route.ca ? { ca: route.ca } : { rejectUnauthorized: false } }, entry);
  };
}

/** SMTP to one fixed endpoint (Postfix's re-injection port in content_filter mode). */
export function fixedSmtpHandOff(endpoint: Endpoint, name: string): HandOff {
  return (entry) => send({ host: endpoint.host, port: endpoint.port, secure: false, name, ignoreTLS: true }, entry);
}

export function lmtpHandOff(lmtp: Endpoint, name: string): HandOff {
  return (entry) => send({ host: lmtp.host, port: lmtp.port, lmtp: true, name, ignoreTLS: true }, entry);
}
