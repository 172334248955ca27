/**
 * An org node in a child process for crash tests (kill -9): reads a JSON config (test keys in clear),
 * starts submission + inbound + worker, prints "ready <json>" on stdout. With `crashMarker`, the
 * process SIGKILLs itself right after the next hop's 250 for the first copy (before the spool
 * records it as done), and writes the marker first so the restarted process does not crash again.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { SoftwareSigner, softwareDecryptor } from '../../../smime/keys';
import { SqliteMemberDirectory } from '../../../org-node/directory/sqlite';
import { staticResolver } from '../../../org-node/relay/resolver';
import { fileAuthenticator } from '../../../org-node/smtp/credentials';
import { mapRoutes } from '../../../org-node/smtp/handoff';
import { startOrgNode } from '../../../org-node/smtp/node';
import type { Inspector } from '../../../org-node/relay/types';

export interface ChildConfig {
  name: string;
  domains: string[];
  caB64: string;
  signing: { pkcs8: string; cert: string };
  encryption: { pkcs8: string; cert: string };
  rootPem: string;
  directoryPath: string;
  spoolDir: string;
  submissionPort?: number;
  inboundPort?: number;
  /** Where to crash: after the next hop's 250 (default), or after spooling before answering 250. */
  crashPoint?: 'after-handoff' | 'after-enqueue';
  tlsKey: string;
  tlsCert: string;
  credentialsPath: string;
  routes: Record<string, { host: string; port: number }>;
  orgs: Record<string, { id: string; cert: string }>;
  lmtp: { host: string; port: number };
  crashMarker?: string;
  /** Crash at the n-th hand-off (default 1). */
  crashAfter?: number;
}

const b = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));
const safe: Inspector = () => Promise.resolve({ attestation: { verdict: 'Safe', engine: 'test', signatureDb: 'none', inspectedAt: new Date(), attachments: [] }, decision: { action: 'pass' } });

let handOffs = 0;

async function main(): Promise<void> {
  const c = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as ChildConfig;
  /** SIGKILLs this process at the configured n-th pass, once (the marker survives the restart). */
  const crash = (): void => {
    const marker = c.crashMarker ?? '';
    handOffs++;
    if (!marker || existsSync(marker) || handOffs < (c.crashAfter ?? 1)) return;
    writeFileSync(marker, 'crashed');
    process.kill(process.pid, 'SIGKILL');
  };
  const node = await startOrgNode({
    name: c.name,
    relay: {
      org: { domains: c.domains, caCertificate: b(c.caB64), signer: new SoftwareSigner(b(c.signing.pkcs8), b(c.signing.cert)), decryptors: [softwareDecryptor(b(c.encryption.pkcs8), b(c.encryption.cert))] },
      trustAnchors: [c.rootPem],
      directory: SqliteMemberDirectory.open(c.directoryPath),
      resolveOrg: staticResolver(Object.fromEntries(Object.entries(c.orgs).map(([d, o]) => [d, { id: o.id, encryptionCertificate: b(o.cert) }]))),
      inspect: safe,
      now: () => new Date(),
    },
    spoolDir: c.spoolDir,
    ...(c.submissionPort !== undefined ? { submission: { port: c.submissionPort, tls: { key: readFileSync(c.tlsKey), cert: readFileSync(c.tlsCert) }, authenticate: fileAuthenticator(c.credentialsPath) } } : {}),
    ...(c.inboundPort !== undefined ? { inbound: { port: c.inboundPort } } : {}),
    ...(c.crashMarker && c.crashPoint === 'after-enqueue' ? { acceptFaultHook: crash } : {}),
    routes: mapRoutes(c.routes),
    lmtp: c.lmtp,
    log: (e) => process.stderr.write(`${JSON.stringify(e)}\n`),
    worker: {
      retryDelaysMs: [200],
      pollMs: 200,
      ...(c.crashMarker && c.crashPoint !== 'after-enqueue' ? { faultHook: crash } : {}),
    },
  });
  process.stdout.write(`ready ${JSON.stringify({ submissionPort: node.submissionPort, inboundPort: node.inboundPort })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${String((err as Error).stack ?? err)}\n`);
  process.exit(1);
});
