import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChainResult, MessageRef } from '../../../api';
import { MemoryMessageSource } from '../../../client/open/service';
import { ServiceHost } from '../../../client/service-host';
import { issueCrl } from '../../../smime/pki';
import { buildWorld, T, type World } from '../../smime/chain/world';
import { buildOrg } from '../../support/ssmax-pki';
import { buildChainMail } from './support';

/**
 * Revocation at read time through the real path: ServiceHost → OpenService → verifyMessage asking
 * the client's CrlCache → HTTPS GET of each certificate's distribution point, served on loopback by
 * "the org nodes" (one HTTPS server with a private TLS CA, which the host trusts the way IT's
 * provisioning file makes it). Mail ① hanako@a.example → ② A Corp → ③ B Corp, every member
 * certificate naming its org's CRL on that server.
 */
const run = promisify(execFile);
const HOLDER = 'kaori@b.example';

describe('messages.open checks revocation at the distribution points', () => {
  let world: World;
  let server: Server;
  let tlsCaPem: string;
  let base: string;
  let port: number;
  const crls: { a: Uint8Array; aRevoked: Uint8Array; b: Uint8Array } = {} as never;
  /** What the server serves for A Corp's CRL (null: 503). */
  let servedA: Uint8Array | null = null;
  const hosts: ServiceHost[] = [];
  const dirs: string[] = [];
  const source = new MemoryMessageSource();
  let next = 1;

  beforeAll(async () => {
    const tls = await mkdtemp(join(tmpdir(), 'ssmax-crl-tls-'));
    dirs.push(tls);
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(tls, 'key.pem'), '-out', join(tls, 'cert.pem')]);
    tlsCaPem = await readFile(join(tls, 'cert.pem'), 'utf8');
    server = createServer({ key: await readFile(join(tls, 'key.pem')), cert: tlsCaPem }, (req: IncomingMessage, res: ServerResponse) => {
      const body = req.url === '/a/org-ca.crl' ? servedA : req.url === '/b/org-ca.crl' ? crls.b : null;
      if (!body) {
        res.writeHead(503).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/pkix-crl' }).end(Buffer.from(body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    base = `https://127.0.0.1:${port}`;

    const generated = await buildWorld();
    world = {
      ...generated,
      a: await buildOrg(generated.root, 'RSA-2048', 'A Corp', 'a.example', 'Hanako Yamada', true, `${base}/a/org-ca.crl`),
      b: await buildOrg(generated.root, 'P-256', 'B Corp', 'b.example', 'Taro Suzuki', true, `${base}/b/org-ca.crl`),
    };
    const window = { thisUpdate: new Date('2026-05-15T00:00:00Z'), nextUpdate: new Date('2026-07-01T00:00:00Z') };
    crls.a = new Uint8Array((await issueCrl(world.a.ca, { ...window, crlNumber: 1, revoked: [] })).rawData);
    crls.b = new Uint8Array((await issueCrl(world.b.ca, { ...window, crlNumber: 1, revoked: [] })).rawData);
    crls.aRevoked = new Uint8Array(
      (
        await issueCrl(world.a.ca, {
          ...window,
          crlNumber: 2,
          // Hanako's card was reported lost before she (or whoever holds it) signed this mail.
          revoked: [{ serialNumber: world.a.employee.signature.certificate.serialNumber, revocationDate: new Date('2026-05-20T00:00:00Z') }],
        })
      ).rawData,
    );
  }, 120_000);

  afterAll(async () => {
    for (const h of hosts) await h.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  /** A host with its own data dir (own CRL cache) and a clock the test moves. */
  async function openHost(opts: { dataDir?: string; trustTls?: boolean; clock?: { now: Date }; noRevocation?: boolean } = {}): Promise<{ host: ServiceHost; dataDir: string }> {
    const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'ssmax-crl-host-')));
    if (!opts.dataDir) dirs.push(dataDir);
    const clock = opts.clock ?? { now: T.at };
    const host = await ServiceHost.open({
      dataDir,
      runtime: 'bridge',
      ...(opts.trustTls === false ? {} : { firstLaunch: { tlsCaPem } }),
      open: {
        trust: { trustAnchors: [world.rootPem], ownOrgDomains: ['b.example'] },
        source,
        now: () => clock.now,
        ...(opts.noRevocation ? { revocation: false as const } : {}),
      },
    });
    hosts.push(host);
    return { host, dataDir };
  }

  async function mail(): Promise<MessageRef> {
    const raw = await buildChainMail(world, { to: HOLDER, messageId: `<crl-${next}@a.example>`, content: { text: '見積書を送ります。\n' } });
    const ref: MessageRef = { accountId: 'acct-1', path: 'INBOX', uid: next++ };
    source.put(ref, raw);
    return ref;
  }

  const notes = (chain: ChainResult): string[][] => chain.links.map((l) => l.notes.map((n) => n.code));
  const roles = (chain: ChainResult): string[][] => chain.links.map((l) => [l.role, l.status]);

  it('CRLs served, nobody revoked: verified, and no link says revocation was not checked', async () => {
    servedA = crls.a;
    const { host } = await openHost();
    const opened = await host.messages.open(await mail(), { loadRemoteContent: false });
    expect(opened.chain.state).toBe('verified');
    expect(roles(opened.chain)).toEqual([
      ['sender', 'valid'],
      ['sending-org', 'valid'],
      ['receiving-org', 'valid'],
    ]);
    expect(notes(opened.chain)).toEqual([[], [], []]);
  });

  it('the sender’s card revoked before the mail was signed: failed, ① revoked with the reason; a later outage does not undo it', async () => {
    servedA = crls.aRevoked;
    const clock = { now: T.at };
    const { host, dataDir } = await openHost({ clock });
    const ref = await mail();
    const opened = await host.messages.open(ref, { loadRemoteContent: false });
    expect(opened.chain.state).toBe('failed');
    expect(opened.chain.reasons.map((r) => r.code)).toContain('revoked');
    expect(opened.chain.links[0]).toMatchObject({ role: 'sender', status: 'revoked' });
    expect(opened.chain.links[0]?.reasons.find((r) => r.code === 'revoked')?.message).toMatch(/was revoked on 2026-05-20T00:00:00\.000Z, before the signing time/);
    // ② and ③ were checked against their own orgs' CRLs and are fine.
    expect(roles(opened.chain).slice(1)).toEqual([
      ['sending-org', 'valid'],
      ['receiving-org', 'valid'],
    ]);

    // A Corp's server goes down; the cached copy is old enough to be fetched again, which fails:
    // the CRL kept from before still revokes (with the reason it could not be refreshed).
    servedA = null;
    clock.now = new Date(T.at.getTime() + 30 * 60_000);
    const later = await host.messages.open(ref, { loadRemoteContent: false });
    expect(later.chain.state).toBe('failed');
    expect(later.chain.links[0]?.status).toBe('revoked');

    // A restarted client (same data dir, the CRL kept on disk) with the server still down: still revoked.
    const restarted = await openHost({ dataDir, clock });
    const again = await restarted.host.messages.open(ref, { loadRemoteContent: false });
    expect(again.chain.links[0]?.status).toBe('revoked');
  });

  it('CRL server down, nothing cached: the message still opens, each link says why revocation could not be checked, never more than without CRLs', async () => {
    servedA = null;
    const { host } = await openHost();
    const ref = await mail();
    const opened = await host.messages.open(ref, { loadRemoteContent: false });
    const { host: unchecked } = await openHost({ noRevocation: true });
    const baseline = await unchecked.messages.open(ref, { loadRemoteContent: false });
    expect(baseline.chain.links.every((l) => l.notes.some((n) => n.code === 'revocation-not-checked'))).toBe(true);
    expect(opened.chain.state).toBe(baseline.chain.state);
    expect(roles(opened.chain)).toEqual(roles(baseline.chain));
    // ① and ② are A Corp's certificates (its CRL unavailable); ③ is B Corp's (served).
    const unavailable = (i: number) => opened.chain.links[i]?.notes.find((n) => n.code === 'revocation-unavailable')?.message;
    expect(unavailable(0)).toMatch(new RegExp(`could not be checked: the revocation list at ${base}/a/org-ca\\.crl could not be fetched \\(HTTP 503\\)`));
    expect(unavailable(1)).toMatch(/could not be checked/);
    expect(notes(opened.chain)[2]).toEqual([]);

    // The whole server gone (connection refused, or a kept-alive socket hung up): same, with that reason.
    const { host: refused } = await openHost();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    try {
      const down = await refused.messages.open(ref, { loadRemoteContent: false });
      expect(down.chain.state).toBe(baseline.chain.state);
      for (const l of down.chain.links)
        expect(l.notes.find((n) => n.code === 'revocation-unavailable')?.message).toMatch(/could not be reached \((connect ECONNREFUSED|socket hang up)/);
    } finally {
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    }
  });

  it('a CRL server whose TLS certificate the client does not trust is not used: revocation could not be checked', async () => {
    servedA = crls.aRevoked;
    const { host } = await openHost({ trustTls: false });
    const opened = await host.messages.open(await mail(), { loadRemoteContent: false });
    expect(opened.chain.links[0]?.status).toBe('valid');
    expect(opened.chain.links[0]?.notes.find((n) => n.code === 'revocation-unavailable')?.message).toMatch(/could not be reached \(self[- ]signed certificate/);
  });
});
