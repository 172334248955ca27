import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Authority } from '../../../org-node/authority/authority';
import { startOrgServer, type OrgServerHandle } from '../../../org-node/http/server';
import { Org } from '../../../org-node/org';
import { fromPem, toPem } from '../../../org-node/pem';
import { startPcscd, type PcscdHandle } from '../../harness/pcsc';
import { Daemon, tailOf, waitFor } from '../../harness/process';
import { openssl, workdir, type Workdir } from '../../support/openssl';
import { httpsRequest } from '../../support/ssmax-cli';

/**
 * Enrollment end to end with the virtual staff card: the card generates its 9C and 9D keys and
 * signs the CSRs (`ssmax card generate --csr`), IT posts them with the employee's one-time code to
 * the org node's HTTPS enrollment API, the issued certificates and the org CA are written to the
 * card (`ssmax card import-cert`), yubico-piv-tool reads them back, and a signature made by the
 * card verifies under the SSMAX root with the org's CRL (OpenSSL).
 */

const repo = resolve(import.meta.dirname, '../../..');
const PIN = '24681357';

let pcscd: PcscdHandle;
let card: Daemon;
let wd: Workdir;
let org: Org;
let server: OrgServerHandle;
let tlsCa: string;

const run = (cmd: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> =>
  new Promise((done) => {
    execFile(cmd, args, { cwd: wd.dir, env: { ...process.env, ...pcscd.env, ...extraEnv }, timeout: 60_000 }, (err, stdout, stderr) =>
      done({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr }),
    );
  });
const cardCli = async (...args: string[]): Promise<string> => {
  const r = await run(process.execPath, [join(repo, 'cli/bin/ssmax.mjs'), 'card', ...args], { SSMAX_CARD_PIN: PIN });
  if (r.code !== 0) throw new Error(`ssmax card ${args.join(' ')} → ${r.code}: ${r.stderr}\n--- card ---\n${tailOf(join(wd.dir, 'card.log'), 30)}`);
  return r.stdout;
};

beforeAll(async () => {
  pcscd = await startPcscd();
  wd = await workdir('ssmax-enrollment-');
  card = new Daemon({
    name: 'ssmax-enrollment-card',
    command: process.execPath,
    args: [join(repo, 'cli/bin/ssmax.mjs'), 'card', 'virtual', '--state', join(wd.dir, 'card.json'), '--host', pcscd.vpcd.host, '--port', String(pcscd.vpcd.port)],
    logFile: join(wd.dir, 'card.log'),
    cwd: repo,
  });
  await waitFor('virtual card seen by pcscd', () => (/control power-on/.test(tailOf(join(wd.dir, 'card.log'), 50)) ? true : undefined), { daemon: card, timeoutMs: 30_000 });

  // The authority and one org, through the same library calls the CLI makes.
  await wd.file('passphrase', 'enrollment test passphrase\n');
  const secrets = { passphraseFile: join(wd.dir, 'passphrase') };
  const authority = await Authority.init(join(wd.dir, 'authority'), {}, secrets);
  const init = await Org.init(join(wd.dir, 'org'), { name: 'Card Corp', domains: ['card.example.jp'], publicBaseUrl: 'https://127.0.0.1:1' }, secrets);
  org = init.org;
  const csr = fromPem(await readFile(init.csrPath, 'utf8'), ['CERTIFICATE REQUEST']);
  await org.installCa(await authority.admit({ orgName: 'Card Corp', domains: ['card.example.jp'], csr }), await authority.rootCertificate());
  await authority.close();
  await org.directory.addMember({ address: 'ken@card.example.jp', name: 'Ken Watanabe', staffId: 'CC-1001' }, 'test');

  const tls = await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', 'tls.key', '-out', 'tls.pem'], { cwd: wd.dir });
  expect(tls.code, tls.stderr).toBe(0);
  tlsCa = (await wd.read('tls.pem')).toString('utf8');
  server = await startOrgServer(org, { listen: { host: '127.0.0.1', port: 0 }, tls: { certFile: wd.path('tls.pem'), keyFile: wd.path('tls.key') }, log: () => undefined });
});

afterAll(async () => {
  await server?.close();
  await org?.close();
  await card?.stop();
  await pcscd?.stop();
  await wd?.remove();
});

describe('enrollment with the virtual card', () => {
  it('card keys → card-signed CSRs → enrollment API → certificates on the card → the card signs and OpenSSL verifies to the root', async () => {
    const initOut = await cardCli('init', '--pin', PIN, '--puk', '97531864');
    const mgmtKey = /management key: ([0-9a-f]{64})/.exec(initOut)?.[1] ?? '';
    expect(mgmtKey).toHaveLength(64);
    await wd.file('mgmt.key', mgmtKey);
    await cardCli('generate', '--slot', '9c', '--alg', 'p256', '--mgmt-key', mgmtKey, '--subject', 'CN=ken@card.example.jp', '--csr', 'req9c.pem');
    await cardCli('generate', '--slot', '9d', '--alg', 'rsa2048', '--mgmt-key', mgmtKey, '--subject', 'CN=ken@card.example.jp', '--csr', 'req9d.pem');

    const { code } = await org.directory.createEnrollmentCode('ken@card.example.jp', 600_000, 'test');
    const res = await httpsRequest(`${server.url}/ssmax/enroll/v1`, {
      ca: tlsCa,
      json: { address: 'ken@card.example.jp', code, signatureCsr: (await wd.read('req9c.pem')).toString(), keyManagementCsr: (await wd.read('req9d.pem')).toString() },
    });
    expect(res.status, res.body.toString()).toBe(200);
    const answer = JSON.parse(res.body.toString()) as Record<'signatureCertificate' | 'keyManagementCertificate' | 'orgCa' | 'root', string>;
    const pemOf = (b64: string) => toPem(Buffer.from(b64, 'base64'), 'CERTIFICATE');
    await wd.file('cert9c.pem', pemOf(answer.signatureCertificate));
    await wd.file('cert9d.pem', pemOf(answer.keyManagementCertificate));
    await wd.file('org-ca.pem', pemOf(answer.orgCa));
    await wd.file('root.pem', pemOf(answer.root));

    await cardCli('import-cert', '--slot', '9c', '--cert', 'cert9c.pem', '--mgmt-key', mgmtKey);
    await cardCli('import-cert', '--slot', '9d', '--cert', 'cert9d.pem', '--mgmt-key', mgmtKey);
    await cardCli('import-cert', '--slot', 'org-ca', '--cert', 'org-ca.pem', '--mgmt-key', mgmtKey);

    // yubico-piv-tool (libykpiv), not our code, reads back exactly what the node issued.
    for (const [slot, file] of [
      ['9c', 'cert9c.pem'],
      ['9d', 'cert9d.pem'],
      ['95', 'org-ca.pem'],
    ] as const) {
      const r = await run('yubico-piv-tool', ['-r', 'Virtual PCD', '-a', 'read-certificate', '-s', slot]);
      expect(r.code, r.stderr).toBe(0);
      expect(Buffer.from(fromPem(r.stdout, ['CERTIFICATE']))).toEqual(Buffer.from(fromPem((await wd.read(file)).toString(), ['CERTIFICATE'])));
    }

    // The directory recorded both certificates against the staff ID.
    const recorded = await org.directory.certificates('ken@card.example.jp');
    expect(recorded.map((c) => c.slot).sort()).toEqual(['9C', '9D']);

    // A signature made on the card verifies under the SSMAX root, with the org's CRL.
    await wd.file('mail.eml', 'Content-Type: text/plain\r\n\r\nsigned on the staff card\r\n');
    await cardCli('sign', '--in', 'mail.eml', '--out', 'mail.p7s');
    const crl = await httpsRequest(`${server.url}/.well-known/ssmax/org-ca.crl`, { ca: tlsCa });
    await wd.file('org.crl.der', crl.body);
    await openssl(['crl', '-inform', 'DER', '-in', wd.path('org.crl.der'), '-out', wd.path('org.crl.pem')]);
    // openssl cms takes intermediates and CRLs only from its store: root, org CA and the org CRL.
    // (The org CA is not a trust anchor there: not self-signed, so the chain still ends at the root.)
    await wd.file('trust.pem', (await Promise.all(['root.pem', 'org-ca.pem', 'org.crl.pem'].map((f) => wd.read(f)))).map((b) => b.toString()).join(''));
    const v = await openssl([
      'cms', '-verify', '-binary', '-inform', 'DER', '-in', wd.path('mail.p7s'), '-content', wd.path('mail.eml'),
      '-CAfile', wd.path('trust.pem'), '-crl_check', '-purpose', 'smimesign', '-out', wd.path('out.eml'),
    ]);
    expect(v.stderr).toContain('Verification successful');
    const chain = await openssl(['verify', '-CAfile', wd.path('root.pem'), '-untrusted', wd.path('org-ca.pem'), '-crl_check', '-CRLfile', wd.path('org.crl.pem'), '-show_chain', wd.path('cert9c.pem')]);
    expect(chain.stdout.toString()).toMatch(/: OK\nChain:\ndepth=0: CN = Ken Watanabe.*\ndepth=1: CN = Card Corp SSMAX CA.*\ndepth=2: CN = SSMAX Root CA/);
    const subject = (await openssl(['x509', '-in', wd.path('cert9c.pem'), '-noout', '-subject'])).stdout.toString();
    expect(subject.trim()).toBe('subject=CN = Ken Watanabe, serialNumber = CC-1001, O = Card Corp');
  });

  it('ssmax org enroll-card does it in one step at the card station; the new card supersedes the old one', async () => {
    const mgmtKey = (await wd.read('mgmt.key')).toString().trim();
    const enroll = (extra: NodeJS.ProcessEnv) =>
      run(process.execPath, [join(repo, 'cli/bin/ssmax.mjs'), 'org', 'enroll-card', '--node', server.url, '--address', 'ken@card.example.jp', '--root', wd.path('root.pem'), '--tls-ca', wd.path('tls.pem')], {
        SSMAX_CARD_PIN: PIN,
        SSMAX_CARD_MGMT_KEY: mgmtKey,
        ...extra,
      });
    // The enrolled card with a wrong code: refused by the node's code check before the card is touched.
    const certBefore = await run('yubico-piv-tool', ['-r', 'Virtual PCD', '-a', 'read-certificate', '-s', '9c']);
    expect(certBefore.code, certBefore.stderr).toBe(0);
    const refused = await enroll({ SSMAX_ENROLL_CODE: 'AAAA-AAAA-AAAA-AAAA-AAAA' });
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toBe('ssmax: the node refused the enrollment code (HTTP 401): The enrollment code is not valid for this address (unknown, used or expired).');
    expect((await run('yubico-piv-tool', ['-r', 'Virtual PCD', '-a', 'read-certificate', '-s', '9c'])).stdout).toBe(certBefore.stdout);
    // 9C's key still belongs to its certificate: yubico-piv-tool signs on the card and verifies with the certificate.
    await wd.file('cert9c-before.pem', certBefore.stdout);
    const keyTest = await run('yubico-piv-tool', ['-r', 'Virtual PCD', '-a', 'verify-pin', '-P', PIN, '-a', 'test-signature', '-s', '9c', '-i', wd.path('cert9c-before.pem')]);
    expect(keyTest.code, `${keyTest.stdout}${keyTest.stderr}`).toBe(0);

    const before = (await org.directory.certificates('ken@card.example.jp')).map((c) => c.serial);
    const { code } = await org.directory.createEnrollmentCode('ken@card.example.jp', 600_000, 'test');
    const r = await enroll({ SSMAX_ENROLL_CODE: code });
    expect(r.code, `${r.stdout}${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/^card enrolled for ken@card\.example\.jp: 9C [0-9a-f]+, 9D [0-9a-f]+, org CA written$/m);

    const history = await org.directory.certificates('ken@card.example.jp');
    const current = history.filter((c) => !c.revokedAt);
    expect(current.map((c) => c.slot).sort()).toEqual(['9C', '9D']);
    expect(history.filter((c) => before.includes(c.serial)).every((c) => c.revocationReason === 'superseded')).toBe(true);
    const read = await run('yubico-piv-tool', ['-r', 'Virtual PCD', '-a', 'read-certificate', '-s', '9c']);
    expect(Buffer.from(fromPem(read.stdout, ['CERTIFICATE']))).toEqual(Buffer.from(current.find((c) => c.slot === '9C')!.der));
  });
});
