import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ssmaxPolicyOid } from '../../../smime/pki';
import { openssl, workdir, type Workdir } from '../../support/openssl';
import { buildOrg, buildRoot, pem, type TestOrg } from '../../support/ssmax-pki';
import type { CertificateAuthority } from '../../../smime/pki';

// OpenSSL checks what our builders claim: chains verify for S/MIME with the role policy required,
// and the org CA's name constraints really bind (a cert of another domain under it fails).
describe.each(['P-256', 'RSA-2048'] as const)('SSMAX certificates in openssl verify (%s)', (algorithm) => {
  let root: CertificateAuthority;
  let org: TestOrg;
  let other: TestOrg;
  let w: Workdir;
  beforeAll(async () => {
    root = await buildRoot(algorithm);
    org = await buildOrg(root, algorithm, 'Alpha', 'alpha.example.jp');
    other = await buildOrg(root, algorithm, 'Beta', 'beta.example.jp');
    w = await workdir();
    await w.file('root.pem', pem(root.certificate.rawData));
    await w.file('orgca.pem', pem(org.ca.certificate.rawData));
  });
  afterAll(() => w.remove());

  async function verify(cert: Uint8Array, policy: string, purpose = 'smimesign'): Promise<{ code: number; out: string }> {
    const certPath = await w.file('leaf.pem', pem(cert));
    const r = await openssl(['verify', '-CAfile', w.path('root.pem'), '-untrusted', w.path('orgca.pem'), '-purpose', purpose, '-policy', policy, '-explicit_policy', '-attime', String(Date.parse('2026-06-01') / 1000), certPath]);
    return { code: r.code, out: r.stdout.toString() + r.stderr };
  }

  it('employee and org certs verify under their role policy', async () => {
    expect(await verify(org.employee.signature.der, ssmaxPolicyOid['employee-signature'])).toMatchObject({ code: 0 });
    expect(await verify(org.signing.der, ssmaxPolicyOid['org-signing'])).toMatchObject({ code: 0 });
    // OpenSSL's smimeencrypt purpose insists on keyEncipherment, which an ECDH (keyAgreement) cert
    // rightly lacks (RFC 5753); `openssl cms -encrypt` itself accepts it. So EC uses purpose "any".
    const encPurpose = algorithm === 'P-256' ? 'any' : 'smimeencrypt';
    expect(await verify(org.encryption.der, ssmaxPolicyOid['org-encryption'], encPurpose)).toMatchObject({ code: 0 });
    expect(await verify(org.employee.keyManagement.der, ssmaxPolicyOid['employee-key-management'], encPurpose)).toMatchObject({ code: 0 });
  });

  it('a cert does not verify under another role policy', async () => {
    const r = await verify(org.employee.signature.der, ssmaxPolicyOid['org-signing']);
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/policy/i);
  });

  it("name constraints: another org's employee cert presented under this org CA fails", async () => {
    // Re-issue Beta's employee (beta.example.jp) under Alpha's CA: the constraint must reject it.
    const { issueEmployeeSignatureCert } = await import('../../../smime/pki');
    const wrong = await issueEmployeeSignatureCert(org.ca, {
      orgName: 'Alpha', personName: 'Mallory', staffId: 'X-1', email: other.employee.email,
      publicKey: new Uint8Array(other.employee.signature.certificate.publicKey.rawData), crlUrl: 'https://alpha.example.jp/crl',
      notBefore: new Date('2026-01-01'), notAfter: new Date('2030-01-01'),
    });
    const r = await verify(new Uint8Array(wrong.rawData), ssmaxPolicyOid['employee-signature']);
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/name constraint|permitted subtree/i);
  });
});
