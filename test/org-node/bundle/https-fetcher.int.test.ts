import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrgBundleClient } from '../../../smime/bundle/client';
import { FileBundleCache } from '../../../org-node/bundle/file-cache';
import { BundleFetchError, httpsBundleFetcher } from '../../../org-node/bundle/https-fetcher';
import { Authority } from '../../../org-node/authority/authority';
import { startOrgServer, type OrgServerHandle } from '../../../org-node/http/server';
import { Org } from '../../../org-node/org';
import { fromPem } from '../../../org-node/pem';
import { openssl, workdir, type Workdir } from '../../support/openssl';

/** The bundle client against a real org node over HTTPS, with the on-disk cache. */

let wd: Workdir;
let org: Org;
let server: OrgServerHandle;
let root: Uint8Array;
let tlsCa: Buffer;

beforeAll(async () => {
  wd = await workdir('ssmax-bundle-client-');
  await wd.file('passphrase', 'bundle client passphrase\n');
  const secrets = { passphraseFile: wd.path('passphrase') };
  const authority = await Authority.init(wd.path('authority'), {}, secrets);
  const init = await Org.init(wd.path('org'), { name: 'Fetch Corp', domains: ['fetch.example.jp'] }, secrets);
  org = init.org;
  await org.installCa(await authority.admit({ orgName: 'Fetch Corp', domains: ['fetch.example.jp'], csr: fromPem(await readFile(init.csrPath, 'utf8'), ['CERTIFICATE REQUEST']) }), await authority.rootCertificate());
  root = await authority.rootCertificate();
  await authority.close();
  const tls = await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', 'tls.key', '-out', 'tls.pem'], { cwd: wd.dir });
  expect(tls.code, tls.stderr).toBe(0);
  tlsCa = await wd.read('tls.pem');
  server = await startOrgServer(org, { listen: { host: '127.0.0.1', port: 0 }, tls: { certFile: wd.path('tls.pem'), keyFile: wd.path('tls.key') }, log: () => undefined });
});

afterAll(async () => {
  await server?.close();
  await org?.close();
  await wd?.remove();
});

describe('OrgBundleClient over HTTPS with FileBundleCache', () => {
  it('fetches, verifies, caches on disk and follows a key rollover', async () => {
    const cacheDir = join(wd.dir, 'cache');
    const client = new OrgBundleClient({
      roots: [root],
      fetcher: httpsBundleFetcher({ ca: tlsCa }),
      cache: new FileBundleCache(cacheDir),
      urlFor: () => `${server.url}/.well-known/ssmax/bundle.p7s`,
    });
    const first = await client.forDomain('fetch.example.jp');
    expect(first.manifest.org.name).toBe('Fetch Corp');
    expect(JSON.parse(await readFile(join(cacheDir, 'fetch.example.jp.json'), 'utf8')).version).toBe(first.version);

    await org.rolloverEncryptionKey();
    const second = await client.forDomain('fetch.example.jp', { forceRefresh: true });
    expect(second.version).toBe(first.version + 1);
    expect(Buffer.from(second.currentEncryptionCertificate)).toEqual(Buffer.from((await org.encryptionCertificates())[0]!));
    expect(Buffer.from(second.currentEncryptionCertificate).equals(Buffer.from(first.currentEncryptionCertificate))).toBe(false);

    // A new client on the same cache directory starts from the pinned version.
    const again = new OrgBundleClient({ roots: [root], fetcher: httpsBundleFetcher({ ca: tlsCa }), cache: new FileBundleCache(cacheDir), urlFor: () => `${server.url}/.well-known/ssmax/bundle.p7s` });
    expect((await again.forDomain('fetch.example.jp')).version).toBe(second.version);
  });

  it('reports an unreachable or wrong URL, refuses plain HTTP, and rejects a server it does not trust', async () => {
    const fetcher = httpsBundleFetcher({ ca: tlsCa });
    await expect(fetcher.fetch(`${server.url}/.well-known/ssmax/nothing`)).rejects.toThrow(/HTTP 404/);
    await expect(fetcher.fetch(server.url.replace('https:', 'http:'))).rejects.toBeInstanceOf(BundleFetchError);
    await expect(httpsBundleFetcher().fetch(`${server.url}/.well-known/ssmax/bundle.p7s`)).rejects.toThrow(/could not be fetched/);
  });
});
