import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FirstLaunchError } from '../../../client/first-launch/errors';
import { FirstLaunchService } from '../../../client/first-launch/service';
import { buildOrg, buildRoot, pem, type TestOrg } from '../../support/ssmax-pki';

/** The built-in SSMAX root file (build/trust/ssmax-root.pem, or resources/trust/ in a package): absent or wrong → a clear refusal, never trust. */
let dir: string;
let rootPem: string;
let org: TestOrg;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ssmax-trust-anchor-'));
  const root = await buildRoot('P-256');
  rootPem = pem(root.certificate.rawData);
  org = await buildOrg(root, 'P-256', 'A Corp', 'a.example');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function anchorsFrom(content: string | undefined): Promise<Uint8Array[] | FirstLaunchError> {
  const file = join(dir, `root-${Math.random().toString(36).slice(2)}.pem`);
  if (content !== undefined) await writeFile(file, content);
  const s = await FirstLaunchService.open({ dataDir: join(dir, `d-${Math.random().toString(36).slice(2)}`), trustAnchorFile: file, refreshIntervalMs: 0 });
  return s.trustAnchors().catch((e: FirstLaunchError) => e);
}

describe('the built-in SSMAX root file', () => {
  it('an SSMAX root is used', async () => {
    const r = await anchorsFrom(rootPem);
    expect(Array.isArray(r) && r.length).toBe(1);
  });

  it('missing, empty, damaged or an org CA instead of the root → no-trust-anchor naming the file and what to do', async () => {
    for (const content of [undefined, '', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', pem(org.ca.certificate.rawData)]) {
      const r = await anchorsFrom(content);
      expect(r, String(content)).toBeInstanceOf(FirstLaunchError);
      expect((r as FirstLaunchError).code).toBe('no-trust-anchor');
      expect((r as FirstLaunchError).message).toMatch(/root-.*\.pem.*ask IT/);
    }
  });

  it('discover refuses before fetching anything when there is no root', async () => {
    let fetched = 0;
    const s = await FirstLaunchService.open({
      dataDir: join(dir, 'discover'),
      trustAnchorFile: join(dir, 'absent.pem'),
      refreshIntervalMs: 0,
      fetcher: () => ({ fetch: async () => { fetched++; return new Uint8Array(); } }),
    });
    const err = await s.discover('alice@a.example').catch((e: unknown) => e);
    expect((err as FirstLaunchError).code).toBe('no-trust-anchor');
    expect(fetched).toBe(0);
  });
});
