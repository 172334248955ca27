import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROVISIONING_FORMAT } from '../../../client/first-launch/provisioning';
import { ServiceHost } from '../../../client/service-host';
import type { MemberDirectory } from '../../../org-node/directory/directory';
import { fileAuthenticator, hashPassword } from '../../../org-node/smtp/credentials';
import { mapRoutes } from '../../../org-node/smtp/handoff';
import { startOrgNode, type OrgNodeHandle } from '../../../org-node/smtp/node';
import { signOrgBundle } from '../../../smime/bundle/sign';
import { x509 } from '../../../smime/x509';
import { startDovecot, type DovecotHandle } from '../../harness/dovecot';
import { startPcscd, type PcscdHandle } from '../../harness/pcsc';
import { freePort } from '../../harness/process';
import { startVirtualCard, type VirtualCardHandle } from '../../harness/virtual-card';
import { buildRelayWorld, depsFor, directoryFor, type RelayWorld } from '../../org-node/relay/relay-world';
import { caDer, signerOf } from '../../smime/chain/world';
import { enrollVirtualCard, type EnrolledCard } from '../../support/virtual-card-enroll';

export const HOLDER = 'kaori@a.example';
export const PIN = '123456';

/**
 * Kaori's desktop client with the real card path, for the compose integration tests: pcscd + her
 * virtual card (9C/9D enrolled under A Corp's CA, recorded in A's directory), A's org node with its
 * submission server, the org bundle served over HTTPS and pinned by first launch (provisioning file),
 * her mail account on a real Dovecot, and the service host (PIN never cached: pinTtlMs 0).
 */
export interface KaoriClient {
  rw: RelayWorld;
  work: string;
  dir: MemberDirectory;
  node: OrgNodeHandle;
  dovecot: DovecotHandle;
  pcscd: PcscdHandle;
  enrolled: EnrolledCard;
  host: ServiceHost;
  /** The card in the reader at the start (tests may pull it and insert another). */
  card: VirtualCardHandle;
  /** Stops everything; `card` is the one in the reader now, if a test replaced it. */
  stop(card?: VirtualCardHandle): Promise<void>;
}

export async function startKaoriClient(o: {
  name: string;
  /** Whether the node delivers by LMTP to Dovecot (else it keeps the copies queued: nothing is handed on). */
  deliver: boolean;
  log?: (e: Record<string, unknown>) => void;
}): Promise<KaoriClient> {
  const work = mkdtempSync(join(tmpdir(), `ssmax-compose-${o.name}-`));
  const rw = await buildRelayWorld();
  const pcscd = await startPcscd();
  const dovecot = await startDovecot({ users: [{ address: HOLDER, password: 'pw-kaori' }] });
  const enrolled = await enrollVirtualCard(join(work, 'card.json'), rw.world.a.ca, { orgName: 'A Corp', name: 'Kaori Sato', staffId: 'A-0007', email: HOLDER });
  const dir = await directoryFor(join(work, 'dir-a.sqlite'), [rw.alice, rw.carol]);
  await dir.addMember({ address: HOLDER, name: 'Kaori Sato', staffId: 'A-0007' }, 'test');
  for (const [der, slot] of [[enrolled.signatureCert, '9C'], [enrolled.keyManagementCert, '9D']] as const) {
    const c = new x509.X509Certificate(der);
    await dir.recordCertificate({ serial: c.serialNumber.toLowerCase().replace(/^(00)+/, ''), address: HOLDER, slot, der, notBefore: c.notBefore, notAfter: c.notAfter }, 'test');
  }

  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(work, 'tls.key'), '-out', join(work, 'tls.pem'), '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const key = readFileSync(join(work, 'tls.key'));
  const cert = readFileSync(join(work, 'tls.pem'));
  writeFileSync(join(work, 'credentials.json'), JSON.stringify({ [HOLDER]: await hashPassword('pw-kaori') }));
  const port = await freePort();
  const node = await startOrgNode({
    name: 'node.a.example',
    relay: depsFor(rw, rw.world.a, dir),
    spoolDir: join(work, 'spool'),
    submission: { port, tls: { key, cert }, authenticate: fileAuthenticator(join(work, 'credentials.json')) },
    routes: mapRoutes({}),
    lmtp: o.deliver ? dovecot.lmtp : { host: '127.0.0.1', port: 1 },
    log: o.log ?? (() => undefined),
    worker: o.deliver ? { retryDelaysMs: [200], pollMs: 200 } : { retryDelaysMs: [3_600_000], pollMs: 3_600_000 },
  });

  // A's org bundle, served over HTTPS (first launch pins it).
  const now = Date.now();
  const bundle = await signOrgBundle(
    {
      org: { name: 'A Corp', domains: ['a.example'] },
      version: 1,
      issuedAt: new Date(now - 60_000),
      expiresAt: new Date(now + 30 * 86_400_000),
      orgCa: caDer(rw.world.a),
      signingCertificates: [rw.world.a.signing.der],
      encryptionCertificates: [rw.world.a.encryption.der],
      crlUrl: 'https://ssmax.a.example/crl',
      submission: { host: '127.0.0.1', port },
      abuseEndpoint: 'https://ssmax.a.example/abuse',
    },
    signerOf(rw.world.a.signing),
  );
  const https: Server = createServer({ key, cert }, (req, res) => {
    if (req.url === '/.well-known/ssmax/bundle.p7s') res.writeHead(200, { 'content-type': 'application/pkcs7-mime' }).end(Buffer.from(bundle));
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
  const bundleUrl = `https://127.0.0.1:${(https.address() as AddressInfo).port}/.well-known/ssmax/bundle.p7s`;

  const dataDir = join(work, 'data');
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(join(dataDir, 'provisioning.json'), JSON.stringify({ format: PROVISIONING_FORMAT, address: HOLDER, bundleUrl, tlsCaPem: cert.toString('utf8'), trustAnchorsPem: [rw.world.rootPem] }));
  // The mail account on a real Dovecot (the Sent copy is APPENDed there; SMTP AUTH uses the same credentials).
  writeFileSync(join(dataDir, 'accounts.json'), JSON.stringify({ version: 1, accounts: [{ id: 'acct-1', email: HOLDER, displayName: 'Kaori', imap: { host: dovecot.imap.host, port: dovecot.imap.port, security: 'none', username: HOLDER, password: 'pw-kaori' }, createdAt: new Date().toISOString() }] }));
  const host = await ServiceHost.open({
    dataDir,
    runtime: 'bridge',
    card: { env: { ...process.env, ...pcscd.env }, requestTimeoutMs: 20_000, pinTtlMs: 0 },
    compose: { smtpCaPem: cert.toString('utf8'), retryDelayMs: () => 3_600_000 },
    open: { trust: { trustAnchors: [rw.world.rootPem], ownOrgDomains: ['a.example'] } },
  });
  const found = await host.accounts.discover(HOLDER);
  await host.accounts.confirm(found.id);
  const card = await startVirtualCard(pcscd, { stateFile: enrolled.stateFile });

  return {
    rw,
    work,
    dir,
    node,
    dovecot,
    pcscd,
    enrolled,
    host,
    card,
    async stop(current = card) {
      await host.close();
      await current.stop();
      await pcscd.stop();
      await dovecot.stop();
      await node.stop();
      await new Promise((r) => https.close(r));
      await dir.close();
      rmSync(work, { recursive: true, force: true });
    },
  };
}
