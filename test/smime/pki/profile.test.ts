import { X509Certificate as NodeX509 } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { ProfileError, normaliseOid, issueCrl, issueEmployeeSignatureCert, issueOrgCa, generateProfileKeyPair, roleOfPolicy, ssmaxPolicyOid, nameConstraintsExtension, SSMAX_ARC } from '../../../smime/pki';
import { x509 } from '../../../smime/x509';
import { buildTestPki, validity, type TestPki } from '../../support/ssmax-pki';

function policies(cert: x509.X509Certificate): readonly string[] {
  // anyPolicy (2.5.29.32.0) is asserted by CA certs for RFC 5280 policy processing; it names no role.
  return (cert.getExtension(x509.CertificatePolicyExtension)?.policies ?? []).filter((p) => p !== '2.5.29.32.0');
}

function nodeCert(cert: x509.X509Certificate): NodeX509 {
  return new NodeX509(Buffer.from(cert.rawData));
}

describe.each(['P-256', 'RSA-2048'] as const)('SSMAX profile with %s', (algorithm) => {
  let pki: TestPki;
  beforeAll(async () => {
    pki = await buildTestPki(algorithm);
  });

  it('the root is a self-signed CA with the ssmax-root policy', async () => {
    const root = pki.root.certificate;
    expect(await root.isSelfSigned()).toBe(true);
    expect(root.getExtension(x509.BasicConstraintsExtension)?.ca).toBe(true);
    expect(policies(root).map(roleOfPolicy)).toEqual(['ssmax-root']);
  });

  it('the org CA has pathLen 0, the org-ca policy and name constraints on its mail domain', async () => {
    const ca = pki.org.ca.certificate;
    const bc = ca.getExtension(x509.BasicConstraintsExtension);
    expect(bc?.ca).toBe(true);
    expect(bc?.pathLength).toBe(0);
    expect(policies(ca).map(roleOfPolicy)).toEqual(['org-ca']);
    expect(await ca.verify({ publicKey: pki.root.certificate.publicKey, signatureOnly: true })).toBe(true);
    const nc = ca.getExtension('2.5.29.30');
    expect(nc?.critical).toBe(true);
    // permittedSubtrees carries the domain as rfc822Name [1] and as dNSName [2].
    const value = Buffer.from(nc!.value);
    const domain = Buffer.from(pki.org.domain);
    expect(value.includes(Buffer.concat([Buffer.from([0x81, domain.length]), domain]))).toBe(true);
    expect(value.includes(Buffer.concat([Buffer.from([0x82, domain.length]), domain]))).toBe(true);
  });

  it('each member cert carries its role policy, key usage, SAN and the CRL distribution point', async () => {
    const { org } = pki;
    const cases = [
      [org.signing.certificate, 'org-signing', x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation],
      [org.encryption.certificate, 'org-encryption', algorithm === 'P-256' ? x509.KeyUsageFlags.keyAgreement : x509.KeyUsageFlags.keyEncipherment],
      [org.employee.signature.certificate, 'employee-signature', x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation],
      [org.employee.keyManagement.certificate, 'employee-key-management', algorithm === 'P-256' ? x509.KeyUsageFlags.keyAgreement : x509.KeyUsageFlags.keyEncipherment],
    ] as const;
    for (const [cert, role, usage] of cases) {
      expect(policies(cert).map(roleOfPolicy)).toEqual([role]);
      expect(cert.getExtension(x509.KeyUsagesExtension)?.usages).toBe(usage);
      expect(cert.getExtension(x509.BasicConstraintsExtension)?.ca).toBe(false);
      expect(cert.getExtension(x509.CRLDistributionPointsExtension)).not.toBeNull();
      expect(nodeCert(cert).verify(nodeCert(org.ca.certificate).publicKey)).toBe(true);
    }
    expect(nodeCert(org.signing.certificate).subjectAltName).toBe(`DNS:${org.domain}`);
    expect(nodeCert(org.employee.signature.certificate).subjectAltName).toBe(`email:${org.employee.email}`);
    expect(nodeCert(org.employee.signature.certificate).subject).toContain('serialNumber=S-0042');
    expect(nodeCert(org.employee.signature.certificate).subject).toContain('CN=Hanako Yamada');
  });

  it('issues a CRL listing a revoked employee cert, signed by the org CA', async () => {
    const serial = pki.org.employee.signature.certificate.serialNumber;
    const crl = await issueCrl(pki.org.ca, {
      thisUpdate: new Date('2026-06-01T00:00:00Z'),
      nextUpdate: new Date('2026-06-02T00:00:00Z'),
      crlNumber: 7,
      revoked: [{ serialNumber: serial, revocationDate: new Date('2026-06-01T00:00:00Z') }],
    });
    expect(await crl.verify({ publicKey: pki.org.ca.certificate.publicKey })).toBe(true);
    expect(crl.findRevoked(pki.org.employee.signature.certificate)).not.toBeNull();
    expect(crl.findRevoked(pki.org.employee.keyManagement.certificate)).toBeNull();
  });
});

describe('SSMAX OIDs and profile errors', () => {
  it('policy OIDs are distinct and under the SSMAX arc', () => {
    const oids = Object.values(ssmaxPolicyOid);
    expect(new Set(oids).size).toBe(oids.length);
    for (const oid of oids) expect(oid.startsWith(`${SSMAX_ARC}.1.`)).toBe(true);
    expect(roleOfPolicy('2.5.29.32.0')).toBeUndefined();
  });

  it('rejects org CAs without domains, bad domains, bad addresses and staff IDs', async () => {
    expect(() => nameConstraintsExtension([])).toThrow(ProfileError);
    expect(() => nameConstraintsExtension(['not a domain'])).toThrow(ProfileError);
    const pki = await buildTestPki('P-256');
    const keys = await generateProfileKeyPair('P-256');
    await expect(issueOrgCa(pki.root, { orgName: 'x', domains: [], keys, ...validity })).rejects.toBeInstanceOf(ProfileError);
    const base = { orgName: 'EC Corp', personName: 'A', crlUrl: 'https://x.example/crl', publicKey: keys.publicKey, ...validity };
    await expect(issueEmployeeSignatureCert(pki.org.ca, { ...base, staffId: 'S1', email: 'no-at-sign' })).rejects.toBeInstanceOf(ProfileError);
    await expect(issueEmployeeSignatureCert(pki.org.ca, { ...base, staffId: 'S1\u0000', email: 'a@ec.example.jp' })).rejects.toBeInstanceOf(ProfileError);
  });
});

describe('normaliseOid', () => {
  it('turns asn1js "hex only" renderings of big sub-identifiers back into decimal', async () => {
    const asn1js = await import('asn1js');
    for (const oid of Object.values(ssmaxPolicyOid)) {
      const der = new asn1js.ObjectIdentifier({ value: oid }).toBER();
      const rendered = (asn1js.fromBER(der).result as InstanceType<typeof asn1js.ObjectIdentifier>).getValue();
      expect(rendered).not.toBe(oid); // the asn1js limitation this works around
      expect(normaliseOid(rendered)).toBe(oid);
    }
    expect(normaliseOid('1.2.840.113549.1.7.2')).toBe('1.2.840.113549.1.7.2');
  });
});
