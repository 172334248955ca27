import { X509Certificate as NodeX509 } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { authorityFromSigner, exportPkcs8, generateProfileKeyPair, issueCrl, issueEmployeeSignatureCert, issueOrgCa, issueRootCa, ProfileError } from '../../../smime/pki';
import { SoftwareSigner, ecdsaDerToRaw, ecdsaRawToDer } from '../../../smime/keys';
import { validity } from '../../support/ssmax-pki';

// A CA whose key is only reachable as a Signer (as in a PKCS#11 token) issues through the builders.
describe.each(['P-256', 'RSA-2048'] as const)('issuing with a Signer (%s)', (algorithm) => {
  it('root → org CA → employee cert and a CRL, each verifying under its issuer', async () => {
    const rootKeys = await generateProfileKeyPair(algorithm);
    const root = await issueRootCa({ keys: rootKeys, ...validity });
    const rootAsSigner = authorityFromSigner(new SoftwareSigner(await exportPkcs8(rootKeys.privateKey), new Uint8Array(root.certificate.rawData)));
    const caKeys = await generateProfileKeyPair(algorithm);
    const orgCa = await issueOrgCa(rootAsSigner, { orgName: 'Token Corp', domains: ['token.example.jp'], keys: caKeys, ...validity });
    const nodeRoot = new NodeX509(Buffer.from(root.certificate.rawData));
    const nodeCa = new NodeX509(Buffer.from(orgCa.certificate.rawData));
    expect(nodeCa.verify(nodeRoot.publicKey)).toBe(true);

    const caAsSigner = authorityFromSigner(new SoftwareSigner(await exportPkcs8(caKeys.privateKey), new Uint8Array(orgCa.certificate.rawData)));
    const emp = await issueEmployeeSignatureCert(caAsSigner, {
      orgName: 'Token Corp', personName: 'Jiro', staffId: 'T-1', email: 'jiro@token.example.jp', crlUrl: 'https://token.example.jp/crl',
      publicKey: (await generateProfileKeyPair(algorithm)).publicKey, ...validity,
    });
    expect(new NodeX509(Buffer.from(emp.rawData)).verify(nodeCa.publicKey)).toBe(true);
    expect(new NodeX509(Buffer.from(emp.rawData)).verify(nodeRoot.publicKey)).toBe(false);

    const crl = await issueCrl(caAsSigner, { thisUpdate: validity.notBefore, nextUpdate: validity.notAfter, crlNumber: 1, revoked: [{ serialNumber: emp.serialNumber, revocationDate: validity.notBefore }] });
    expect(await crl.verify({ publicKey: orgCa.certificate.publicKey })).toBe(true);
  });
});

describe('signer issuing limits and ECDSA encodings', () => {
  it('refuses PSS signers for issuing', async () => {
    const keys = await generateProfileKeyPair('RSA-2048');
    const root = await issueRootCa({ keys, ...validity });
    const pss = new SoftwareSigner(await exportPkcs8(keys.privateKey), new Uint8Array(root.certificate.rawData), { rsaScheme: 'pss' });
    expect(() => authorityFromSigner(pss)).toThrow(ProfileError);
  });

  it('ecdsaDerToRaw inverts ecdsaRawToDer', () => {
    const raw = new Uint8Array(64);
    raw[0] = 0x80;
    raw[40] = 5;
    expect(Buffer.from(ecdsaDerToRaw(ecdsaRawToDer(raw), 32))).toEqual(Buffer.from(raw));
    expect(() => ecdsaDerToRaw(Uint8Array.of(0x31, 0), 32)).toThrow();
  });
});
