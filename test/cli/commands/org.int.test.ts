import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyOrgBundle } from '../../../smime/bundle/verify';
import { createAbuseReport } from '../../../org-node/abuse/desk';
import { Org } from '../../../org-node/org';
import { fromPem, toPem } from '../../../org-node/pem';
import { SoftwareSigner } from '../../../smime/keys';
import { createCsr, exportPkcs8, generateProfileKeyPair, issueEmployeeSignatureCert } from '../../../smime/pki';
import { x509 } from '../../../smime/x509';
import { freePort } from '../../harness/process';
import { initSoftHsmToken, type SoftHsmHandle } from '../../harness/softhsm';
import { openssl, workdir, type Workdir } from '../../support/openssl';
import { cardRequests, httpsRequest, ssmax, ssmaxServe, type ServeHandle } from '../../support/ssmax-cli';

/**
 * The SSMAX PKI for two organisations built only through the `ssmax` CLI, as IT would:
 * the authority (P-256, key file), org A (RSA-2048, encrypted key files), org B (P-256, keys on a
 * SoftHSM2 token over PKCS#11). Members enrol over the HTTPS enrollment API; OpenSSL is the
 * independent judge of chains, CRLs, name constraints and the bundle's CMS.
 */

let wd: Workdir;
let token: SoftHsmHandle;
let tlsCa: string;
let env: NodeJS.ProcessEnv;
let portA: number;
let portB: number;
const servers: ServeHandle[] = [];
const PASSPHRASE = 'a long test passphrase';

const dir = (name: string) => join(wd.dir, name);

async function ok(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<string> {
  const r = await ssmax(args, { ...env, ...extraEnv });
  if (r.code !== 0) throw new Error(`ssmax ${args.join(' ')} → ${r.code}\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

beforeAll(async () => {
  wd = await workdir('ssmax-org-cli-');
  token = await initSoftHsmToken({ label: 'org-b-keys' });
  await wd.file('passphrase', `${PASSPHRASE}\n`);
  await wd.file('pin', `${token.pin}\n`);
  env = { SSMAX_KEY_PASSPHRASE: '', SSMAX_TOKEN_PIN: '', SOFTHSM2_CONF: token.env.SOFTHSM2_CONF };
  const tls = await openssl(
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', 'tls.key', '-out', 'tls.pem'],
    { cwd: wd.dir },
  );
  expect(tls.code, tls.stderr).toBe(0);
  tlsCa = (await wd.read('tls.pem')).toString('utf8');
  portA = await freePort();
  portB = await freePort();
});

afterAll(async () => {
  for (const s of servers) await s.stop();
  await token?.stop();
  await wd?.remove();
});

/** POST raw bytes over HTTPS (the abuse endpoint takes a CMS body, not JSON). */
function httpsPost(url: string, body: Uint8Array, contentType: string): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', ca: tlsCa, headers: { 'content-type': contentType, 'content-length': body.length } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(Buffer.from(body));
  });
}

const withPassphrase = () => ['--passphrase-file', join(wd.dir, 'passphrase')];
const withPin = () => ['--pin-file', join(wd.dir, 'pin')];

describe('ssmax authority and ssmax org', () => {
  it('builds the authority and two admitted orgs (key files and a PKCS#11 token)', async () => {
    await ok(['authority', 'init', '--dir', dir('authority'), ...withPassphrase()]);
    expect((await ok(['authority', 'list', '--dir', dir('authority')])).trim()).toBe('no organisations admitted');

    await ok(['org', 'init', '--dir', dir('orgA'), '--name', 'Org A', '--domain', 'a.example.jp', '--algorithm', 'RSA-2048', '--base-url', `https://127.0.0.1:${portA}`, ...withPassphrase()]);
    await ok(['authority', 'admit', '--dir', dir('authority'), '--org', 'Org A', '--domain', 'a.example.jp', '--csr', join(dir('orgA'), 'org-ca.csr.pem'), '--out', join(wd.dir, 'orgA-ca.pem'), ...withPassphrase()]);
    await ok(['org', 'install-ca', '--dir', dir('orgA'), '--cert', join(wd.dir, 'orgA-ca.pem'), '--root', join(dir('authority'), 'root.pem'), ...withPassphrase()]);

    await ok(['org', 'init', '--dir', dir('orgB'), '--name', 'Org B', '--domain', 'b.example.jp', '--base-url', `https://127.0.0.1:${portB}`, '--pkcs11-module', token.modulePath, '--token', token.label, ...withPin()]);
    await ok(['authority', 'admit', '--dir', dir('authority'), '--org', 'Org B', '--domain', 'b.example.jp', '--csr', join(dir('orgB'), 'org-ca.csr.pem'), '--out', join(wd.dir, 'orgB-ca.pem'), ...withPassphrase()]);
    // The PIN may also come from the environment.
    await ok(['org', 'install-ca', '--dir', dir('orgB'), '--cert', join(wd.dir, 'orgB-ca.pem'), '--root', join(dir('authority'), 'root.pem')], { SSMAX_TOKEN_PIN: token.pin });

    const listed = await ok(['authority', 'list', '--dir', dir('authority')]);
    expect(listed).toMatch(/^Org A\ta\.example\.jp\tserial [0-9a-f]+\tvalid until \d{4}-\d\d-\d\d$/m);
    expect(listed).toMatch(/^Org B\tb\.example\.jp\t/m);

    // OpenSSL sees each org CA as a name-constrained CA under the root, with the org's key type.
    for (const [org, keyType] of [
      ['orgA', 'rsaEncryption'],
      ['orgB', 'id-ecPublicKey'],
    ] as const) {
      const v = await openssl(['verify', '-CAfile', join(dir('authority'), 'root.pem'), join(dir(org), 'org-ca.pem')]);
      expect(v.stdout.toString(), v.stderr).toContain(': OK');
      const text = (await openssl(['x509', '-in', join(dir(org), 'org-ca.pem'), '-noout', '-text'])).stdout.toString();
      expect(text).toContain('X509v3 Name Constraints: critical');
      expect(text).toContain(keyType);
    }
  });

  it('refuses to admit a second org for a domain that is taken, and a CSR whose signature is broken', async () => {
    const r = await ssmax(['authority', 'admit', '--dir', dir('authority'), '--org', 'Mallory', '--domain', 'a.example.jp', '--csr', join(dir('orgB'), 'org-ca.csr.pem'), ...withPassphrase()], env);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('ssmax: Domain a.example.jp already belongs to Org A.');

    const csr = Buffer.from(fromPem(await readFile(join(dir('orgB'), 'org-ca.csr.pem'), 'utf8'), ['CERTIFICATE REQUEST']));
    csr.writeUInt8(csr.readUInt8(csr.length - 5) ^ 0x01, csr.length - 5); // inside the signature value
    await wd.file('broken.csr', toPem(csr, 'CERTIFICATE REQUEST'));
    const broken = await ssmax(['authority', 'admit', '--dir', dir('authority'), '--org', 'Org C', '--domain', 'c.example.jp', '--csr', join(wd.dir, 'broken.csr'), ...withPassphrase()], env);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/does not verify: no proof of possession|cannot be checked/);
  });

  it('enrols members over the HTTPS API; OpenSSL verifies each chain with the CRL and rejects a revoked member', async () => {
    await ok(['org', 'member', 'add', '--dir', dir('orgA'), '--address', 'hanako@a.example.jp', '--name', 'Hanako Yamada', '--staff-id', 'S-0042']);
    await ok(['org', 'member', 'add', '--dir', dir('orgA'), '--address', 'taro@a.example.jp', '--name', 'Taro Suzuki', '--staff-id', 'S-0043']);
    await ok(['org', 'member', 'add', '--dir', dir('orgB'), '--address', 'jiro@b.example.jp', '--name', 'Jiro Sato', '--staff-id', 'B-7']);
    const outside = await ssmax(['org', 'member', 'add', '--dir', dir('orgA'), '--address', 'eve@b.example.jp', '--name', 'Eve', '--staff-id', 'S-9'], env);
    expect(outside.stderr.trim()).toBe('ssmax: eve@b.example.jp is not at a domain of Org A (a.example.jp).');

    const tls = ['--tls-cert', join(wd.dir, 'tls.pem'), '--tls-key', join(wd.dir, 'tls.key')];
    const a = await ssmaxServe(['--dir', dir('orgA'), '--listen', `127.0.0.1:${portA}`, ...tls, ...withPassphrase()], env);
    servers.push(a);
    const b = await ssmaxServe(['--dir', dir('orgB'), '--listen', `127.0.0.1:${portB}`, ...tls, ...withPin()], env);
    servers.push(b);

    const enrol = async (server: ServeHandle, orgDir: string, address: string, algorithm: 'P-256' | 'RSA-2048') => {
      const code = (await ok(['org', 'enroll-code', '--dir', orgDir, '--address', address])).trim();
      const csrs = await cardRequests(algorithm, address);
      const res = await httpsRequest(`${server.url}/ssmax/enroll/v1`, { ca: tlsCa, json: { address, code, ...csrs } });
      expect(res.status, res.body.toString()).toBe(200);
      const answer = JSON.parse(res.body.toString()) as Record<string, string>;
      const paths: Record<string, string> = {};
      for (const k of ['signatureCertificate', 'keyManagementCertificate', 'orgCa', 'root']) {
        paths[k] = await wd.file(`${address}-${k}.pem`, toPem(Buffer.from(answer[k]!, 'base64'), 'CERTIFICATE'));
      }
      return { code, csrs, paths };
    };
    const hanako = await enrol(a, dir('orgA'), 'hanako@a.example.jp', 'RSA-2048');
    const taro = await enrol(a, dir('orgA'), 'taro@a.example.jp', 'RSA-2048');
    const jiro = await enrol(b, dir('orgB'), 'jiro@b.example.jp', 'P-256');

    // The code was spent: a second request with it is refused, as is a made-up one.
    const again = await httpsRequest(`${a.url}/ssmax/enroll/v1`, { ca: tlsCa, json: { address: 'hanako@a.example.jp', code: hanako.code, ...hanako.csrs } });
    expect(again.status).toBe(401);
    expect(JSON.parse(again.body.toString())).toEqual({ error: 'The enrollment code is not valid for this address (unknown, used or expired).' });

    const crlOf = async (server: ServeHandle, name: string) => {
      const res = await httpsRequest(`${server.url}/.well-known/ssmax/org-ca.crl`, { ca: tlsCa });
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe('application/pkix-crl');
      const der = await wd.file(`${name}.crl.der`, res.body);
      const conv = await openssl(['crl', '-inform', 'DER', '-in', der, '-out', wd.path(`${name}.crl.pem`)]);
      expect(conv.code, conv.stderr).toBe(0);
      return wd.path(`${name}.crl.pem`);
    };
    const verify = async (member: { paths: Record<string, string> }, crl: string, slot: 'signatureCertificate' | 'keyManagementCertificate' = 'signatureCertificate') =>
      openssl(['verify', '-crl_check', '-CAfile', member.paths.root!, '-untrusted', member.paths.orgCa!, '-CRLfile', crl, '-purpose', 'smimesign', member.paths[slot]!].filter((x) => !(slot === 'keyManagementCertificate' && (x === '-purpose' || x === 'smimesign'))));

    let crlA = await crlOf(a, 'a1');
    for (const m of [hanako, taro]) {
      for (const slot of ['signatureCertificate', 'keyManagementCertificate'] as const) {
        const v = await verify(m, crlA, slot);
        expect(v.code, `${v.stdout}${v.stderr}`).toBe(0);
      }
    }
    const vb = await verify(jiro, await crlOf(b, 'b1'));
    expect(vb.code, `${vb.stdout}${vb.stderr}`).toBe(0);

    // The member certificate carries the CRL distribution point the node serves.
    const text = (await openssl(['x509', '-in', hanako.paths.signatureCertificate!, '-noout', '-text'])).stdout.toString();
    expect(text).toContain(`URI:https://127.0.0.1:${portA}/.well-known/ssmax/org-ca.crl`);
    expect(text).toContain('Subject: CN = Hanako Yamada, serialNumber = S-0042, O = Org A');

    // Taro's card is lost: IT revokes him while the node runs; the served CRL changes at once.
    expect(await ok(['org', 'member', 'revoke', '--dir', dir('orgA'), '--reason', 'keyCompromise', '--address', 'taro@a.example.jp', ...withPassphrase()])).toMatch(/2 certificate\(s\) revoked; CRL reissued/);
    crlA = await crlOf(a, 'a2');
    const revoked = await verify(taro, crlA);
    expect(revoked.code).not.toBe(0);
    expect(`${revoked.stdout}${revoked.stderr}`).toContain('certificate revoked');
    expect((await verify(hanako, crlA)).code).toBe(0);
    const crlText = (await openssl(['crl', '-in', crlA, '-noout', '-text'])).stdout.toString();
    expect(crlText).toContain('Key Compromise');
    expect(crlText).toMatch(/X509v3 CRL Number: \s*\n\s*2/);

    const shown = await ok(['org', 'member', 'show', '--dir', dir('orgA'), '--address', 'taro@a.example.jp']);
    expect(shown).toMatch(/taro@a\.example\.jp\tTaro Suzuki\tS-0043\trevoked/);
    expect(shown.match(/revoked \d{4}-.*\(keyCompromise\)/g)).toHaveLength(2);
    const reactivate = await ssmax(['org', 'member', 'reactivate', '--dir', dir('orgA'), '--address', 'taro@a.example.jp'], env);
    expect(reactivate.stderr.trim()).toBe('ssmax: taro@a.example.jp is revoked, not suspended.');
  });

  it('refuses bad enrollment requests without spending the code', async () => {
    const a = servers[0]!;
    const code = (await ok(['org', 'enroll-code', '--dir', dir('orgA'), '--address', 'hanako@a.example.jp'])).trim();
    const csrs = await cardRequests('P-256', 'hanako');
    const der = Buffer.from(fromPem(csrs.signatureCsr, ['CERTIFICATE REQUEST']));
    der.writeUInt8(der.readUInt8(der.length - 3) ^ 0x01, der.length - 3);
    const forged = await httpsRequest(`${a.url}/ssmax/enroll/v1`, { ca: tlsCa, json: { address: 'hanako@a.example.jp', code, signatureCsr: der.toString('base64'), keyManagementCsr: csrs.keyManagementCsr } });
    expect(forged.status).toBe(422);
    expect(JSON.parse(forged.body.toString()).error).toMatch(/signature \(9C\) request/);
    const wrongCode = await httpsRequest(`${a.url}/ssmax/enroll/v1`, { ca: tlsCa, json: { address: 'hanako@a.example.jp', code: 'AAAA-AAAA-AAAA-AAAA-AAAA', ...csrs } });
    expect(wrongCode.status).toBe(401);
    const sameKey = await httpsRequest(`${a.url}/ssmax/enroll/v1`, { ca: tlsCa, json: { address: 'hanako@a.example.jp', code, signatureCsr: csrs.signatureCsr, keyManagementCsr: csrs.signatureCsr } });
    expect(sameKey.status).toBe(422);
    // ... that one spent the code after the CSR checks; a fresh code enrols the P-256 card.
    const fresh = (await ok(['org', 'enroll-code', '--dir', dir('orgA'), '--address', 'hanako@a.example.jp'])).trim();
    const good = await httpsRequest(`${a.url}/ssmax/enroll/v1`, { ca: tlsCa, json: { address: 'hanako@a.example.jp', code: fresh, ...csrs } });
    expect(good.status, good.body.toString()).toBe(200);
    const notJson = await httpsRequest(`${a.url}/ssmax/enroll/v1`, { ca: tlsCa, method: 'GET' });
    expect(notJson.status).toBe(405);
    // The new card supersedes the first one: its two certificates are revoked, the new ones valid.
    const shown = await ok(['org', 'member', 'show', '--dir', dir('orgA'), '--address', 'hanako@a.example.jp']);
    expect(shown.match(/\(superseded\)/g)).toHaveLength(2);
    expect(shown.match(/\tvalid$/gm)).toHaveLength(2);
  });

  it('serves the abuse desk at the endpoint its bundle publishes: garbage is refused, a member\'s report is recorded', async () => {
    const a = servers[0]!;
    const served = await httpsRequest(`${a.url}/.well-known/ssmax/bundle.p7s`, { ca: tlsCa });
    const root = fromPem(await readFile(join(dir('authority'), 'root.pem')), ['CERTIFICATE']);
    const bundle = await verifyOrgBundle(new Uint8Array(served.body), { roots: [root], now: new Date(), domain: 'a.example.jp' });
    const endpoint = `${a.url}${new URL(bundle.manifest.abuseEndpoint).pathname}`;
    expect(endpoint).toBe(`${a.url}/ssmax/abuse/v1`);

    const garbage = await httpsPost(endpoint, new TextEncoder().encode('not a report'), 'application/pkcs7-mime');
    expect(garbage).toEqual({ status: 400, json: { error: 'The report is not a CMS SignedData (DER).' } });
    expect((await httpsPost(endpoint, new Uint8Array([1]), 'application/json')).status).toBe(415);
    expect((await httpsRequest(endpoint, { ca: tlsCa })).status).toBe(405);

    // A member with a (software) card enrols over the API and reports a message: 202, recorded.
    const address = 'kiyoshi@a.example.jp';
    await ok(['org', 'member', 'add', '--dir', dir('orgA'), '--address', address, '--name', 'Kiyoshi Ito', '--staff-id', 'S-0050']);
    const code = (await ok(['org', 'enroll-code', '--dir', dir('orgA'), '--address', address])).trim();
    const sig = await generateProfileKeyPair('P-256');
    const km = await generateProfileKeyPair('P-256');
    const csr = async (k: Awaited<ReturnType<typeof generateProfileKeyPair>>) => Buffer.from(await createCsr([{ CN: ['Kiyoshi Ito'] }], new Uint8Array(await crypto.subtle.exportKey('spki', k.publicKey)), k.privateKey)).toString('base64');
    const enrolled = await httpsRequest(`${a.url}/ssmax/enroll/v1`, { ca: tlsCa, json: { address, code, signatureCsr: await csr(sig), keyManagementCsr: await csr(km) } });
    expect(enrolled.status, enrolled.body.toString()).toBe(200);
    const certs = JSON.parse(enrolled.body.toString()) as Record<string, string>;
    const signer = new SoftwareSigner(await exportPkcs8(sig.privateKey), new Uint8Array(Buffer.from(certs.signatureCertificate!, 'base64')));
    const report = await createAbuseReport({ message: new TextEncoder().encode('Subject: spam\r\n\r\nnot signed\r\n'), reason: 'spam', signer, orgCa: new Uint8Array(Buffer.from(certs.orgCa!, 'base64')) });
    const accepted = await httpsPost(endpoint, report, 'application/pkcs7-mime; smime-type=signed-data');
    expect(accepted.status, JSON.stringify(accepted.json)).toBe(202);
    expect(accepted.json).toMatchObject({ senderVerified: false, forwardStatus: 'not-needed' });
    const listed = await ok(['abuse', 'list', '--dir', dir('orgA'), ...withPassphrase()]);
    expect(listed).toContain(String(accepted.json.id));
    expect(listed).toContain(address);
  });

  it('name constraints stop an org CA from issuing for another org\'s domain', async () => {
    // Misuse the org A CA key directly (as a compromised node could) for an address at b.example.jp.
    const org = await Org.open(dir('orgA'), { passphraseFile: join(wd.dir, 'passphrase') });
    try {
      const csrs = await cardRequests('P-256', 'mallory');
      const spki = new Uint8Array(new x509.Pkcs10CertificateRequest(csrs.signatureCsr).publicKey.rawData);
      const cert = await issueEmployeeSignatureCert(
        { certificate: new x509.X509Certificate(await org.orgCaCertificate()), privateKey: await org.keys.issuingKey(org.config.keys.ca) },
        { orgName: 'Org A', personName: 'Mallory', staffId: 'X-1', email: 'jiro@b.example.jp', publicKey: spki, crlUrl: org.crlUrl, notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 86_400_000) },
      );
      const leaf = await wd.file('mallory.pem', toPem(cert.rawData, 'CERTIFICATE'));
      const v = await openssl(['verify', '-CAfile', join(dir('authority'), 'root.pem'), '-untrusted', join(dir('orgA'), 'org-ca.pem'), leaf]);
      expect(v.code).not.toBe(0);
      expect(`${v.stdout}${v.stderr}`).toMatch(/permitted subtree violation/);
    } finally {
      await org.close();
    }
  });

  it('publishes a bundle that openssl cms and the verifier accept, served at the well-known path; rollover adds the newest key', async () => {
    const a = servers[0]!;
    const root = fromPem(await readFile(join(dir('authority'), 'root.pem'), 'utf8'), ['CERTIFICATE']);
    const served = await httpsRequest(`${a.url}/.well-known/ssmax/bundle.p7s`, { ca: tlsCa });
    expect(served.status).toBe(200);
    expect(served.headers['content-type']).toBe('application/pkcs7-mime; smime-type=signed-data');
    const first = await verifyOrgBundle(new Uint8Array(served.body), { roots: [root], now: new Date(), domain: 'a.example.jp' });
    expect(first.manifest.crlUrl).toBe(`https://127.0.0.1:${portA}/.well-known/ssmax/org-ca.crl`);

    await ok(['org', 'rollover', '--dir', dir('orgA'), ...withPassphrase()]);
    await ok(['org', 'bundle', '--dir', dir('orgA'), '--out', join(wd.dir, 'bundleA.p7s'), ...withPassphrase()]);
    const cms = await openssl(['cms', '-verify', '-inform', 'DER', '-in', join(wd.dir, 'bundleA.p7s'), '-CAfile', join(dir('authority'), 'root.pem'), '-purpose', 'any']);
    expect(cms.code, cms.stderr).toBe(0);
    expect(cms.stderr).toContain('Verification successful');
    const manifest = JSON.parse(cms.stdout.toString()) as { org: { name: string }; version: number; encryptionCertificates: string[] };
    expect(manifest.org.name).toBe('Org A');

    const second = await verifyOrgBundle(new Uint8Array(await readFile(join(wd.dir, 'bundleA.p7s'))), { roots: [root], now: new Date(), pinnedVersion: first.version });
    expect(second.version).toBe(first.version + 1);
    expect(second.encryptionCertificates).toHaveLength(2);
    expect(Buffer.from(second.currentEncryptionCertificate).equals(Buffer.from(first.currentEncryptionCertificate))).toBe(false);
    // The previous bundle is now a rollback.
    await expect(verifyOrgBundle(new Uint8Array(served.body), { roots: [root], now: new Date(), pinnedVersion: second.version })).rejects.toThrow(/rollback/);

    // The old encryption key still decrypts: both keys give a decryptor for their certificates.
    const org = await Org.open(dir('orgA'), { passphraseFile: join(wd.dir, 'passphrase') });
    try {
      expect(org.config.keys.encryption).toHaveLength(2);
      for (const id of org.config.keys.encryption) {
        const d = await org.keys.decryptor(id, await org.orgKeyCertificate(id));
        expect(d.kind).toBe('rsa');
      }
    } finally {
      await org.close();
    }

    // Org B's bundle is signed on the token and verifies too.
    await ok(['org', 'bundle', '--dir', dir('orgB'), '--out', join(wd.dir, 'bundleB.p7s'), ...withPin()]);
    const cmsB = await openssl(['cms', '-verify', '-inform', 'DER', '-in', join(wd.dir, 'bundleB.p7s'), '-CAfile', join(dir('authority'), 'root.pem'), '-purpose', 'any', '-out', '/dev/null']);
    expect(cmsB.code, cmsB.stderr).toBe(0);
  });

  it('gives one clear line for a wrong passphrase, a missing secret, a wrong PIN and a missing token', async () => {
    await writeFile(join(wd.dir, 'wrong'), 'not the passphrase\n');
    const wrong = await ssmax(['org', 'rollover', '--dir', dir('orgA'), '--passphrase-file', join(wd.dir, 'wrong')], env);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr.trim()).toMatch(/^ssmax: Cannot decrypt the org key file [0-9a-f]{32}\.key\.pem: wrong passphrase\?$/);

    const none = await ssmax(['org', 'rollover', '--dir', dir('orgA')], env);
    expect(none.stderr.trim()).toBe('ssmax: No key passphrase: set SSMAX_KEY_PASSPHRASE or give a file with it (never on the command line).');

    await writeFile(join(wd.dir, 'wrong-pin'), '999999\n');
    const pin = await ssmax(['org', 'bundle', '--dir', dir('orgB'), '--out', join(wd.dir, 'x.p7s'), '--pin-file', join(wd.dir, 'wrong-pin')], env);
    expect(pin.code).toBe(1);
    expect(pin.stderr.trim()).toBe('ssmax: The PIN of token "org-b-keys" is wrong.');

    const config = JSON.parse(await readFile(join(dir('orgB'), 'org.json'), 'utf8')) as { keyStore: { token: string } };
    config.keyStore.token = 'unplugged';
    await cp(dir('orgB'), dir('orgB-missing'), { recursive: true });
    await writeFile(join(dir('orgB-missing'), 'org.json'), JSON.stringify(config));
    const missing = await ssmax(['org', 'bundle', '--dir', dir('orgB-missing'), '--out', join(wd.dir, 'x.p7s'), ...withPin()], env);
    expect(missing.stderr.trim()).toBe(`ssmax: No PKCS#11 token labelled "unplugged" in ${token.modulePath}.`);

    // A key file gone missing is named at startup.
    await cp(dir('orgA'), dir('orgA-broken'), { recursive: true });
    const signingKey = (JSON.parse(await readFile(join(dir('orgA'), 'org.json'), 'utf8')) as { keys: { signing: string } }).keys.signing;
    await rm(join(dir('orgA-broken'), 'keys', `${signingKey}.key.pem`));
    const broken = await ssmax(['org', 'serve', '--dir', dir('orgA-broken'), '--insecure-http', '--listen', '127.0.0.1:0', ...withPassphrase()], env);
    expect(broken.code).toBe(1);
    expect(broken.stderr.trim()).toBe(`ssmax: The private key file of org key ${signingKey} is missing from ${join(dir('orgA-broken'), 'keys')}.`);

    const noTls = await ssmax(['org', 'serve', '--dir', dir('orgA'), ...withPassphrase()], env);
    expect(noTls.code).toBe(2);
    expect(noTls.stderr).toMatch(/the enrollment API needs TLS/);
    const noOrg = await ssmax(['org', 'member', 'list', '--dir', dir('nothing')], env);
    expect(noOrg.stderr.trim()).toBe(`ssmax: No org in ${dir('nothing')} (run \`ssmax org init\` first).`);
  });
});
