import { Resolver, resolveMx } from 'node:dns/promises';
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

/** The first resolver that knows a route (e.g. the static peers, then MX). */
export function firstRoute(...resolvers: readonly RouteResolver[]): RouteResolver {
  return async (org) => {
    for (const r of resolvers) {
      const route = await r(org);
      if (route) return route;
    }
    return undefined;
  };
}

export interface MxRecord {
  readonly exchange: string;
  readonly priority: number;
}

export interface MxOptions {
  /** DNS lookup (default `dns/promises` resolveMx); tests inject one or point it at a loopback DNS server. */
  readonly resolveMx?: (domain: string) => Promise<readonly MxRecord[]>;
  /** SMTP port of the exchanges (default 25). */
  readonly port?: number;
  readonly requireTls?: boolean;
  readonly ca?: string;
}

/** MX lookups through the given DNS servers ("ip" or "ip:port"), or the system's resolver. */
export function dnsMxLookup(servers?: readonly string[]): (domain: string) => Promise<readonly MxRecord[]> {
  if (!servers || servers.length === 0) return resolveMx;
  const resolver = new Resolver({ timeout: 5_000, tries: 2 });
  resolver.setServers([...servers]);
  return (domain) => resolver.resolveMx(domain);
}

/**
 * Routes from DNS MX (RFC 5321 §5.1): the most preferred exchange (lowest priority value); no MX
 * record → the domain itself (implicit MX); a "null MX" (RFC 7505, exchange ".") → no route. A DNS
 * failure other than "no such data" throws, which the worker treats as deferred (retried).
 */
export function mxRoutes(options: MxOptions = {}): RouteResolver {
  const lookup = options.resolveMx ?? resolveMx;
  return async (domain) => {
    let records: readonly MxRecord[];
    try {
      records = await lookup(domain);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'ENODATA' || code === 'ENOTFOUND') records = [];
      else throw err;
    }
    const usable = records.filter((r) => r.exchange !== '' && r.exchange !== '.');
    if (records.length > 0 && usable.length === 0) return undefined;
    const best = [...usable].sort((a, b) => a.priority - b.priority)[0];
    return { host: best ? best.exchange.replace(/\.$/, '') : domain, port: options.port ?? 25, ...(options.requireTls !== undefined ? { requireTls: options.requireTls } : {}), ...(options.ca ? { ca: options.ca } : {}) };
  };
}

function classify(err: unknown): HandOffResult {
  const e = err as { responseCode?: number; response?: string; message?: string; command?: string; rejectedErrors?: { responseCode?: number; response?: string }[] };
  const code = e.responseCode ?? e.rejectedErrors?.[0]?.responseCode;
  // The command that failed (e.g. STARTTLS) says more than a bare "500 command not recognized".
  const text = `${e.response ?? e.rejectedErrors?.[0]?.response ?? e.message ?? String(err)}${e.command && e.command !== 'DATA' && e.command !== 'CONN' ? ` (in reply to ${e.command})` : ''}`;
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

/**
 * Relay copies to the next org node (`routes`), and signed-only copies to domains outside SSMAX
 * (`nonMemberRoutes`, default `routes`): those go only over STARTTLS with a certificate that
 * verifies (against `ca` of the route, else the system's CAs) — they are not encrypted otherwise.
 */
export function smtpHandOff(routes: RouteResolver, name: string, nonMemberRoutes: RouteResolver = routes): HandOff {
  return async (entry) => {
    let route: Route | undefined;
    try {
      route = entry.org ? await (entry.nonMember ? nonMemberRoutes : routes)(entry.org) : undefined;
    } catch (err) {
      return { status: 'deferred', reason: `No route to ${entry.org ?? '(no org)'} now: ${(err as Error).message}` };
    }
    if (!route) return { status: entry.nonMember ? 'rejected' : 'deferred', reason: `No route to ${entry.nonMember ? 'the mail server of' : 'the node of'} ${entry.org ?? '(no org)'}.` };
    if (entry.nonMember) {
      const r = await send({ host: route.host, port: route.port, secure: false, name, requireTLS: true, tls: route.ca ? { ca: route.ca } : {} }, entry);
      // No STARTTLS, or a certificate that does not verify: the signed-only copy never goes in clear (bounce, with why).
      if (r.status !== 'accepted' && /STARTTLS|TLS|certificate|self[- ]signed|altnames/i.test(r.reason)) {
        return { status: 'rejected', reason: `The mail server of ${entry.org ?? ''} (${route.host}) offers no verified TLS (${r.reason}); signed-only mail leaves SSMAX only over verified TLS.` };
      }
      return r;
    }
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
