import { beforeAll, describe, expect, it } from 'vitest';
import { CmsFormatError, countersign, lastLinkPath, readSignedData, signData, verifySignedData } from '../../../smime/cms';
import { SoftwareSigner } from '../../../smime/keys';
import { buildTestPki, type TestPki } from '../../support/ssmax-pki';
import { attestation, mimeEntity } from './fixtures';
import { replaceSignerInfos, withUnsignedAttributes } from './tamper';

describe.each([
  ['P-256', undefined],
  ['RSA-2048', 'pkcs1'],
  ['RSA-2048', 'pss'],
] as const)('SignedData with %s %s', (algorithm, rsaScheme) => {
  let pki: TestPki;
  let sender: SoftwareSigner;
  let orgSigner: SoftwareSigner;
  beforeAll(async () => {
    pki = await buildTestPki(algorithm);
    const opts = rsaScheme ? { rsaScheme } : {};
    sender = new SoftwareSigner(pki.org.employee.signature.pkcs8, pki.org.employee.signature.der, opts);
    orgSigner = new SoftwareSigner(pki.org.signing.pkcs8, pki.org.signing.der, opts);
  });

  it('signs detached and verifies against the same content only', async () => {
    const cms = await signData({ content: mimeEntity, signers: [sender], detached: true, signingTime: new Date('2026-06-01T08:00:00Z') });
    const ok = verifySignedData(cms, { detachedContent: mimeEntity });
    expect(ok.detached).toBe(true);
    expect(ok.signers).toHaveLength(1);
    expect(ok.signers[0]?.status).toBe('valid');
    expect(ok.signers[0]?.signingTime?.toISOString()).toBe('2026-06-01T08:00:00.000Z');
    expect(Buffer.from(ok.signers[0]?.certificate ?? [])).toEqual(Buffer.from(pki.org.employee.signature.der));

    const other = Uint8Array.from(mimeEntity);
    other[other.length - 3] = (other[other.length - 3] ?? 0) ^ 1;
    const bad = verifySignedData(cms, { detachedContent: other });
    expect(bad.signers[0]?.status).toBe('invalid');
    expect(bad.signers[0]?.reasons.map((r) => r.code)).toEqual(['digest-mismatch']);
    expect(verifySignedData(cms).signers[0]?.reasons.map((r) => r.code)).toContain('no-content');
  });

  it('signs encapsulated (opaque) content and returns it', async () => {
    const cms = await signData({ content: mimeEntity, signers: [sender], detached: false });
    const r = verifySignedData(cms);
    expect(r.detached).toBe(false);
    expect(Buffer.from(r.content ?? [])).toEqual(Buffer.from(mimeEntity));
    expect(r.signers[0]?.status).toBe('valid');
    // eContent and different detached content: never valid.
    const conflict = verifySignedData(cms, { detachedContent: new TextEncoder().encode('other') });
    expect(conflict.signers[0]?.reasons.map((x) => x.code)).toContain('content-conflict');
  });

  it('countersignatures nest (①←②←③) without changing a byte of the signatures below', async () => {
    const cms = await signData({ content: mimeEntity, signers: [sender], detached: true });
    const before = readSignedData(cms).signerInfos[0]!;
    const two = await countersign(cms, {
      target: [0], signer: orgSigner, envelope: { mailFrom: pki.org.employee.email, rcptTo: ['taro@partner.example.jp'] }, attestation: attestation('sending-org'),
      certificates: [new Uint8Array(pki.org.ca.certificate.rawData)],
    });
    expect(lastLinkPath(two)).toEqual([0, 0]);
    const three = await countersign(two, { target: lastLinkPath(two), signer: orgSigner, attestation: attestation('receiving-org') });
    expect(lastLinkPath(three)).toEqual([0, 0, 0]);

    const after = readSignedData(three).signerInfos[0]!;
    // The sender's signed part (everything but unsignedAttrs) is byte-identical.
    expect(Buffer.concat(after.fieldsBeforeUnsigned)).toEqual(Buffer.concat(before.fieldsBeforeUnsigned));
    // ② is carried unchanged inside ③'s parent except for its own unsigned attributes.
    const r = verifySignedData(three, { detachedContent: mimeEntity });
    const s1 = r.signers[0]!;
    expect(s1.status).toBe('valid');
    const s2 = s1.countersignatures[0]!;
    expect(s2.status).toBe('valid');
    expect(s2.path).toEqual([0, 0]);
    expect(s2.envelope).toEqual({ mailFrom: pki.org.employee.email, rcptTo: ['taro@partner.example.jp'] });
    expect(s2.attestation?.hop).toBe('sending-org');
    expect(s2.attestation?.attachments[1]).toMatchObject({ name: 'data.zip', verdict: 'Unsupported', reason: 'encrypted ZIP (PPAP)' });
    const s3 = s2.countersignatures[0]!;
    expect(s3.status).toBe('valid');
    expect(s3.attestation?.hop).toBe('receiving-org');
    expect(s3.envelope).toBeUndefined();
    expect(r.certificates).toHaveLength(3); // sender, org signing, org CA (added once)
  });

  it('a countersignature moved onto a different signature does not verify', async () => {
    const a = await signData({ content: mimeEntity, signers: [sender], detached: true });
    const b = await signData({ content: new TextEncoder().encode('other content\r\n'), signers: [sender], detached: true });
    const csOnB = await countersign(b, { target: [0], signer: orgSigner });
    // Graft B's countersignature attribute into A's SignerInfo (an attacker splicing bytes).
    const sdB = readSignedData(csOnB);
    const csAttribute = sdB.signerInfos[0]!.unsignedAttrs[0]!.raw;
    const spliced = replaceSignerInfos(a, [withUnsignedAttributes(a, 0, [csAttribute])], sdB.certificates);
    const r = verifySignedData(spliced, { detachedContent: mimeEntity });
    expect(r.signers[0]?.status).toBe('valid');
    expect(r.signers[0]?.countersignatures[0]?.status).toBe('invalid');
    expect(r.signers[0]?.countersignatures[0]?.reasons.map((x) => x.code)).toEqual(['digest-mismatch']);
  });
});

describe('SignedData parsing errors', () => {
  it('garbage and truncated input give CmsFormatError', async () => {
    expect(() => verifySignedData(new Uint8Array())).toThrow(CmsFormatError);
    expect(() => verifySignedData(new TextEncoder().encode('not DER at all'))).toThrow(CmsFormatError);
    expect(() => verifySignedData(Uint8Array.of(0x30, 0x84, 0xff, 0xff, 0xff, 0xff))).toThrow(CmsFormatError);
  });
});
