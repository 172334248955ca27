import { beforeAll, describe, expect, it } from 'vitest';
import { CmsFormatError, countersign, lastLinkPath, readSignedData, signData, verifySignedData } from '../../../smime/cms';
import { encodeAttribute } from '../../../smime/cms/attributes';
import { Tag, der, oid, seq } from '../../../smime/cms/der';
import { OID } from '../../../smime/cms/oids';
import { buildSignerInfo } from '../../../smime/cms/sign';
import { SoftwareSigner, digest } from '../../../smime/keys';
import { buildTestPki, type TestPki } from '../../support/ssmax-pki';
import { mimeEntity } from './fixtures';
import { replaceSignerInfos, withUnsignedAttributes } from './tamper';

/** Deterministic pseudo-random numbers (xorshift32) so fuzz cases are reproducible. */
function prng(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

describe('CMS-level attacks never verify', () => {
  let pki: TestPki;
  let sender: SoftwareSigner;
  let org: SoftwareSigner;
  let signed: Uint8Array;
  beforeAll(async () => {
    pki = await buildTestPki('P-256');
    sender = new SoftwareSigner(pki.org.employee.signature.pkcs8, pki.org.employee.signature.der);
    org = new SoftwareSigner(pki.org.signing.pkcs8, pki.org.signing.der);
    signed = await signData({ content: mimeEntity, signers: [sender], detached: false });
  });

  it('two signers, one tampered: each is reported on its own (no merged state)', async () => {
    const two = await signData({ content: mimeEntity, signers: [sender, org], detached: false });
    const sd = readSignedData(two);
    const broken = Uint8Array.from(sd.signerInfos[1]!.raw);
    broken[broken.length - 5] = (broken[broken.length - 5] ?? 0) ^ 1; // inside the signature value
    const r = verifySignedData(replaceSignerInfos(two, [sd.signerInfos[0]!.raw, broken]));
    expect(r.signers.map((s) => s.status)).toEqual(['valid', 'invalid']);
    expect(r.signers[1]?.reasons.map((x) => x.code)).toContain('signature-invalid');
  });

  it('signers keep the caller order; 32 nested countersignatures verify, the 33rd is refused', async () => {
    const two = await signData({ content: mimeEntity, signers: [org, sender], detached: false });
    expect(verifySignedData(two).signers.map((x) => Buffer.from(x.certificate ?? []).equals(Buffer.from(org.certificate)))).toEqual([true, false]);
    let msg = signed;
    for (let i = 0; i < 33; i++) msg = await countersign(msg, { target: lastLinkPath(msg), signer: org });
    let link = verifySignedData(msg).signers[0];
    const states: string[] = [];
    while (link) {
      states.push(link.reasons[0]?.code ?? link.status);
      link = link.countersignatures[0];
    }
    expect(states).toEqual([...Array<string>(33).fill('valid'), 'malformed']);
  });

  it('no signers: an empty result, nothing valid', () => {
    const r = verifySignedData(replaceSignerInfos(signed, []));
    expect(r.signers).toEqual([]);
  });

  it("the signer's certificate removed: certificate-not-found", () => {
    const r = verifySignedData(replaceSignerInfos(signed, [readSignedData(signed).signerInfos[0]!.raw], []));
    expect(r.signers[0]?.reasons.map((x) => x.code)).toEqual(['certificate-not-found']);
  });

  it('another certificate swapped in under the same signature: signature and signingCertificateV2 both fail', () => {
    const si = readSignedData(signed).signerInfos[0]!.raw;
    // The org signing cert renamed to the sender's issuer/serial is impossible without the CA key, so
    // the attacker swaps the whole cert list and the sid points nowhere, or keeps the sid: the second case.
    const r = verifySignedData(replaceSignerInfos(signed, [si], [pki.org.signing.der]));
    expect(r.signers[0]?.status).toBe('invalid');
  });

  it('a countersignature carrying contentType is flagged (RFC 5652 §11.4)', async () => {
    const target = readSignedData(signed).signerInfos[0]!;
    const cs = await buildSignerInfo(org, [
      encodeAttribute(OID.contentType, oid(OID.data)),
      encodeAttribute(OID.messageDigest, der(Tag.OCTET_STRING, digest('SHA-256', target.signature))),
    ]);
    const msg = replaceSignerInfos(signed, [withUnsignedAttributes(signed, 0, [encodeAttribute(OID.countersignature, cs)])], [pki.org.employee.signature.der, pki.org.signing.der]);
    const r = verifySignedData(msg);
    expect(r.signers[0]?.status).toBe('valid');
    expect(r.signers[0]?.countersignatures[0]?.reasons.map((x) => x.code)).toEqual(['countersignature-has-content-type']);
  });

  it('a garbage countersignature value is reported as malformed without hiding the sender result', () => {
    const msg = replaceSignerInfos(signed, [withUnsignedAttributes(signed, 0, [seq(oid(OID.countersignature), der(Tag.SET, seq(der(Tag.INTEGER, Uint8Array.of(1)))))])]);
    const r = verifySignedData(msg);
    expect(r.signers[0]?.status).toBe('valid');
    expect(r.signers[0]?.countersignatures[0]?.status).toBe('invalid');
    expect(r.signers[0]?.countersignatures[0]?.reasons[0]?.code).toBe('malformed');
  });

  it('every truncation of a countersigned message is a CmsFormatError', async () => {
    const msg = await countersign(signed, { target: [0], signer: org });
    for (let cut = 0; cut < msg.length; cut += 7) {
      expect(() => verifySignedData(msg.subarray(0, cut)), `cut at ${cut}`).toThrow(CmsFormatError);
    }
  });

  it('deep nesting and absurd lengths are refused quickly, without stack overflow', () => {
    const deep = new Uint8Array(200_000);
    for (let i = 0; i < deep.length; i += 2) {
      deep[i] = 0x30;
      deep[i + 1] = 0x80;
    }
    expect(() => verifySignedData(deep)).toThrow(CmsFormatError);
    expect(() => verifySignedData(Uint8Array.of(0x30, 0x88, 1, 2, 3, 4, 5, 6, 7, 8))).toThrow(CmsFormatError);
    expect(() => verifySignedData(new TextEncoder().encode('-----BEGIN PKCS7-----'))).toThrow(CmsFormatError);
  });

  it('random byte flips: never a crash, never valid when a signed byte changed', async () => {
    const msg = await countersign(signed, { target: [0], signer: org });
    const rnd = prng(20260601);
    const sd = readSignedData(msg);
    let formatErrors = 0;
    let invalid = 0;
    let valid = 0;
    for (let n = 0; n < 300; n++) {
      const m = Uint8Array.from(msg);
      const at = Math.floor(rnd() * m.length);
      m[at] = (m[at] ?? 0) ^ (1 + Math.floor(rnd() * 255));
      try {
        const r = verifySignedData(m);
        if (r.signers.every((s) => s.status === 'valid') && r.signers.length > 0 && Buffer.from(r.content ?? []).equals(Buffer.from(mimeEntity)) && r.signers[0]?.countersignatures[0]?.status === 'valid') {
          valid++;
          // Only bytes no signature covers may change without detection: the digestAlgorithms SET
          // and the certificate bag outside the signers' certificates.
          const digestAlgs = Buffer.from(msg).indexOf(Buffer.from(sd.fields.digestAlgorithms));
          expect(at >= digestAlgs && at < digestAlgs + sd.fields.digestAlgorithms.length, `flip at ${at} went unnoticed`).toBe(true);
        } else invalid++;
      } catch (e) {
        expect(e).toBeInstanceOf(CmsFormatError);
        formatErrors++;
      }
    }
    console.log(`[fuzz] 300 single-byte flips: ${formatErrors} CmsFormatError, ${invalid} not valid, ${valid} valid (unsigned bytes)`);
  });
});
