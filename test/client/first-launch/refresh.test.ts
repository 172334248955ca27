import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FirstLaunchService, fingerprint, type RefreshProblem } from '../../../client/first-launch/service';
import { signOrgBundle } from '../../../smime/bundle';
import { SoftwareSigner } from '../../../smime/keys';
import { buildOrg, buildRoot, type TestOrg } from '../../support/ssmax-pki';

/** Refresh rules over an in-memory network: another org CA for the same domain never replaces the pin. */

let dir: string;
let root: Uint8Array;
let org: TestOrg;
let impostor: TestOrg;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ssmax-refresh-'));
  const r = await buildRoot('P-256');
  root = new Uint8Array(r.certificate.rawData);
  org = await buildOrg(r, 'P-256', 'Same Corp', 'same.example.jp');
  // Another org CA under the same root, admitted for the same domain (a mistake or a compromise).
  impostor = await buildOrg(r, 'P-256', 'Same Corp', 'same.example.jp');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function bundleOf(o: TestOrg, version: number): Promise<Uint8Array> {
  return signOrgBundle(
    {
      org: { name: o.name, domains: [o.domain] },
      version,
      issuedAt: new Date(Date.now() - 60_000),
      expiresAt: new Date(Date.now() + 86_400_000),
      orgCa: new Uint8Array(o.ca.certificate.rawData),
      signingCertificates: [o.signing.der],
      encryptionCertificates: [o.encryption.der],
      crlUrl: `https://ssmax.${o.domain}/.well-known/ssmax/org-ca.crl`,
      submission: { host: `smtp.${o.domain}`, port: 587 },
      abuseEndpoint: `https://ssmax.${o.domain}/ssmax/abuse/v1`,
    },
    new SoftwareSigner(o.signing.pkcs8, o.signing.der),
  );
}

describe('background refresh', () => {
  it('refuses a newer bundle under a different org CA, announces it and keeps the pin', async () => {
    let served = await bundleOf(org, 1);
    const urls: string[] = [];
    const failures: RefreshProblem[] = [];
    const dataDir = join(dir, 'data');
    const s = await FirstLaunchService.open({
      dataDir,
      roots: [root],
      refreshIntervalMs: 0,
      bundleBaseUrl: 'https://node.same.example.jp/',
      fetcher: () => ({ fetch: async (url) => (urls.push(url), served) }),
      onRefreshFailed: (p) => failures.push(p),
    });
    const pinned = await s.confirm((await s.discover('hanako@same.example.jp')).id);
    expect(urls).toEqual(['https://node.same.example.jp/.well-known/ssmax/bundle.p7s']);
    expect(pinned.org?.encryptionKeyFingerprint).toBe(fingerprint(org.encryption.der));

    served = await bundleOf(impostor, 2);
    const after = await s.refresh();
    expect(after).toMatchObject({ state: 'refresh-refused', org: { version: 1, encryptionKeyFingerprint: fingerprint(org.encryption.der) }, problem: { code: 'rejected', reason: 'not-signed-by-org' } });
    expect(failures).toEqual([expect.objectContaining({ code: 'rejected', reason: 'not-signed-by-org', keptVersion: 1 })]);
    expect(Buffer.from(s.currentEncryptionCertificate()!)).toEqual(Buffer.from(org.encryption.der));
    expect(JSON.parse(await readFile(join(dataDir, 'org', 'pin.json'), 'utf8')).version).toBe(1);

    // The real org's next version is accepted again.
    served = await bundleOf(org, 3);
    expect(await s.refresh()).toMatchObject({ state: 'pinned', org: { version: 3 } });
    await s.close();
  });
});
