import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countersign, encryptContent, signData } from '../../../smime/cms';
import { SoftwareSigner } from '../../../smime/keys';
import { GPGSM_PASSPHRASE, gpgsmHome, type GpgsmHome } from '../../support/gpgsm';
import { openssl, workdir, type Workdir } from '../../support/openssl';
import { buildOrg, buildRoot, pem, type TestOrg } from '../../support/ssmax-pki';
import { attestation, mimeEntity } from './fixtures';

// gpgsm 2.2.40 / libksba 1.6.3 as found here: verifies RSA and ECDSA signatures (also after our
// countersignatures); decrypts only PKCS#1 v1.5 key transport with AES-CBC (no OAEP, no
// AuthEnvelopedData: it fails OpenSSL's the same way); refuses chains through a *critical*
// nameConstraints extension, so these org CAs are built with it non-critical (see pki/README.md).
describe('interop with gpgsm', () => {
  let rsa: TestOrg;
  let ec: TestOrg;
  let w: Workdir;
  let g: GpgsmHome;
  beforeAll(async () => {
    const root = await buildRoot('RSA-2048');
    rsa = await buildOrg(root, 'RSA-2048', 'RSA Corp', 'rsa.example.jp', 'Hanako Yamada', false);
    ec = await buildOrg(root, 'P-256', 'EC Corp', 'ec.example.jp', 'Hanako Yamada', false);
    w = await workdir('ssmax-gpgsm-');
    const fp = createHash('sha1').update(new Uint8Array(root.certificate.rawData)).digest('hex').toUpperCase().replace(/(..)(?!$)/g, '$1:');
    g = await gpgsmHome(w.dir, fp);
    const imported = await g.run(['--import', await w.file('cas.pem', pem(root.certificate.rawData) + pem(rsa.ca.certificate.rawData) + pem(ec.ca.certificate.rawData))]);
    expect(imported.code, imported.stderr).toBe(0);
    await w.file('content.bin', mimeEntity);
  });
  afterAll(async () => {
    await g?.stop();
    await w?.remove();
  });

  for (const which of ['rsa', 'ec'] as const) {
    it(`gpgsm verifies our detached ${which === 'rsa' ? 'RSA' : 'ECDSA'} signature, before and after countersigning`, async () => {
      const org = which === 'rsa' ? rsa : ec;
      const signer = new SoftwareSigner(org.employee.signature.pkcs8, org.employee.signature.der);
      const cms = await signData({ content: mimeEntity, signers: [signer], detached: true, certificates: [new Uint8Array(org.ca.certificate.rawData)] });
      const countersigned = await countersign(cms, { target: [0], signer: new SoftwareSigner(org.signing.pkcs8, org.signing.der), attestation: attestation() });
      for (const msg of [cms, countersigned]) {
        const r = await g.run(['--verify', await w.file('sig.der', msg), w.path('content.bin')]);
        expect(r.stderr).toContain('Good signature');
        expect(r.code).toBe(0);
      }
      const bad = await g.run(['--verify', await w.file('sig.der', cms), await w.file('other.bin', 'forged\r\n')]);
      expect(bad.code).not.toBe(0);
    });
  }

  it('gpgsm decrypts our EnvelopedData with PKCS#1 v1.5 key transport (its only RSA scheme)', async () => {
    // Import the org encryption key as PKCS#12 with the legacy PBE gpgsm 2.2 reads.
    const key = await w.file('enc.key', pem(rsa.encryption.pkcs8, 'PRIVATE KEY'));
    const cert = await w.file('enc.pem', pem(rsa.encryption.der));
    const p12 = await openssl(['pkcs12', '-export', '-inkey', key, '-in', cert, '-passout', `pass:${GPGSM_PASSPHRASE}`, '-keypbe', 'PBE-SHA1-3DES', '-certpbe', 'PBE-SHA1-3DES', '-macalg', 'sha1', '-out', w.path('enc.p12')]);
    expect(p12.code, p12.stderr).toBe(0);
    const imp = await g.run(['--import', w.path('enc.p12')]);
    expect(imp.stderr).toContain('secret keys imported: 1');
    const cms = encryptContent({ content: mimeEntity, recipients: [rsa.encryption.der], kind: 'enveloped', rsaKeyTransport: 'pkcs1v15' });
    const r = await g.run(['--decrypt', await w.file('env.der', cms)]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toEqual(Buffer.from(mimeEntity));
  });
});
