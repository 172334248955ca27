import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { OrgBundleClient } from '../../smime/bundle/client';
import { FileBundleCache } from '../bundle/file-cache';
import { httpsBundleFetcher } from '../bundle/https-fetcher';
import { OrgNodeError } from '../errors';
import { Org } from '../org';
import type { SecretFiles } from '../keys/open';
import { engineInspector } from '../relay/engine-inspector';
import { mailauthChecker } from '../relay/external';
import { bundleResolver } from '../relay/resolver';
import { openAbuseDesk } from '../abuse/open';
import { startOrgServer, type OrgServerHandle } from '../http/server';
import { peerCrls } from '../relay/crl';
import { fileAuthenticator } from './credentials';
import { dovecotAuthenticator } from './dovecot-auth';
import { relayDepsFromOrg } from './from-org';
import { dnsMxLookup, firstRoute, mapRoutes, mxRoutes, type Route } from './handoff';
import { startOrgNode, type OrgNodeHandle } from './node';

/**
 * `ssmax node run --config node.json`: one org node's mail side from a JSON file. Paths are relative
 * to the file. Peers: the SSMAX orgs this node relays to, with the host:port of their node; their
 * encryption certificates come from their bundles (verified against the org's SSMAX root, cached).
 *
 * {
 *   "org": "org",                       // the org directory (ssmax org init …)
 *   "name": "node.a.example",
 *   "spool": "spool",
 *   "submission": { "listen": "0.0.0.0:587", "tlsCert": "tls.pem", "tlsKey": "tls.key", "credentials": "credentials.json" },
 *                 (or, instead of "credentials", "dovecotAuth": "/run/dovecot/auth-ssmax" | "10.0.0.5:12345":
 *                  passwords checked by Dovecot's auth service, see dovecot-auth.ts)
 *   "inbound": { "listen": "0.0.0.0:25", "tlsCert": "tls.pem", "tlsKey": "tls.key", "external": true },
 *   "filter": { "listen": "127.0.0.1:10025", "reinject": "127.0.0.1:10026" },
 *   "lmtp": "127.0.0.1:24",
 *   "clamd": "127.0.0.1:3310" | "/run/clamav/clamd.ctl",
 *   "peers": { "b.example": "mx.b.example:25", "c.example": "mx" },
 *   "mx": { "port": 25, "servers": ["127.0.0.1:5353"] },
 *   "nonMember": "refuse" | "deliver-signed",
 *   "bundleCache": "bundles",
 *   "http": { "listen": "0.0.0.0:443", "tlsCert": "tls.pem", "tlsKey": "tls.key" },
 *   "inspection": { "danger": "reject" | "hold", "unsupported": "deliver-flagged" | "hold" | "reject" }
 * }
 * `peers`: a peer's node as host:port, or "mx" — found through the DNS MX of its domain (`mx`
 * (optional): the SMTP port of exchanges, default 25, and DNS servers instead of the system's).
 * `nonMember` (optional, default "refuse"): mail to a domain that is not in `peers` (not SSMAX) is
 * refused with a 550 and the reason, or with "deliver-signed" sent signed only (① and the org's ②,
 * not encrypted) to the domain's MX over verified TLS, and the sender is told (250 text and a notice
 * in their mailbox) — never a silent downgrade (SPEC §5).
 * `inspection` (optional): the inspection policy (org-node/inspection/policy.ts; default Danger →
 * reject, Unsupported → deliver-flagged). "danger": "hold" keeps Danger mail in the spool's held/ for
 * an administrator, who may release it (the copy then carries the Danger verdict in its attestation).
 * `http` (optional): the org's HTTP(S) side (org-node/http/server.ts) — bundle, CRL, enrollment API and
 * the abuse desk at the path of the org's abuseEndpoint; forwarded reports go to the endpoint of the
 * other org's verified bundle (same bundle client and cache as the relay). Without TLS files it speaks
 * plain HTTP (behind a TLS-terminating proxy).
 */
const hostPort = z.string().regex(/^.+:\d{1,5}$/, 'host:port expected');

export const nodeConfigSchema = z
  .object({
    org: z.string(),
    name: z.string().min(1),
    spool: z.string(),
    submission: z
      .object({ listen: hostPort, tlsCert: z.string(), tlsKey: z.string(), credentials: z.string().optional(), dovecotAuth: z.string().optional() })
      .strict()
      .refine((s) => (s.credentials === undefined) !== (s.dovecotAuth === undefined), 'exactly one of credentials or dovecotAuth')
      .optional(),
    inbound: z.object({ listen: hostPort, tlsCert: z.string().optional(), tlsKey: z.string().optional(), external: z.boolean().optional() }).strict().optional(),
    filter: z.object({ listen: hostPort, reinject: hostPort }).strict().optional(),
    lmtp: hostPort,
    clamd: z.string(),
    peers: z.record(z.string(), z.union([hostPort, z.literal('mx')])).default({}),
    mx: z.object({ port: z.number().int().min(1).max(65535).optional(), servers: z.array(z.string()).min(1).optional() }).strict().optional(),
    nonMember: z.enum(['refuse', 'deliver-signed']).optional(),
    bundleCache: z.string().default('bundles'),
    http: z.object({ listen: hostPort, tlsCert: z.string().optional(), tlsKey: z.string().optional() }).strict().optional(),
    inspection: z.object({ danger: z.enum(['reject', 'hold']).optional(), unsupported: z.enum(['deliver-flagged', 'hold', 'reject']).optional() }).strict().optional(),
  })
  .strict();

export type NodeConfig = z.infer<typeof nodeConfigSchema>;

export class NodeConfigError extends OrgNodeError {}

function endpoint(v: string): { host: string; port: number } {
  const i = v.lastIndexOf(':');
  return { host: v.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port: Number(v.slice(i + 1)) };
}

export async function loadNodeConfig(path: string): Promise<{ config: NodeConfig; base: string }> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new NodeConfigError(`The node configuration ${path} cannot be read as JSON.`, { cause: err });
  }
  const r = nodeConfigSchema.safeParse(json);
  if (!r.success) throw new NodeConfigError(`The node configuration ${path} is not valid: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return { config: r.data, base: dirname(resolve(path)) };
}

export async function runNodeFromConfig(
  path: string,
  secrets: SecretFiles = {},
  log?: (e: Record<string, unknown>) => void,
): Promise<{ node: OrgNodeHandle; org: Org; http: OrgServerHandle | undefined; stop(): Promise<void> }> {
  const { config: c, base } = await loadNodeConfig(path);
  const at = (p: string): string => resolve(base, p);
  const org = await Org.open(at(c.org), secrets);
  if (c.http && (c.http.tlsCert === undefined) !== (c.http.tlsKey === undefined)) {
    await org.close();
    throw new NodeConfigError(`The node configuration ${path} is not valid: http.tlsCert and http.tlsKey go together.`);
  }
  let desk: ReturnType<typeof openAbuseDesk> | undefined;
  let http: OrgServerHandle | undefined;
  try {
    const peers = Object.fromEntries(Object.entries(c.peers).map(([d, hp]) => [d.toLowerCase(), hp]));
    const staticPeers: Record<string, Route> = Object.fromEntries(Object.entries(peers).flatMap(([d, hp]) => (hp === 'mx' ? [] : [[d, endpoint(hp)]])));
    const mx = mxRoutes({ resolveMx: dnsMxLookup(c.mx?.servers), ...(c.mx?.port ? { port: c.mx.port } : {}) });
    const bundles = new OrgBundleClient({ roots: [await org.rootCertificate()], fetcher: httpsBundleFetcher(), cache: new FileBundleCache(at(c.bundleCache)) });
    const clamd = c.clamd.includes('/') ? { path: c.clamd } : endpoint(c.clamd);
    // A CRL fetch happens while the sending node waits at DATA: short timeout, then 4xx (it retries).
    const fetcher = httpsBundleFetcher({ timeoutMs: 5_000, label: 'CRL' });
    const relay = { ...(c.nonMember ? { nonMemberPolicy: c.nonMember } : {}), ...(await relayDepsFromOrg(org, { inspect: engineInspector({ clamd, ...(c.inspection ? { policy: c.inspection } : {}) }), resolveOrg: bundleResolver(bundles, (d) => d in peers) })), peerCrls: peerCrls({ bundles, fetch: (url) => fetcher.fetch(url) }) };
    const sub = c.submission;
    const inb = c.inbound;
    const node = await startOrgNode({
      name: c.name,
      relay,
      spoolDir: at(c.spool),
      ...(sub ? { submission: { ...endpoint(sub.listen), tls: { cert: await readFile(at(sub.tlsCert)), key: await readFile(at(sub.tlsKey)) }, authenticate: sub.dovecotAuth ? dovecotAuthenticator(/^[^/]+:\d+$/.test(sub.dovecotAuth) ? endpoint(sub.dovecotAuth) : { path: at(sub.dovecotAuth) }) : fileAuthenticator(at(sub.credentials ?? '')) } } : {}),
      ...(inb
        ? {
            inbound: {
              ...endpoint(inb.listen),
              ...(inb.tlsCert && inb.tlsKey ? { tls: { cert: await readFile(at(inb.tlsCert)), key: await readFile(at(inb.tlsKey)) } } : {}),
              ...(inb.external ? { external: mailauthChecker({ mta: c.name }) } : {}),
            },
          }
        : {}),
      ...(c.filter ? { filter: { ...endpoint(c.filter.listen), reinject: endpoint(c.filter.reinject) } } : {}),
      // Peers named "mx" (and only they) are found through DNS; signed-only copies outside SSMAX always are.
      routes: firstRoute(mapRoutes(staticPeers), (d) => (peers[d.toLowerCase()] === 'mx' ? mx(d) : Promise.resolve(undefined))),
      nonMemberRoutes: mx,
      lmtp: endpoint(c.lmtp),
      ...(log ? { log } : {}),
    });
    if (c.http) {
      const h = c.http;
      const httpLog = (line: string): void => (log ? log({ http: line }) : console.log(line));
      try {
        desk = openAbuseDesk(org, { bundles, log: httpLog });
        http = await startOrgServer(org, {
          listen: endpoint(h.listen),
          ...(h.tlsCert && h.tlsKey ? { tls: { certFile: at(h.tlsCert), keyFile: at(h.tlsKey) } } : {}),
          abuseDesk: desk,
          log: httpLog,
        });
        // Reports recorded but not forwarded before a restart go now (in the background).
        const d = desk;
        void d.resumeForwards().catch((err: unknown) => httpLog(`abuse: resuming forwards failed: ${(err as Error).message}`));
      } catch (err) {
        await node.stop();
        throw err;
      }
    }
    return {
      node,
      org,
      http,
      async stop() {
        await http?.close();
        await node.stop();
        desk?.close();
        await org.close();
      },
    };
  } catch (err) {
    desk?.close();
    await org.close();
    throw err;
  }
}
