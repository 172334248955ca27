import { beforeAll, describe, expect, it } from 'vitest';
import { signOrgBundle, type OrgBundleContent } from '../../../smime/bundle/sign';
import { BundleRejectedError, verifyOrgBundle, type BundleRejection } from '../../../smime/bundle/verify';
import { SoftwareSigner } from '../../../smime/keys';
import { generateProfileKeyPair, issueOrgEncryptionCert, type CertificateAuthority } from '../../../smime/pki';
import { buildOrg, buildRoot, type TestOrg } from '../../support/ssmax-pki';

const now = new Date('2026-11-23T09:00:00Z');
let root: CertificateAuthority;
let otherRoot: CertificateAuthority;
let orgA: TestOrg;
let orgB: TestOrg;
let orgUnderOtherRoot: TestOrg;
let newerEncryption: Uint8Array;

beforeAll(async () => {
  root = await buildRoot('P-256');
  otherRoot = await buildRoot('P-256');
  orgA = await buildOrg(root, 'P-256', 'Org A', 'a.example.jp');
  orgB = await buildOrg(root, 'P-256', 'Org B', 'b.example.jp');
  orgUnderOtherRoot = await buildOrg(otherRoot, 'P-256', 'Org A', 'a.example.jp');
  // A second (rolled-over) encryption key, valid from later: it must be the one senders use.
  const keys = await generateProfileKeyPair('P-256');
  const cert = await issueOrgEncryptionCert(orgA.ca, {
    orgName: 'Org A',
    domains: ['a.example.jp'],
    publicKey: keys.publicKey,
    crlUrl: 'https://ssmax.a.example.jp/.well-known/ssmax/org-ca.crl',
    notBefore: new Date('2026-06-01T00:00:00Z'),
    notAfter: new Date('2028-06-01T00:00:00Z'),
  });
  newerEncryption = new Uint8Array(cert.rawData);
});

function contentOf(org: TestOrg, overrides: Partial<OrgBundleContent> = {}): OrgBundleContent {
  return {
    org: { name: org.name, domains: [org.domain] },
    version: 7,
    issuedAt: new Date('2026-11-20T00:00:00Z'),
    expiresAt: new Date('2026-12-20T00:00:00Z'),
    orgCa: new Uint8Array(org.ca.certificate.rawData),
    signingCertificates: [org.signing.der],
    encryptionCertificates: [org.encryption.der],
    crlUrl: `https://ssmax.${org.domain}/.well-known/ssmax/org-ca.crl`,
    submission: { host: `smtp.${org.domain}`, port: 587 },
    abuseEndpoint: `https://ssmax.${org.domain}/ssmax/abuse/v1`,
    ...overrides,
  };
}

const sign = (org: TestOrg, content: OrgBundleContent, key = org.signing) => signOrgBundle(content, new SoftwareSigner(key.pkcs8, key.der));
const roots = () => [new Uint8Array(root.certificate.rawData)];

async function rejection(bundle: Uint8Array, options: Partial<Parameters<typeof verifyOrgBundle>[1]> = {}): Promise<{ reason: BundleRejection; message: string }> {
  const err = await verifyOrgBundle(bundle, { roots: roots(), now, ...options }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BundleRejectedError);
  return { reason: (err as BundleRejectedError).reason, message: (err as BundleRejectedError).userMessage };
}

describe('verifyOrgBundle', () => {
  it('accepts a bundle signed by the org signing key under the SSMAX root, newest encryption cert first', async () => {
    const bundle = await sign(orgA, contentOf(orgA, { encryptionCertificates: [orgA.encryption.der, newerEncryption] }));
    const v = await verifyOrgBundle(bundle, { roots: roots(), now, domain: 'A.example.jp', pinnedVersion: 7 });
    expect(v.manifest.org).toEqual({ name: 'Org A', domains: ['a.example.jp'] });
    expect(v.version).toBe(7);
    expect(Buffer.from(v.currentEncryptionCertificate)).toEqual(Buffer.from(newerEncryption));
    expect(v.encryptionCertificates).toHaveLength(2);
    expect(Buffer.from(v.signingCertificate)).toEqual(Buffer.from(orgA.signing.der));
  });

  it('refuses a tampered manifest', async () => {
    const bundle = await sign(orgA, contentOf(orgA));
    const text = Buffer.from(bundle);
    const at = text.indexOf('"port": 587');
    expect(at).toBeGreaterThan(0);
    text.write('"port": 25 ', at, 'latin1');
    const r = await rejection(new Uint8Array(text));
    expect(r.reason).toBe('signature-invalid');
    expect(r.message).toMatch(/digest mismatch/);
  });

  it('refuses an expired bundle', async () => {
    const bundle = await sign(orgA, contentOf(orgA, { expiresAt: new Date('2026-11-22T00:00:00Z') }));
    expect(await rejection(bundle)).toEqual({ reason: 'expired', message: 'The bundle expired on 2026-11-22T00:00:00.000Z.' });
  });

  it('refuses a bundle for org A signed by org B', async () => {
    const bundle = await sign(orgB, contentOf(orgA, { signingCertificates: [orgB.signing.der] }), orgB.signing);
    const r = await rejection(bundle);
    expect(r.reason).toBe('not-signed-by-org');
    expect(r.message).toMatch(/signed by "CN=Org B SSMAX signing, O=Org B", which is not a certificate of the org CA "CN=Org A SSMAX CA/);
  });

  it('refuses a bundle whose org CA chains to another root', async () => {
    const bundle = await sign(orgUnderOtherRoot, contentOf(orgUnderOtherRoot));
    const r = await rejection(bundle);
    expect(r.reason).toBe('untrusted-root');
    expect(r.message).toMatch(/is not issued by the SSMAX root/);
  });

  it('refuses a rolled-back version', async () => {
    const bundle = await sign(orgA, contentOf(orgA, { version: 6 }));
    expect((await rejection(bundle, { pinnedVersion: 7 })).reason).toBe('rolled-back');
  });

  it('refuses a bundle signed with a certificate of the wrong role (the org encryption key)', async () => {
    const bundle = await sign(orgA, contentOf(orgA, { signingCertificates: [orgA.encryption.der] }), orgA.encryption);
    expect((await rejection(bundle)).reason).toBe('wrong-role');
  });

  it('refuses domains outside the org CA name constraints, and a bundle fetched for another domain', async () => {
    const wider = await sign(orgA, contentOf(orgA, { org: { name: 'Org A', domains: ['a.example.jp', 'b.example.jp'] } }));
    expect((await rejection(wider)).message).toBe('The bundle names domain b.example.jp, which the org CA may not serve.');
    const bundle = await sign(orgA, contentOf(orgA));
    expect((await rejection(bundle, { domain: 'b.example.jp' })).reason).toBe('domain-mismatch');
  });

  it('refuses a different org CA than the pinned one, and garbage', async () => {
    const bundle = await sign(orgA, contentOf(orgA));
    expect((await rejection(bundle, { pinnedOrgCa: new Uint8Array(orgB.ca.certificate.rawData) })).reason).toBe('not-signed-by-org');
    expect((await rejection(new TextEncoder().encode('not a bundle'))).reason).toBe('malformed');
    expect((await rejection(bundle.subarray(0, 100))).reason).toBe('malformed');
  });
});
