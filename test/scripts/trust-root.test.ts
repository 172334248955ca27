import { describe, expect, it } from 'vitest';
import { generateProfileKeyPair, issueRootCa } from '../../smime/pki';
import { TrustRootInvalid, checkTrustRoot } from '../../scripts/trust-root';
import { buildOrg, buildRoot, pem } from '../support/ssmax-pki';

const years = (n: number): Date => new Date(Date.now() + n * 365 * 86_400_000);

describe('checkTrustRoot: what may ship as build/trust/ssmax-root.pem', () => {
  it('accepts a self-signed SSMAX root and reports its fingerprint', async () => {
    const root = await issueRootCa({ keys: await generateProfileKeyPair('P-256'), notBefore: years(-1), notAfter: years(20), name: 'SSMAX Root CA' });
    const r = await checkTrustRoot(pem(root.certificate.rawData));
    expect(r.subject).toContain('CN=SSMAX Root CA');
    expect(r.sha256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  });

  it('refuses an org CA, two certificates, garbage, and a root about to expire', async () => {
    const root = await buildRoot();
    const org = await buildOrg(root, 'P-256', 'A Corp', 'a.example');
    const refusal = (p: Promise<unknown>): Promise<string> => p.then(() => 'accepted', (e: unknown) => (e instanceof TrustRootInvalid ? e.message : `other: ${String(e)}`));
    expect(await refusal(checkTrustRoot(pem(org.ca.certificate.rawData)))).toMatch(/not an SSMAX root.*org-ca/);
    expect(await refusal(checkTrustRoot(pem(root.certificate.rawData) + pem(org.ca.certificate.rawData)))).toMatch(/exactly one/);
    expect(await refusal(checkTrustRoot('no certificate here'))).toMatch(/exactly one/);
    expect(await refusal(checkTrustRoot('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'))).toMatch(/not a readable/);
    const short = await issueRootCa({ keys: await generateProfileKeyPair('P-256'), notBefore: years(-1), notAfter: new Date(Date.now() + 30 * 86_400_000) });
    expect(await refusal(checkTrustRoot(pem(short.certificate.rawData)))).toMatch(/less than 365 days/);
    const expired = await issueRootCa({ keys: await generateProfileKeyPair('P-256'), notBefore: years(-3), notAfter: years(-1) });
    expect(await refusal(checkTrustRoot(pem(expired.certificate.rawData)))).toMatch(/not valid now/);
  });
});
