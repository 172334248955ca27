import { describe, expect, it } from 'vitest';
import { peerCrls } from '../../../org-node/relay/crl';
import type { VerifiedOrgBundle } from '../../../smime/bundle/verify';

describe('peer CRLs', () => {
  it('fetches the CRL named by the bundle, caches it, falls back to a stale one for a while, then fails', async () => {
    let t = 0;
    let up = true;
    const fetched: string[] = [];
    const bundles = { forDomain: (d: string) => Promise.resolve({ manifest: { crlUrl: `https://ssmax.${d}/crl` } } as unknown as VerifiedOrgBundle) };
    const crls = peerCrls({
      bundles,
      fetch: (url) => {
        fetched.push(url);
        return up ? Promise.resolve(new Uint8Array([fetched.length])) : Promise.reject(new Error('down'));
      },
      now: () => new Date(t),
      maxAgeMs: 100,
      staleMaxAgeMs: 1000,
    });
    expect(await crls('a.example')).toEqual([new Uint8Array([1])]);
    t = 50;
    expect(await crls('a.example')).toEqual([new Uint8Array([1])]);
    expect(fetched).toHaveLength(1);
    t = 150;
    expect(await crls('a.example')).toEqual([new Uint8Array([2])]);
    up = false;
    t = 400;
    expect(await crls('a.example')).toEqual([new Uint8Array([2])]); // stale but usable
    t = 1200;
    await expect(crls('a.example')).rejects.toThrow('down');
  });
});
