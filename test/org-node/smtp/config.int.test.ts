import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { verifyMessage } from '../../../smime/chain';
import { signData, encryptContent } from '../../../smime/cms';
import { SoftwareSigner, softwareDecryptor } from '../../../smime/keys';
import { buildMultipartSigned, buildPkcs7Mime, buildProtectedPayload } from '../../../smime/mime';
import { exportPkcs8, generateProfileKeyPair } from '../../../smime/pki';
import { x509 } from '../../../smime/x509';
import { createAbuseReport } from '../../../org-node/abuse/desk';
import { Authority } from '../../../org-node/authority/authority';
import { Org } from '../../../org-node/org';
import { runNodeFromConfig } from '../../../org-node/smtp/config';
import { hashPassword } from '../../../org-node/smtp/credentials';
import { startClamd, type ClamdHandle } from '../../harness/clamd';
import { startDovecot, type DovecotHandle } from '../../harness/dovecot';
import { freePort } from '../../harness/process';
import { ssmax } from '../../support/ssmax-cli';

/**
 * `ssmax node run --config` wiring, in process: a real org directory (authority → org CA → members
 * enrolled with software keys standing in for cards), the node started from a JSON file, internal
 * mail submitted and verified by the recipient with the org's root.
 */
let work: string;
let dovecot: DovecotHandle;
let clamd: ClamdHandle;
let stop: (() => Promise<void>) | undefined;
let rootDer: Uint8Array;
let submissionPort: number;
let httpUrl: string | undefined;
const people: Record<string, { sig: { pkcs8: Uint8Array; cert: Uint8Array }; km: { pkcs8: Uint8Array; cert: Uint8Array } }> = {};

async function enroll(org: Org, address: string): Promise<void> {
  await org.directory.addMember({ address, name: address.split('@')[0] ?? 'x', staffId: `S-${address.split('@')[0] ?? 'x'}` }, 'test');
  const request = async (): Promise<{ csr: Uint8Array; pkcs8: Uint8Array }> => {
    const keys = await generateProfileKeyPair('P-256');
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: `CN=${address}`, keys, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } });
    return { csr: new Uint8Array(csr.rawData), pkcs8: await exportPkcs8(keys.privateKey) };
  };
  const s = await request();
  const k = await request();
  const issued = await org.issueMemberCertificates(address, s.csr, k.csr, 'test');
  people[address] = { sig: { pkcs8: s.pkcs8, cert: issued.signature }, km: { pkcs8: k.pkcs8, cert: issued.keyManagement } };
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'ssmax-nodecfg-'));
  const passphrase = join(work, 'passphrase');
  writeFileSync(passphrase, 'node config test passphrase\n');
  const secrets = { passphraseFile: passphrase };
  const authority = await Authority.init(join(work, 'authority'), { name: 'Test SSMAX Root' }, secrets);
  const { org, csrPath } = await Org.init(join(work, 'org'), { name: 'Cfg Corp', domains: ['cfg.example'] }, secrets);
  const csrPem = readFileSync(csrPath, 'utf8');
  const csr = new Uint8Array(Buffer.from(csrPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64'));
  rootDer = await authority.rootCertificate();
  await org.installCa(await authority.admit({ orgName: 'Cfg Corp', domains: ['cfg.example'], csr }), rootDer);
  await enroll(org, 'aiko@cfg.example');
  await enroll(org, 'ken@cfg.example');
  await org.close();
  [dovecot, clamd] = await Promise.all([startDovecot({ users: [{ address: 'aiko@cfg.example', password: 'x' }, { address: 'ken@cfg.example', password: 'x' }] }), startClamd()]);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(work, 'tls.key'), '-out', join(work, 'tls.pem'), '-days', '2', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
  writeFileSync(join(work, 'credentials.json'), JSON.stringify({ 'aiko@cfg.example': await hashPassword('pw') }));
  submissionPort = await freePort();
  const httpPort = await freePort();
  const config = {
    org: 'org',
    name: 'node.cfg.example',
    spool: 'spool',
    submission: { listen: `127.0.0.1:${submissionPort}`, tlsCert: 'tls.pem', tlsKey: 'tls.key', credentials: 'credentials.json' },
    lmtp: `${dovecot.lmtp.host}:${dovecot.lmtp.port}`,
    clamd: `${clamd.tcp.host}:${clamd.tcp.port}`,
    http: { listen: `127.0.0.1:${httpPort}` },
  };
  writeFileSync(join(work, 'node.json'), JSON.stringify(config));
  const handle = await runNodeFromConfig(join(work, 'node.json'), secrets, () => undefined);
  stop = handle.stop;
  httpUrl = handle.http?.url;
}, 180_000);

afterAll(async () => {
  await stop?.();
  await Promise.all([dovecot?.stop(), clamd?.stop()]);
  if (work) rmSync(work, { recursive: true, force: true });
});

it('a node started from its JSON configuration relays internal mail that the recipient verifies against the SSMAX root', async () => {
  const aiko = people['aiko@cfg.example'];
  const ken = people['ken@cfg.example'];
  if (!aiko || !ken) throw new Error('not enrolled');
  const orgEnc = await (async () => {
    const org = await Org.open(join(work, 'org'), { passphraseFile: join(work, 'passphrase') });
    try {
      return (await org.encryptionCertificates())[0];
    } finally {
      await org.close();
    }
  })();
  const messageId = `<cfg-${Date.now()}@cfg.example>`;
  const { entity, outerHeaders } = await buildProtectedPayload({ from: { address: 'aiko@cfg.example' }, to: [{ address: 'ken@cfg.example' }], subject: 'config', date: new Date(Date.now() - 60_000), messageId }, { text: 'hello\n' }, 'cipher');
  const sig = await signData({ content: entity, signers: [new SoftwareSigner(aiko.sig.pkcs8, aiko.sig.cert)], detached: true, signingTime: new Date(Date.now() - 60_000) });
  const inner = buildMultipartSigned({ signedPart: entity, signature: sig, digest: 'SHA-256' });
  const wire = buildPkcs7Mime({ smimeType: 'authEnveloped-data', der: encryptContent({ content: inner, recipients: [orgEnc ?? new Uint8Array()] }), headers: outerHeaders });
  const t = nodemailer.createTransport({ host: '127.0.0.1', port: submissionPort, secure: false, requireTLS: true, tls: { rejectUnauthorized: false }, auth: { user: 'aiko@cfg.example', pass: 'pw' } });
  expect(String((await t.sendMail({ envelope: { from: 'aiko@cfg.example', to: ['ken@cfg.example'] }, raw: wire })).response)).toMatch(/^250/);
  t.close();
  const box = join(dovecot.maildirOf('ken@cfg.example'), 'new');
  let found: Buffer | undefined;
  for (const end = Date.now() + 60_000; !found && Date.now() < end; await new Promise((r) => setTimeout(r, 200))) {
    found = existsSync(box) ? readdirSync(box).map((f) => readFileSync(join(box, f))).find((m) => m.includes(messageId)) : undefined;
  }
  const v = await verifyMessage(found ?? Buffer.alloc(0), { trustAnchors: [rootDer], decryptors: [softwareDecryptor(ken.km.pkcs8, ken.km.cert)], at: new Date(), ownOrgDomains: ['cfg.example'], recipient: 'ken@cfg.example' });
  expect(v.reasons).toEqual([]);
  expect(v.state).toBe('verified');
  expect(v.links.map((l) => l.role)).toEqual(['sender', 'single-org']);
});

it('with "http" the node serves its bundle and the abuse desk: garbage → 400, a member\'s report → 202', async () => {
  expect(httpUrl).toBeDefined();
  const bundle = await fetch(`${httpUrl}/.well-known/ssmax/bundle.p7s`);
  expect(bundle.status).toBe(200);
  const post = async (body: Uint8Array) => {
    const res = await fetch(`${httpUrl}/ssmax/abuse/v1`, { method: 'POST', headers: { 'content-type': 'application/pkcs7-mime' }, body });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };
  expect(await post(new TextEncoder().encode('garbage'))).toEqual({ status: 400, json: { error: 'The report is not a CMS SignedData (DER).' } });
  const aiko = people['aiko@cfg.example'];
  if (!aiko) throw new Error('not enrolled');
  const org = await Org.open(join(work, 'org'), { passphraseFile: join(work, 'passphrase') });
  const orgCa = await org.orgCaCertificate().finally(() => org.close());
  const report = await createAbuseReport({ message: new TextEncoder().encode('Subject: x\r\n\r\nunsigned\r\n'), reason: 'spam', signer: new SoftwareSigner(aiko.sig.pkcs8, aiko.sig.cert), orgCa });
  const accepted = await post(report);
  expect(accepted.status, JSON.stringify(accepted.json)).toBe(202);
  expect(accepted.json).toMatchObject({ senderVerified: false, forwardStatus: 'not-needed' });
});

it('ssmax node: help, and a clear one-line error for a bad configuration', async () => {
  const help = await ssmax(['node', '--help']);
  expect(help.code).toBe(0);
  expect(help.stdout).toMatch(/ssmax node run --config <node\.json>/);
  writeFileSync(join(work, 'bad.json'), JSON.stringify({ org: 'org', name: 'x', spool: 's', lmtp: 'nohostport', clamd: 'x' }));
  const bad = await ssmax(['node', 'run', '--config', join(work, 'bad.json')]);
  expect(bad.code).toBe(1);
  expect(bad.stderr).toMatch(/is not valid: lmtp: host:port expected/);
});
