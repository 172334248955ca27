import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { processInbound, processSubmission } from '../relay/pipeline';
import { processExternal, type AuthChecker } from '../relay/external';
import { domainOf } from '../relay/message';
import type { Outcome, PipelineResult, RelayDeps } from '../relay/types';
import { Spool, spoolIdFor, type SpoolEntry, type SpoolEntryInput } from '../queue/spool';
import { DeliveryWorker, type FaultPoint, type HandOff, type WorkerEvent } from '../queue/worker';
import type { Authenticator } from './credentials';
import { postfixSubmitter } from './postfix-sasl';
import { fixedSmtpHandOff, lmtpHandOff, smtpHandOff, type Endpoint, type RouteResolver } from './handoff';

/**
 * One org node's mail side: the submission server (members, AUTH after STARTTLS), the inbound
 * server (other org nodes, only for the org's domains), the spool and the delivery worker.
 * Standalone "before-queue" mode: the pipeline runs while the client waits at DATA; a refusal is a
 * 5xx with the reason, any internal failure a 4xx (the previous hop keeps the message), and 250 is
 * answered only after every resulting copy is in the spool (fsynced).
 */

export interface TlsFiles {
  readonly key: string | Buffer;
  readonly cert: string | Buffer;
}

export interface OrgNodeOptions {
  /** Host name for greetings, HELO and relay ids. */
  readonly name: string;
  readonly relay: RelayDeps;
  readonly spoolDir: string;
  readonly submission?: { readonly host?: string; readonly port: number; readonly tls?: TlsFiles; readonly authenticate: Authenticator; readonly allowInsecureAuth?: boolean };
  /**
   * Inbound from other org nodes. With `external`, mail that is not SSMAX relay traffic (not encrypted
   * to the org key) is delivered marked external with its SPF/DKIM/DMARC results (relay/external.ts).
   */
  readonly inbound?: { readonly host?: string; readonly port: number; readonly tls?: TlsFiles; readonly external?: AuthChecker };
  /**
   * After-queue mode behind Postfix (`content_filter`): mail from Postfix's filter transport is a
   * member's submission when Postfix's own Received field names the SASL login
   * (`smtpd_sasl_authenticated_header = yes`, see postfix-sasl.ts; that login is the submitter ①
   * must be), else inbound mail of other org nodes; every resulting copy is re-injected into Postfix
   * (`reinject`) before the 250; Postfix's queue is the durable store, its transports route.
   */
  readonly filter?: { readonly host?: string; readonly port: number; readonly reinject: Endpoint };
  /** The next org node per destination org. */
  readonly routes: RouteResolver;
  /**
   * Mail servers of domains outside SSMAX, for signed-only copies under the relay's nonMemberPolicy
   * 'deliver-signed' (production: `mxRoutes()`; default `routes`). Verified TLS is always required.
   */
  readonly nonMemberRoutes?: RouteResolver;
  /** The mailbox store (Dovecot LMTP). */
  readonly lmtp: Endpoint;
  readonly maxMessageBytes?: number;
  /** How long done/ tombstones are kept for deduplication (default 7 days; purged hourly). */
  readonly dedupeWindowMs?: number;
  /** Structured log: one object per decision. */
  readonly log?: (event: Record<string, unknown>) => void;
  readonly worker?: { readonly retryDelaysMs?: readonly number[]; readonly pollMs?: number; readonly faultHook?: (point: FaultPoint, entry: SpoolEntry) => void };
  /** Tests only: called after the copies are in the spool and before the 250 is answered. */
  readonly acceptFaultHook?: () => void;
}

export interface OrgNodeHandle {
  readonly submissionPort: number | undefined;
  readonly inboundPort: number | undefined;
  readonly filterPort: number | undefined;
  readonly spool: Spool;
  readonly worker: DeliveryWorker;
  stop(): Promise<void>;
}

type SmtpError = Error & { responseCode: number };

function smtpError(code: number, text: string): SmtpError {
  const e = new Error(text.replace(/[\r\n]+/g, ' ').slice(0, 900)) as SmtpError;
  e.responseCode = code;
  return e;
}

async function readAll(stream: SMTPServerDataStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function headerValue(raw: Buffer, name: string): string | undefined {
  const end = raw.indexOf('\r\n\r\n');
  const head = raw.subarray(0, end < 0 ? Math.min(raw.length, 65536) : end).toString('latin1');
  const m = new RegExp(`^${name}:[ \\t]*([^\\r\\n]*)`, 'im').exec(head);
  return m?.[1]?.trim();
}

/** Tells a local sender that a copy left SSMAX signed but not encrypted (policy 'deliver-signed'). */
function signedOnlyNotice(name: string, to: string, messageId: string | undefined, rcpts: readonly string[]): Buffer {
  const lines = [
    `From: Mail Delivery System <postmaster@${domainOf(to) || name}>`,
    `To: <${to}>`,
    'Subject: Sent signed only, not encrypted (recipient outside SSMAX)',
    `Date: ${new Date().toUTCString()}`,
    `Message-ID: <notice-${randomBytes(8).toString('hex')}@${name}>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    `Your message ${messageId ?? ''} was sent to these recipients outside SSMAX signed by you and by`,
    'your organisation, but NOT encrypted (they hold no SSMAX key); it travels only over verified TLS:',
    ...rcpts.map((r) => `  ${r}`),
    '',
  ];
  return Buffer.from(lines.join('\r\n'), 'utf8');
}

function dsn(name: string, to: string, messageId: string | undefined, failed: readonly { rcpt: string; reason: string }[]): Buffer {
  const lines = [
    `From: Mail Delivery System <postmaster@${domainOf(to) || name}>`,
    `To: <${to}>`,
    'Subject: Undelivered mail',
    `Date: ${new Date().toUTCString()}`,
    `Message-ID: <dsn-${randomBytes(8).toString('hex')}@${name}>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    `Your message ${messageId ?? ''} could not be delivered to:`,
    ...failed.map((f) => `  ${f.rcpt}: ${f.reason}`),
    '',
  ];
  return Buffer.from(lines.join('\r\n'), 'utf8');
}

export async function startOrgNode(o: OrgNodeOptions): Promise<OrgNodeHandle> {
  const log = o.log ?? (() => undefined);
  const spool = await Spool.open(o.spoolDir);
  const ownDomains = new Set(o.relay.org.domains.map((d) => d.toLowerCase()));
  const relayHandOff = smtpHandOff(o.routes, o.name, o.nonMemberRoutes);
  const lmtp = lmtpHandOff(o.lmtp, o.name);
  const handOff: HandOff = (e) => (e.kind === 'relay' ? relayHandOff(e) : lmtp(e));
  const worker = new DeliveryWorker(spool, {
    handOff,
    ...(o.worker?.retryDelaysMs ? { retryDelaysMs: o.worker.retryDelaysMs } : {}),
    ...(o.worker?.pollMs ? { pollMs: o.worker.pollMs } : {}),
    ...(o.worker?.faultHook ? { faultHook: o.worker.faultHook } : {}),
    onEvent: (e: WorkerEvent) => log({ event: `spool.${e.type}`, ...e }),
    onBounce: async (entry, reason) => {
      // A bounce goes back to a local sender only (a remote sender's org gets it by its own 5xx at DATA).
      if (!ownDomains.has(domainOf(entry.mailFrom)) || entry.key.startsWith('dsn|')) return;
      await spool.enqueue([{ key: `dsn|${entry.id}`, kind: 'deliver', mailFrom: '', rcptTo: [entry.mailFrom], message: dsn(o.name, entry.mailFrom, entry.messageId, entry.rcptTo.map((rcpt) => ({ rcpt, reason })) ) }]);
      worker.kick();
    },
  });

  /** Turns the pipeline's outcomes into spool entries and the SMTP answer. */
  const reinject = o.filter ? fixedSmtpHandOff(o.filter.reinject, o.name) : undefined;

  async function accept(result: PipelineResult, keyBase: string, mailFrom: string, localSender: boolean, dedupeSuffix: (o: Outcome) => string, via: 'spool' | 'reinject' = 'spool'): Promise<string> {
    const outcomes = result.outcomes;
    const temp = outcomes.filter((x) => x.kind === 'tempfail');
    if (temp.length > 0) throw smtpError(451, `4.3.0 ${temp.map((t) => t.reason).join(' ')}`);
    const bounces = outcomes.filter((x) => x.kind === 'bounce');
    const copies = outcomes.filter((x) => x.kind === 'relay' || x.kind === 'deliver');
    if (copies.length === 0) throw smtpError(550, `5.7.1 ${[...new Set(bounces.map((b) => b.reason))].join(' ')}`);
    const entries: SpoolEntryInput[] = [];
    for (const c of copies) {
      if (c.kind !== 'relay' && c.kind !== 'deliver') continue;
      const key = `${keyBase}|${dedupeSuffix(c)}`;
      const message = c.kind === 'relay' && !c.nonMember ? Buffer.concat([Buffer.from(`X-SSMAX-Relay-Id: ${o.name}/${spoolIdFor(key)}\r\n`), c.message]) : c.message;
      entries.push({ key, kind: c.kind, mailFrom: c.mailFrom, rcptTo: c.rcptTo, ...(c.kind === 'relay' ? { org: c.org } : {}), ...(c.kind === 'relay' && c.nonMember ? { nonMember: true } : {}), ...(result.log.messageId ? { messageId: result.log.messageId } : {}), ...(c.held ? { held: c.held } : {}), message });
    }
    if (bounces.length > 0 && localSender) {
      const failed = bounces.flatMap((b) => (b.kind === 'bounce' ? b.rcptTo.map((rcpt) => ({ rcpt, reason: b.reason })) : []));
      entries.push({ key: `${keyBase}|dsn`, kind: 'deliver', mailFrom: '', rcptTo: [mailFrom], message: dsn(o.name, mailFrom, result.log.messageId, failed) });
    }
    const signedOnly = copies.flatMap((c) => (c.kind === 'relay' && c.nonMember ? c.rcptTo : []));
    if (signedOnly.length > 0 && localSender) entries.push({ key: `${keyBase}|signed-only-notice`, kind: 'deliver', mailFrom: '', rcptTo: [mailFrom], message: signedOnlyNotice(o.name, mailFrom, result.log.messageId, signedOnly) });
    // A held message goes to the spool's held/ in either mode; once released, the worker hands it on.
    if (via === 'reinject' && reinject && !entries.some((e) => e.held)) {
      // Postfix holds the message until this 250: a copy not re-injected fails the whole message (451, Postfix retries).
      for (const e of entries) {
        const r = await reinject({ ...e, v: 1, id: spoolIdFor(e.key), createdAt: new Date().toISOString() });
        if (r.status !== 'accepted') throw smtpError(451, `4.3.0 Re-injection failed: ${r.reason}`);
      }
      return `Re-injected ${entries.length} cop${entries.length === 1 ? 'y' : 'ies'}`;
    }
    let queued;
    try {
      queued = await spool.enqueue(entries);
      o.acceptFaultHook?.();
    } catch (err) {
      log({ event: 'spool.error', error: (err as Error).message });
      throw smtpError(451, '4.3.0 The message could not be stored; try again later.');
    }
    worker.kick();
    const held = entries.find((e) => e.held)?.held;
    return `Queued as ${[...queued.queued, ...queued.duplicates].join(',')}${held ? ` (held for review: ${held})` : ''}${signedOnly.length > 0 ? ` (signed only, not encrypted, for ${signedOnly.join(', ')}: outside SSMAX)` : ''}${bounces.length > 0 ? ` (refused for ${bounces.flatMap((b) => b.rcptTo).join(', ')})` : ''}`;
  }

  /** `filter`: Postfix's content filter — a submission when Postfix's own Received field names the SASL login, else inbound. */
  function onData(kind: 'submission' | 'inbound' | 'filter') {
    const via = kind === 'filter' ? 'reinject' : 'spool';
    return (stream: SMTPServerDataStream, session: SMTPServerSession, callback: (err?: Error | null, message?: string) => void): void => {
      void (async () => {
        const raw = await readAll(stream);
        if (stream.sizeExceeded) throw smtpError(552, '5.3.4 The message is too big.');
        const envelope = { mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', rcptTo: session.envelope.rcptTo.map((r) => r.address) };
        const messageId = headerValue(raw, 'message-id') ?? `random-${randomBytes(8).toString('hex')}`;
        let submitter = kind === 'submission' ? String(session.user ?? '') : undefined;
        if (kind === 'filter') {
          const who = postfixSubmitter(raw);
          if (who.kind === 'ambiguous') throw smtpError(550, `5.7.1 ${who.reason} The message is refused.`);
          if (who.kind === 'authenticated') submitter = who.login;
          else {
            // Postfix's relay restrictions keep unauthenticated mail for other domains out; should any
            // come, the whole message is refused (one reply at DATA: no recipient dropped silently).
            const foreign = envelope.rcptTo.filter((r) => !ownDomains.has(domainOf(r)));
            if (foreign.length > 0) throw smtpError(550, `5.7.1 This node does not accept mail for ${foreign.join(', ')} from an unauthenticated sender.`);
          }
        }
        if (submitter !== undefined) {
          const result = await processSubmission(o.relay, { raw, submitter, envelope });
          log({ event: 'submission', submitter, ...(kind === 'filter' ? { via: 'postfix' } : {}), envelope, outcomes: result.outcomes.map(summary), ...result.log });
          return accept(result, `sub|${submitter}|${messageId}`, envelope.mailFrom, true, (c) => (c.kind === 'relay' ? `org:${c.org}` : `rcpt:${c.rcptTo.join(',')}`), via);
        }
        const result = await processInbound(o.relay, { raw, envelope });
        const external = o.inbound?.external;
        if (external && via === 'spool' && result.outcomes.some((x) => x.kind === 'bounce' && x.code === 'not-encrypted')) {
          const ar = await external(raw, { ip: session.remoteAddress, helo: session.hostNameAppearsAs, mailFrom: envelope.mailFrom });
          const ext = await processExternal(o.relay, { raw, envelope, client: { ip: session.remoteAddress, helo: session.hostNameAppearsAs } }, ar);
          log({ event: 'inbound.external', envelope, outcomes: ext.outcomes.map(summary), ...ext.log });
          return accept(ext, `ext|${envelope.mailFrom}|${messageId}`, envelope.mailFrom, false, (c) => `rcpt:${c.rcptTo.join(',')}`);
        }
        log({ event: 'inbound', envelope, outcomes: result.outcomes.map(summary), ...result.log });
        const relayId = headerValue(raw, 'x-ssmax-relay-id') ?? messageId;
        return accept(result, `in|${result.sendingOrgCertificate ?? 'unknown'}|${relayId}`, envelope.mailFrom, false, (c) => `rcpt:${c.rcptTo.join(',')}`, via);
      })().then(
        (message) => callback(null, message),
        (err: unknown) => {
          if ((err as SmtpError).responseCode) return callback(err as SmtpError);
          log({ event: `${kind}.error`, error: (err as Error).message, stack: (err as Error).stack });
          callback(smtpError(451, '4.3.0 Internal error at the org node; the message was not accepted, try again later.'));
        },
      );
    };
  }

  const servers: SMTPServer[] = [];
  const common = { name: o.name, logger: false, disableReverseLookup: true, size: o.maxMessageBytes ?? 50 * 1024 * 1024, banner: 'SSMAX org node' } as const;

  let submissionPort: number | undefined;
  if (o.submission) {
    const s = o.submission;
    const server = new SMTPServer({
      ...common,
      ...(s.tls ? { key: s.tls.key, cert: s.tls.cert } : {}),
      ...(s.tls ? {} : { disabledCommands: ['STARTTLS'] }),
      authMethods: ['PLAIN', 'LOGIN'],
      authOptional: false,
      allowInsecureAuth: s.allowInsecureAuth ?? false,
      onAuth(auth, _session, cb) {
        s.authenticate(auth.username ?? '', auth.password ?? '').then(
          (user) => (user ? cb(null, { user }) : cb(smtpError(535, '5.7.8 Authentication failed.'))),
          () => cb(smtpError(454, '4.7.0 Authentication is unavailable right now.')),
        );
      },
      onMailFrom(_addr, session, cb) {
        cb(session.user ? null : smtpError(530, '5.7.0 Authentication required.'));
      },
      onData: onData('submission'),
    });
    submissionPort = await listen(server, s.port, s.host);
    servers.push(server);
  }

  let inboundPort: number | undefined;
  if (o.inbound) {
    const s = o.inbound;
    const server = new SMTPServer({
      ...common,
      ...(s.tls ? { key: s.tls.key, cert: s.tls.cert } : {}),
      disabledCommands: s.tls ? ['AUTH'] : ['AUTH', 'STARTTLS'],
      authOptional: true,
      onRcptTo(addr, _session, cb) {
        cb(ownDomains.has(domainOf(addr.address)) ? null : smtpError(550, `5.7.1 This node does not accept mail for ${domainOf(addr.address) || addr.address}.`));
      },
      onData: onData('inbound'),
    });
    inboundPort = await listen(server, s.port, s.host);
    servers.push(server);
  }

  let filterPort: number | undefined;
  if (o.filter) {
    const server = new SMTPServer({
      ...common,
      disabledCommands: ['AUTH', 'STARTTLS'],
      authOptional: true,
      // Recipients are judged at DATA: a member's submission (known from Postfix's Received field) may go anywhere.
      onData: onData('filter'),
    });
    filterPort = await listen(server, o.filter.port, o.filter.host);
    servers.push(server);
  }

  worker.start();
  const window = o.dedupeWindowMs ?? 7 * 86_400_000;
  const purge = setInterval(() => {
    spool.purgeDone(window).then(
      (n) => n > 0 && log({ event: 'spool.purged', count: n }),
      (err: unknown) => log({ event: 'spool.error', error: (err as Error).message }),
    );
  }, 3_600_000);
  purge.unref();
  return {
    submissionPort,
    inboundPort,
    filterPort,
    spool,
    worker,
    async stop() {
      clearInterval(purge);
      await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
      await worker.stop();
    },
  };
}

function summary(x: Outcome): Record<string, unknown> {
  return { kind: x.kind, rcptTo: x.rcptTo, ...(x.kind === 'bounce' ? { code: x.code, reason: x.reason } : {}), ...(x.kind === 'tempfail' ? { reason: x.reason } : {}), ...(x.kind === 'relay' ? { org: x.org } : {}) };
}

function listen(server: SMTPServer, port: number, host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(port, host, () => {
      const addr = (server as unknown as { server: { address(): AddressInfo } }).server.address();
      resolve(addr.port);
    });
  });
}
