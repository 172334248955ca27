import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FirstLaunchError } from '../../../client/first-launch/errors';
import { PROVISIONING_FORMAT, ProvisioningInvalid, orgDomainOf, parseProvisioning } from '../../../client/first-launch/provisioning';
import { FirstLaunchService } from '../../../client/first-launch/service';
import { buildOrg, buildRoot, type TestOrg } from '../../support/ssmax-pki';

/** Where first launch gets the user's address, and what a provisioning file may say. */

let dir: string;
let org: TestOrg;
let root: Uint8Array;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ssmax-first-launch-unit-'));
  const r = await buildRoot('P-256');
  root = new Uint8Array(r.certificate.rawData);
  org = await buildOrg(r, 'P-256', 'Card Corp', 'card.example.jp');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const open = (extra: Partial<Parameters<typeof FirstLaunchService.open>[0]> = {}) =>
  FirstLaunchService.open({ dataDir: join(dir, `d${Math.random().toString(36).slice(2)}`), roots: [root], refreshIntervalMs: 0, ...extra });

describe('the user address at first launch', () => {
  it("comes from the card's 9C certificate (rfc822Name) when nothing else says", async () => {
    const s = await open({ card: { status: async () => ({ state: 'present', signatureCertificate: org.employee.signature.der }) } });
    expect(await s.findAddress()).toEqual({ address: 'hanako@card.example.jp', from: 'card' });
    expect((await s.trustAnchors()).map((r) => Buffer.from(r).toString('hex'))).toEqual([Buffer.from(root).toString('hex')]);
  });

  it('prefers the argument, then the provisioning file; no card, no file, no argument → no-address', async () => {
    const file = join(dir, 'p.json');
    await writeFile(file, JSON.stringify({ format: PROVISIONING_FORMAT, address: 'taro@card.example.jp' }));
    const card = { status: async () => ({ state: 'present', signatureCertificate: org.employee.signature.der }) };
    expect(await (await open({ card, provisioningFile: file })).findAddress()).toEqual({ address: 'taro@card.example.jp', from: 'provisioning' });
    const noRoot = await FirstLaunchService.open({ dataDir: join(dir, 'no-root'), trustAnchorFile: join(dir, 'absent.pem'), refreshIntervalMs: 0 });
    expect(await noRoot.trustAnchors().catch((e: FirstLaunchError) => e.code)).toBe('no-trust-anchor');
    expect(await (await open({ card, provisioningFile: file })).findAddress('jiro@card.example.jp')).toEqual({ address: 'jiro@card.example.jp', from: 'argument' });
    const none = await open({ card: { status: async () => ({ state: 'no-card' }) }, provisioningFile: join(dir, 'missing.json') });
    const err = await none.findAddress().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FirstLaunchError);
    expect((err as FirstLaunchError).code).toBe('no-address');
  });
});

describe('the provisioning file', () => {
  it('accepts the documented fields and derives the org domain', () => {
    const p = parseProvisioning(
      JSON.stringify({
        format: PROVISIONING_FORMAT,
        address: 'Hanako@Sub.Example.JP',
        orgDomain: 'example.jp',
        bundleUrl: 'https://node.example.jp/.well-known/ssmax/bundle.p7s',
        imap: { host: 'imap.example.jp', port: 993, security: 'tls' },
        smtp: { host: 'smtp.example.jp', port: 587 },
      }),
    );
    expect(orgDomainOf(p)).toBe('example.jp');
    expect(orgDomainOf({ address: 'Hanako@Sub.Example.JP' })).toBe('sub.example.jp');
  });

  it('refuses non-JSON, unknown fields, plain-HTTP bundle URLs and bad ports, naming the field', () => {
    expect(() => parseProvisioning('{')).toThrow(ProvisioningInvalid);
    const bad = (o: Record<string, unknown>) => {
      try {
        parseProvisioning(JSON.stringify({ format: PROVISIONING_FORMAT, address: 'a@b.example', ...o }));
      } catch (e) {
        return (e as ProvisioningInvalid).issues;
      }
      throw new Error('accepted');
    };
    expect(bad({ extra: 1 })).toEqual([expect.stringMatching(/Unrecognized key/)]);
    expect(bad({ bundleUrl: 'http://b.example/x' })).toEqual(['bundleUrl: an https:// URL']);
    expect(bad({ imap: { host: 'imap.b.example', port: 0, security: 'tls' } })[0]).toMatch(/^imap\.port:/);
    expect(bad({ trustAnchorsPem: ['not a pem'] })[0]).toMatch(/^trustAnchorsPem\.0:/);
    expect(() => parseProvisioning(JSON.stringify({ format: 'other/1', address: 'a@b.example' }))).toThrow(/format/);
  });
});
