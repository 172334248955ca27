import { beforeAll, describe, expect, it } from 'vitest';
import { OrgBundleClient, type BundleCache, type CachedBundle } from '../../../smime/bundle/client';
import { signOrgBundle, type OrgBundleContent } from '../../../smime/bundle/sign';
import { BundleRejectedError } from '../../../smime/bundle/verify';
import { SoftwareSigner } from '../../../smime/keys';
import type { CertificateAuthority } from '../../../smime/pki';
import { buildOrg, buildRoot, type TestOrg } from '../../support/ssmax-pki';

/** The caching, pinning and fallback rules of the bundle client, over an in-memory network and cache. */

let root: CertificateAuthority;
let org: TestOrg;
let clock: Date;

beforeAll(async () => {
  root = await buildRoot('P-256');
  org = await buildOrg(root, 'P-256', 'Org A', 'a.example.jp');
});

async function bundle(version: number, expiresAt = new Date('2026-12-31T00:00:00Z')): Promise<Uint8Array> {
  const content: OrgBundleContent = {
    org: { name: 'Org A', domains: ['a.example.jp'] },
    version,
    issuedAt: new Date('2026-11-01T00:00:00Z'),
    expiresAt,
    orgCa: new Uint8Array(org.ca.certificate.rawData),
    signingCertificates: [org.signing.der],
    encryptionCertificates: [org.encryption.der],
    crlUrl: 'https://ssmax.a.example.jp/.well-known/ssmax/org-ca.crl',
    submission: { host: 'smtp.a.example.jp', port: 587 },
    abuseEndpoint: 'https://ssmax.a.example.jp/ssmax/abuse/v1',
  };
  return signOrgBundle(content, new SoftwareSigner(org.signing.pkcs8, org.signing.der));
}

function world() {
  const served: { bytes: Uint8Array | undefined; fetches: string[] } = { bytes: undefined, fetches: [] };
  const store = new Map<string, CachedBundle>();
  const cache: BundleCache = { load: async (d) => store.get(d), save: async (d, e) => void store.set(d, e) };
  const stale: string[] = [];
  const client = new OrgBundleClient({
    roots: [new Uint8Array(root.certificate.rawData)],
    cache,
    now: () => clock,
    fetcher: {
      fetch: async (url) => {
        served.fetches.push(url);
        if (!served.bytes) throw new Error('connection refused');
        return served.bytes;
      },
    },
    onStale: (d, e) => stale.push(`${d}: ${e.message}`),
  });
  return { served, store, client, stale };
}

describe('OrgBundleClient', () => {
  it('fetches from ssmax.<domain>, caches for an hour, then refreshes and pins the newer version', async () => {
    clock = new Date('2026-11-23T09:00:00Z');
    const w = world();
    w.served.bytes = await bundle(3);
    expect((await w.client.forDomain('A.Example.JP')).version).toBe(3);
    expect(w.served.fetches).toEqual(['https://ssmax.a.example.jp/.well-known/ssmax/bundle.p7s']);
    clock = new Date('2026-11-23T09:59:00Z');
    await w.client.forDomain('a.example.jp');
    expect(w.served.fetches).toHaveLength(1);
    clock = new Date('2026-11-23T10:01:00Z');
    w.served.bytes = await bundle(4);
    expect((await w.client.forDomain('a.example.jp')).version).toBe(4);
    expect(w.store.get('a.example.jp')?.version).toBe(4);
    expect(Buffer.from(await w.client.encryptionCertificateFor('a.example.jp'))).toEqual(Buffer.from(org.encryption.der));
  });

  it('refuses a rolled-back bundle from the network and keeps the pinned one', async () => {
    clock = new Date('2026-11-23T09:00:00Z');
    const w = world();
    w.served.bytes = await bundle(5);
    await w.client.forDomain('a.example.jp');
    w.served.bytes = await bundle(4);
    const v = await w.client.forDomain('a.example.jp', { forceRefresh: true });
    expect(v.version).toBe(5);
    expect(w.stale).toEqual(['a.example.jp: The bundle is version 4, older than version 5 seen before (rollback).']);
    // Imported from a file, the old version is refused outright.
    await expect(w.client.importBundle(await bundle(4), 'a.example.jp')).rejects.toMatchObject({ reason: 'rolled-back' });
  });

  it('uses a cached bundle while the network is down, but never an expired one', async () => {
    clock = new Date('2026-11-23T09:00:00Z');
    const w = world();
    w.served.bytes = await bundle(1, new Date('2026-11-25T00:00:00Z'));
    await w.client.forDomain('a.example.jp');
    w.served.bytes = undefined;
    clock = new Date('2026-11-24T09:00:00Z');
    expect((await w.client.forDomain('a.example.jp')).version).toBe(1);
    expect(w.stale).toEqual(['a.example.jp: connection refused']);
    clock = new Date('2026-11-26T09:00:00Z');
    const err = await w.client.forDomain('a.example.jp').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BundleRejectedError);
    expect((err as BundleRejectedError).reason).toBe('expired');
  });

  it('imports a bundle file and refuses one for another domain', async () => {
    clock = new Date('2026-11-23T09:00:00Z');
    const w = world();
    expect((await w.client.importBundle(await bundle(2), 'a.example.jp')).version).toBe(2);
    await expect(w.client.importBundle(await bundle(3), 'b.example.jp')).rejects.toMatchObject({ reason: 'domain-mismatch' });
    expect(w.served.fetches).toEqual([]);
  });
});
