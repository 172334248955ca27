import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FirstLaunchError } from '../../../client/first-launch/errors';
import { FirstLaunchService, fingerprint, type RefreshProblem } from '../../../client/first-launch/service';
import { PROVISIONING_FORMAT } from '../../../client/first-launch/provisioning';
import { Authority } from '../../../org-node/authority/authority';
import { startOrgServer, type OrgServerHandle } from '../../../org-node/http/server';
import { Org } from '../../../org-node/org';
import { fromPem, toPem } from '../../../org-node/pem';
import { openssl, workdir, type Workdir } from '../../support/openssl';

/**
 * First launch against a real org node over HTTPS (test TLS certificate; trust from the SSMAX root
 * only): provisioning file → discover → confirm → pinned; refusals with reasons and nothing pinned;
 * rollover picked up by the refresh; rollback refused with the pin kept; node offline → pin used.
 */

let wd: Workdir;
let org: Org;
let server: OrgServerHandle;
let root: Uint8Array;
let otherRoot: Uint8Array;
let tlsCaPem: string;
let dataDirs = 0;

beforeAll(async () => {
  wd = await workdir('ssmax-first-launch-');
  await wd.file('passphrase', 'first launch passphrase\n');
  const secrets = { passphraseFile: wd.path('passphrase') };
  const authority = await Authority.init(wd.path('authority'), {}, secrets);
  const other = await Authority.init(wd.path('other-authority'), {}, secrets);
  const init = await Org.init(wd.path('org'), { name: 'Launch Corp', domains: ['launch.example.jp'] }, secrets);
  org = init.org;
  await org.installCa(await authority.admit({ orgName: 'Launch Corp', domains: ['launch.example.jp'], csr: fromPem(await readFile(init.csrPath, 'utf8'), ['CERTIFICATE REQUEST']) }), await authority.rootCertificate());
  root = await authority.rootCertificate();
  otherRoot = await other.rootCertificate();
  await authority.close();
  await other.close();
  const tls = await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', 'tls.key', '-out', 'tls.pem'], { cwd: wd.dir });
  expect(tls.code, tls.stderr).toBe(0);
  tlsCaPem = (await wd.read('tls.pem')).toString('utf8');
  server = await startOrgServer(org, { listen: { host: '127.0.0.1', port: 0 }, tls: { certFile: wd.path('tls.pem'), keyFile: wd.path('tls.key') }, log: () => undefined });
});

afterAll(async () => {
  await server?.close();
  await org?.close();
  await wd?.remove();
});

/** Writes IT's provisioning file pointing at the test node, trusting the test root and TLS CA. */
async function provisioning(name: string, extra: Record<string, unknown> = {}, anchor = root): Promise<string> {
  const file = wd.path(`${name}.provisioning.json`);
  await writeFile(
    file,
    JSON.stringify({
      format: PROVISIONING_FORMAT,
      address: 'hanako@launch.example.jp',
      bundleUrl: `${server.url}/.well-known/ssmax/bundle.p7s`,
      tlsCaPem,
      imap: { host: 'imap.launch.example.jp', port: 993, security: 'tls' },
      trustAnchorsPem: [toPem(anchor, 'CERTIFICATE')],
      ...extra,
    }),
  );
  return file;
}

function dataDir(): string {
  return wd.path(`data-${++dataDirs}`);
}

async function pinnedFiles(dir: string): Promise<string[]> {
  const { readdir } = await import('node:fs/promises');
  return readdir(join(dir, 'org')).catch(() => []);
}

async function refusal(p: Promise<unknown>): Promise<FirstLaunchError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FirstLaunchError);
  return err as FirstLaunchError;
}

/** Serves `bytes` as the node's bundle for the duration of `body`, then restores the real one. */
async function nodeServes<T>(bytes: Uint8Array, body: () => Promise<T>): Promise<T> {
  const file = wd.path('org/bundle.p7s');
  const real = await readFile(file);
  await writeFile(file, bytes);
  try {
    return await body();
  } finally {
    await writeFile(file, real);
  }
}

describe('first launch against an org node over HTTPS', () => {
  it('from a provisioning file: discovers, shows org name and key fingerprint, pins on confirm, survives a restart', async () => {
    const dir = dataDir();
    const changed: string[] = [];
    const s = await FirstLaunchService.open({ dataDir: dir, provisioningFile: await provisioning('ok'), refreshIntervalMs: 0, onChanged: (st) => changed.push(st.state) });
    expect(s.status()).toEqual({ state: 'none' });
    const d = await s.discover();
    const enc = (await org.encryptionCertificates())[0]!;
    expect(d).toMatchObject({
      address: 'hanako@launch.example.jp',
      domain: 'launch.example.jp',
      org: { name: 'Launch Corp', domains: ['launch.example.jp'], encryptionKeyFingerprint: fingerprint(enc), orgCaFingerprint: fingerprint(await org.orgCaCertificate()) },
      mail: { imap: { host: 'imap.launch.example.jp', port: 993, security: 'tls' } },
    });
    expect(d.mail.smtp.host.length).toBeGreaterThan(0);
    expect(await pinnedFiles(dir)).toEqual([]); // nothing pinned before the user confirms
    const st = await s.confirm(d.id);
    expect(st).toMatchObject({ state: 'pinned', org: { name: 'Launch Corp', encryptionKeyFingerprint: fingerprint(enc) } });
    expect(changed).toEqual(['pinned']);
    const pin = JSON.parse(await readFile(join(dir, 'org', 'pin.json'), 'utf8')) as Record<string, unknown>;
    expect(pin).toMatchObject({ orgName: 'Launch Corp', domains: ['launch.example.jp'], version: d.org.version, orgCaSha256: fingerprint(await org.orgCaCertificate()).replace(/:/g, '').toLowerCase() });
    expect(Buffer.compare(await readFile(join(dir, 'org', 'bundle.p7s')), Buffer.from(await org.currentBundle()))).toBe(0);
    await s.close();
    const again = await FirstLaunchService.open({ dataDir: dir, roots: [root], refreshIntervalMs: 0 });
    expect(again.status()).toMatchObject({ state: 'pinned', address: 'hanako@launch.example.jp', org: { name: 'Launch Corp', version: d.org.version } });
    expect(Buffer.from(again.currentEncryptionCertificate()!)).toEqual(Buffer.from(enc));
    await again.close();
  });

  it('refuses a tampered bundle, a bundle under another root and an expired bundle with the reason; nothing is pinned', async () => {
    // Tampered: one byte of the manifest changed on the node.
    const real = Buffer.from(await org.currentBundle());
    const at = real.indexOf('"name": "Launch Corp"');
    expect(at).toBeGreaterThan(0);
    const tampered = Buffer.from(real);
    tampered.write('"name": "Lunch Corp" ', at, 'latin1');
    const dir1 = dataDir();
    const s1 = await FirstLaunchService.open({ dataDir: dir1, provisioningFile: await provisioning('tampered'), refreshIntervalMs: 0 });
    const e1 = await nodeServes(new Uint8Array(tampered), () => refusal(s1.discover()));
    expect(e1.code).toBe('rejected');
    expect(e1.reason).toBe('signature-invalid');
    expect(s1.status()).toEqual({ state: 'none' });
    expect(await pinnedFiles(dir1)).toEqual([]);

    // Another SSMAX root configured (the node's org CA is not under it).
    const dir2 = dataDir();
    const s2 = await FirstLaunchService.open({ dataDir: dir2, provisioningFile: await provisioning('other-root', {}, otherRoot), refreshIntervalMs: 0 });
    const e2 = await refusal(s2.discover());
    expect(e2.code).toBe('rejected');
    expect(e2.reason).toBe('untrusted-root');
    expect(e2.message).toMatch(/not issued by the SSMAX root/);
    expect(await pinnedFiles(dir2)).toEqual([]);

    // Expired: the client's clock is past the bundle's expiry (30 days).
    const dir3 = dataDir();
    const later = new Date(Date.now() + 40 * 86_400_000);
    const s3 = await FirstLaunchService.open({ dataDir: dir3, provisioningFile: await provisioning('expired'), refreshIntervalMs: 0, now: () => later });
    const e3 = await refusal(s3.discover());
    expect(e3.code).toBe('rejected');
    expect(e3.reason).toBe('expired');
    expect(await pinnedFiles(dir3)).toEqual([]);
    // A failed discovery leaves nothing to confirm.
    expect((await refusal(s3.confirm('org-1-000000000000'))).code).toBe('not-discovered');
  });

  it('refuses a provisioning file that is not valid, naming the field', async () => {
    const file = wd.path('bad.provisioning.json');
    await writeFile(file, JSON.stringify({ format: PROVISIONING_FORMAT, address: 'hanako@launch.example.jp', bundleUrl: 'http://plain.example/' }));
    const s = await FirstLaunchService.open({ dataDir: dataDir(), provisioningFile: file, roots: [root], refreshIntervalMs: 0 });
    await expect(s.discover()).rejects.toThrow(/bundleUrl: an https:\/\/ URL/);
  });

  it('background refresh: follows a key rollover, refuses a rollback and keeps the pin, reports offline and keeps using the pin', async () => {
    const dir = dataDir();
    const failures: RefreshProblem[] = [];
    const s = await FirstLaunchService.open({ dataDir: dir, provisioningFile: await provisioning('refresh'), refreshIntervalMs: 0, onRefreshFailed: (p) => failures.push(p) });
    const first = await s.confirm((await s.discover()).id);
    const oldBundle = await org.currentBundle();
    const oldEnc = (await org.encryptionCertificates())[0]!;

    // Rollover on the node: a new encryption key and bundle version.
    await org.rolloverEncryptionKey();
    const newEnc = (await org.encryptionCertificates())[0]!;
    expect(Buffer.from(newEnc).equals(Buffer.from(oldEnc))).toBe(false);
    const rolled = await s.refresh();
    expect(rolled).toMatchObject({ state: 'pinned', org: { version: first.org!.version + 1, encryptionKeyFingerprint: fingerprint(newEnc) } });
    expect(Buffer.from(s.currentEncryptionCertificate()!)).toEqual(Buffer.from(newEnc));
    expect(failures).toEqual([]);

    // Rollback: the node serves the older bundle (validly signed) → refused, pin kept.
    const back = await nodeServes(oldBundle, () => s.refresh());
    expect(back).toMatchObject({ state: 'refresh-refused', org: { version: first.org!.version + 1, encryptionKeyFingerprint: fingerprint(newEnc) }, problem: { code: 'rejected', reason: 'rolled-back' } });
    expect(failures).toEqual([expect.objectContaining({ code: 'rejected', reason: 'rolled-back', keptVersion: first.org!.version + 1 })]);
    expect(JSON.parse(await readFile(join(dir, 'org', 'pin.json'), 'utf8')).version).toBe(first.org!.version + 1);

    // Back to normal.
    expect((await s.refresh()).state).toBe('pinned');

    // The node goes offline: the pinned bundle is used, the state says offline.
    await server.close();
    const off = await s.refresh();
    expect(off).toMatchObject({ state: 'offline', org: { name: 'Launch Corp', encryptionKeyFingerprint: fingerprint(newEnc) }, problem: { code: 'offline' } });
    expect(failures.at(-1)).toMatchObject({ code: 'offline', keptVersion: first.org!.version + 1 });
    expect(Buffer.from(s.currentEncryptionCertificate()!)).toEqual(Buffer.from(newEnc));
    // A discovery while offline is a typed offline error, not a trust decision.
    expect((await refusal(s.discover())).code).toBe('offline');
    await s.close();
  });
});
