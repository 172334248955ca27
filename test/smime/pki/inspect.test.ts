import { beforeAll, describe, expect, it } from 'vitest';
import { ProfileError, describeCertificate, dnsPermitted, emailMatchesConstraint, emailPermitted } from '../../../smime/pki';
import { buildTestPki, type TestPki } from '../../support/ssmax-pki';

describe('describeCertificate', () => {
  let pki: TestPki;
  beforeAll(async () => {
    pki = await buildTestPki('P-256', 'Example.JP'.toLowerCase());
  });

  it('reads the employee signature cert as the chain verifier needs it', () => {
    const s = describeCertificate(pki.org.employee.signature.der);
    expect(s.roles).toEqual(['employee-signature']);
    expect(s.emails).toEqual(['hanako@example.jp']);
    expect(s.commonName).toBe('Hanako Yamada');
    expect(s.staffId).toBe('S-0042');
    expect(s.keyUsage).toEqual(['digitalSignature', 'nonRepudiation']);
    expect(s.extendedKeyUsage).toEqual(['1.3.6.1.5.5.7.3.4']);
    expect(s.isCa).toBe(false);
    expect(s.crlDistributionPoints).toEqual(['https://ssmax.example.jp/crl/org-ca.crl']);
    expect(s.publicKey).toEqual({ type: 'ec', curve: 'prime256v1' });
  });

  it('reads the org CA constraints and the key-management usage', () => {
    const ca = describeCertificate(new Uint8Array(pki.org.ca.certificate.rawData));
    expect(ca.roles).toEqual(['org-ca']);
    expect(ca.isCa).toBe(true);
    expect(ca.pathLength).toBe(0);
    expect(ca.nameConstraints).toEqual({ critical: true, permittedEmail: ['example.jp'], permittedDns: ['example.jp'], excludedEmail: [], excludedDns: [] });
    expect(emailPermitted('hanako@example.jp', ca.nameConstraints)).toBe(true);
    expect(emailPermitted('hanako@EXAMPLE.jp', ca.nameConstraints)).toBe(true);
    expect(emailPermitted('mallory@example.jp.evil.example', ca.nameConstraints)).toBe(false);
    expect(emailPermitted('mallory@sub.example.jp', ca.nameConstraints)).toBe(false); // host constraint, not ".example.jp"
    expect(dnsPermitted('mail.example.jp', ca.nameConstraints)).toBe(true);
    expect(dnsPermitted('badexample.jp', ca.nameConstraints)).toBe(false);
    expect(describeCertificate(pki.org.employee.keyManagement.der).keyUsage).toEqual(['keyAgreement']);
    expect(describeCertificate(pki.org.signing.der).dnsNames).toEqual(['example.jp']);
  });

  it('RFC 5280 rfc822Name forms', () => {
    expect(emailMatchesConstraint('a@x.example', 'a@x.example')).toBe(true);
    expect(emailMatchesConstraint('b@x.example', 'a@x.example')).toBe(false);
    expect(emailMatchesConstraint('a@sub.x.example', '.x.example')).toBe(true);
    expect(emailMatchesConstraint('a@x.example', '.x.example')).toBe(false);
  });

  it('garbage is a ProfileError', () => {
    expect(() => describeCertificate(new Uint8Array([1, 2, 3]))).toThrow(ProfileError);
  });
});
