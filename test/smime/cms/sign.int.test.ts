import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OID, countersign, lastLinkPath, readSignedData, signData, verifySignedData } from '../../../smime/cms';
import { readSignerInfoBytes } from '../../../smime/cms/signed-data';
import { SoftwareSigner } from '../../../smime/keys';
import { openssl, workdir, type Workdir } from '../../support/openssl';
import { buildTestPki, pem, type TestPki } from '../../support/ssmax-pki';
import { attestation, mimeEntity } from './fixtures';

// Interop both ways with the real OpenSSL 3 `cms` command.
describe.each([
  ['P-256', 'ecdsa'],
  ['RSA-2048', 'pkcs1'],
  ['RSA-2048', 'pss'],
] as const)('SignedData interop with openssl cms (%s %s)', (algorithm, scheme) => {
  let pki: TestPki;
  let w: Workdir;
  let sender: SoftwareSigner;
  let org: SoftwareSigner;
  beforeAll(async () => {
    pki = await buildTestPki(algorithm);
    const opts = scheme === 'pss' ? { rsaScheme: 'pss' as const } : {};
    sender = new SoftwareSigner(pki.org.employee.signature.pkcs8, pki.org.employee.signature.der, opts);
    org = new SoftwareSigner(pki.org.signing.pkcs8, pki.org.signing.der, opts);
    w = await workdir();
    await w.file('root.pem', pem(pki.root.certificate.rawData));
    await w.file('orgca.pem', pem(pki.org.ca.certificate.rawData));
    await w.file('content.bin', mimeEntity);
    await w.file('signer.pem', pem(pki.org.employee.signature.der));
    await w.file('signer.key', pem(pki.org.employee.signature.pkcs8, 'PRIVATE KEY'));
  });
  afterAll(() => w.remove());

  async function opensslVerify(cms: Uint8Array, detached: boolean): Promise<{ code: number; stderr: string; out: Buffer }> {
    const inPath = await w.file('in.der', cms);
    const r = await openssl(['cms', '-verify', '-inform', 'DER', '-in', inPath, '-binary', '-CAfile', w.path('root.pem'), ...(detached ? ['-content', w.path('content.bin')] : []), '-out', w.path('out.bin')]);
    return { code: r.code, stderr: r.stderr, out: r.code === 0 ? await w.read('out.bin') : Buffer.alloc(0) };
  }

  for (const detached of [true, false]) {
    it(`our ${detached ? 'detached' : 'opaque'} signature verifies in openssl, also after two countersignatures`, async () => {
      // The sender includes its org CA (as the client does); openssl 3.0 cms has no -untrusted option.
      const cms = await signData({ content: mimeEntity, signers: [sender], detached, certificates: [new Uint8Array(pki.org.ca.certificate.rawData)] });
      const plain = await opensslVerify(cms, detached);
      expect(plain.stderr).toContain('Verification successful');
      expect(plain.code).toBe(0);
      expect(plain.out).toEqual(Buffer.from(mimeEntity));

      const two = await countersign(cms, { target: [0], signer: org, envelope: { mailFrom: pki.org.employee.email, rcptTo: ['x@partner.example.jp'] }, attestation: attestation() });
      const three = await countersign(two, { target: lastLinkPath(two), signer: org, attestation: attestation('receiving-org') });
      const chained = await opensslVerify(three, detached);
      expect(chained.code).toBe(0);
      // OpenSSL sees the nested countersignatures as unsigned attributes of the sender's SignerInfo.
      const printed = await openssl(['cms', '-cmsout', '-print', '-inform', 'DER', '-in', w.path('in.der')]);
      expect(printed.code).toBe(0);
      expect(printed.stdout.toString()).toContain('countersignature (1.2.840.113549.1.9.6)');
    });
  }

  it('each nested countersignature checks out with openssl primitives (messageDigest over the signature below, signature over its attributes)', async () => {
    // OpenSSL 3.0 neither verifies countersignatures nor accepts a SignerInfo without contentType in
    // `cms -verify`, so the RFC 5652 §11.4 rules are checked with `openssl dgst` on the exact bytes.
    const cms = await signData({ content: mimeEntity, signers: [sender], detached: true });
    const two = await countersign(cms, { target: [0], signer: org, attestation: attestation() });
    const three = await countersign(two, { target: [0, 0], signer: org, attestation: attestation('receiving-org') });
    const si1 = readSignedData(three).signerInfos[0]!;
    const cs2 = readSignerInfoBytes(si1.unsignedAttrs[0]!.values[0]!.raw);
    const cs3 = readSignerInfoBytes(cs2.unsignedAttrs[0]!.values[0]!.raw);
    const pub = await openssl(['x509', '-in', await w.file('org.pem', pem(pki.org.signing.der)), '-pubkey', '-noout']);
    await w.file('org.pub', pub.stdout);
    const sigopts = scheme === 'pss' ? ['-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:32'] : [];
    for (const [below, cs] of [[si1, cs2], [cs2, cs3]] as const) {
      const md = await openssl(['dgst', '-sha256', '-binary', await w.file('below.sig', below.signature)]);
      const attrs = cs.signedAttrs!.find((a) => a.type === OID.messageDigest)!;
      expect(Buffer.from(attrs.values[0]!.value)).toEqual(md.stdout);
      const tbs = Uint8Array.from(cs.signedAttrsRaw!);
      tbs[0] = 0x31; // signed as SET OF (RFC 5652 §5.4)
      const ok = await openssl(['dgst', '-sha256', '-verify', w.path('org.pub'), ...sigopts, '-signature', await w.file('cs.sig', cs.signature), await w.file('cs.tbs', tbs)]);
      expect(ok.stdout.toString()).toContain('Verified OK');
      tbs[tbs.length - 1] = (tbs[tbs.length - 1] ?? 0) ^ 1;
      const bad = await openssl(['dgst', '-sha256', '-verify', w.path('org.pub'), ...sigopts, '-signature', w.path('cs.sig'), await w.file('cs.tbs', tbs)]);
      expect(bad.code).not.toBe(0);
    }
  });

  it('a tampered content fails in openssl (the test can fail)', async () => {
    const cms = await signData({ content: new TextEncoder().encode('other\r\n'), signers: [sender], detached: true, certificates: [new Uint8Array(pki.org.ca.certificate.rawData)] });
    const r = await opensslVerify(cms, true);
    expect(r.code).not.toBe(0);
  });

  // OpenSSL 3.0 cannot stream with PSS ("illegal zero content"), so PSS is tested without -stream.
  for (const flags of scheme === 'pss' ? [['-nodetach'], []] : [['-nodetach'], [], ['-nodetach', '-stream']]) {
    it(`we verify openssl's signature (${flags.join(' ') || 'detached'})`, async () => {
      const keyopt = scheme === 'pss' ? ['-keyopt', 'rsa_padding_mode:pss'] : [];
      const r = await openssl(['cms', '-sign', '-binary', '-in', w.path('content.bin'), '-signer', w.path('signer.pem'), '-inkey', w.path('signer.key'), '-md', 'sha256', ...keyopt, '-outform', 'DER', ...flags, '-out', w.path('ossl.der')]);
      expect(r.code, r.stderr).toBe(0);
      const cms = await w.read('ossl.der');
      const detached = !flags.includes('-nodetach');
      const result = verifySignedData(cms, detached ? { detachedContent: mimeEntity } : {});
      expect(result.signers).toHaveLength(1);
      expect(result.signers[0]?.reasons).toEqual([]);
      expect(result.signers[0]?.status).toBe('valid');
      expect(Buffer.from(result.content ?? [])).toEqual(Buffer.from(mimeEntity));
      if (detached) {
        const bad = verifySignedData(cms, { detachedContent: new TextEncoder().encode('forged') });
        expect(bad.signers[0]?.status).toBe('invalid');
      }
    });
  }
});
