/**
 * Path validation on its own: profile roles, CA rules, name constraints, validity, CRLs, weak
 * algorithms and keys; and the public RFC 9788 vectors through verifyMessage (ordinary S/MIME → signed).
 */
import { createPublicKey } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { verifyMessage } from '../../../smime/chain';
import { readCertInfo } from '../../../smime/chain/certificate';
import { dnsWithin, emailWithin, readCrl, validatePath, type PathOptions } from '../../../smime/chain/path';
import { softwareDecryptor } from '../../../smime/keys';
import { issueEmployeeSignatureCert } from '../../../smime/pki';
import { x509 } from '../../../smime/x509';
import { weakRsaKey } from '../../support/ssmax-pki';
import { fixture } from '../mime/helpers';
import { T, buildWorld, type World } from './world';

let w: World;
beforeAll(async () => {
  w = await buildWorld();
}, 120_000);

const info = (c: x509.X509Certificate | Uint8Array) => readCertInfo(c instanceof Uint8Array ? c : new Uint8Array(c.rawData));

function options(extra: Partial<PathOptions> = {}): PathOptions {
  return {
    anchors: [info(w.root.certificate)],
    intermediates: [info(w.a.ca.certificate), info(w.b.ca.certificate)],
    crls: [readCrl(w.crlA)],
    time: T.signed,
    now: T.at,
    role: 'employee-signature',
    ...extra,
  };
}

const codes = (r: { reasons: readonly { code: string }[] }) => r.reasons.map((x) => x.code);

const employee = (email: string) => ({ orgName: 'B Corp', personName: 'Test', staffId: 'S-1', email, crlUrl: 'https://x.b.example/crl', notBefore: new Date('2026-01-01Z'), notAfter: new Date('2030-01-01Z') });

describe('validatePath', () => {
  it('employee 9C → org CA → root is a valid SSMAX path with the org CA named', async () => {
    const r = await validatePath(info(w.a.employee.signature.der), options());
    expect(r.reasons).toEqual([]);
    expect(r.status).toBe('valid');
    expect(r.profile).toBe('ssmax');
    expect(r.path.map((c) => c.ssmaxRole)).toEqual(['employee-signature', 'org-ca', 'ssmax-root']);
    expect(r.orgCa?.sha256).toBe(info(w.a.ca.certificate).sha256);
  });

  it('the org signing cert is valid only as org-signing', async () => {
    expect((await validatePath(info(w.a.signing.der), options({ role: 'org-signing' }))).status).toBe('valid');
    const wrong = await validatePath(info(w.a.signing.der), options());
    expect(codes(wrong)).toContain('policy-role-mismatch');
  });

  it('the org encryption cert cannot sign: role and key usage', async () => {
    const r = await validatePath(info(w.a.encryption.der), options({ role: 'org-signing' }));
    expect(codes(r)).toEqual(expect.arrayContaining(['policy-role-mismatch', 'key-usage']));
  });

  it('without the org CA certificate the path is untrusted', async () => {
    const r = await validatePath(info(w.a.employee.signature.der), options({ intermediates: [] }));
    expect(r.status).toBe('untrusted');
  });

  it('an org CA used directly as a signer breaks CA and profile rules', async () => {
    const r = await validatePath(info(w.a.ca.certificate), options());
    expect(codes(r)).toEqual(expect.arrayContaining(['ca-constraints', 'path-profile', 'policy-role-mismatch']));
  });

  it('revoked before the signing time: revoked; after: valid with a note; a stale CRL is noted', async () => {
    expect((await validatePath(info(w.revoked.der), options())).status).toBe('revoked');
    const before = await validatePath(info(w.revoked.der), options({ time: new Date('2026-04-01T00:00:00Z') }));
    expect(before.status).toBe('valid');
    expect(before.notes.map((n) => n.code)).toContain('revoked');
    const stale = await validatePath(info(w.a.employee.signature.der), options({ now: new Date('2026-08-01T00:00:00Z') }));
    expect(stale.notes.map((n) => n.code)).toContain('crl-stale');
  });

  it('a CRL not signed by the issuer is ignored (noted), so it cannot revoke', async () => {
    // A's CA name as issuer, but signed with B's CA key: an attacker revoking (or un-revoking) at will.
    const forged = await x509.X509CrlGenerator.create({
      issuer: w.a.ca.certificate.subject,
      thisUpdate: new Date('2026-05-15T00:00:00Z'),
      nextUpdate: new Date('2026-07-01T00:00:00Z'),
      signingKey: w.b.ca.privateKey,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as never,
      entries: [{ serialNumber: w.a.employee.signature.certificate.serialNumber, revocationDate: new Date('2026-01-02T00:00:00Z') }],
    });
    const r = await validatePath(info(w.a.employee.signature.der), options({ crls: [readCrl(new Uint8Array(forged.rawData))] }));
    expect(r.status).toBe('valid');
    expect(r.notes.map((n) => n.code)).toEqual(expect.arrayContaining(['crl-invalid', 'revocation-not-checked']));
  });

  it('expired and not yet valid at the signing time', async () => {
    expect((await validatePath(info(w.expired.der), options())).status).toBe('expired');
    const early = await validatePath(info(w.a.employee.signature.der), options({ time: new Date('2025-06-01T00:00:00Z') }));
    expect(codes(early)).toContain('not-yet-valid');
    expect(early.status).toBe('expired');
  });

  it('name constraints: a.example CA issuing x@b.example', async () => {
    const r = await validatePath(info(w.outOfConstraints.der), options());
    expect(codes(r)).toEqual(['name-constraints']);
  });

  it('RSA-1024 signer key → weak-key', async () => {
    const pub = createPublicKey(weakRsaKey());
    expect(pub.asymmetricKeyDetails?.modulusLength).toBe(1024);
    // Raw SPKI under B's CA: the builder cannot see the key size of raw SPKI.
    const spki = new Uint8Array(pub.export({ type: 'spki', format: 'der' }));
    await expect(issueEmployeeSignatureCert(w.b.ca, { ...employee('weak@b.example'), publicKey: spki })).rejects.toThrow(/2048/);
    // The builder refuses it, so issue it the way a rogue tool would, with the same extensions.
    const base = await issueEmployeeSignatureCert(w.b.ca, { ...employee('weak@b.example'), publicKey: (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])).publicKey });
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: '0eeeee',
      subject: base.subject,
      issuer: w.b.ca.certificate.subject,
      notBefore: base.notBefore,
      notAfter: base.notAfter,
      publicKey: new x509.PublicKey(spki),
      signingKey: w.b.ca.privateKey,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as never,
      extensions: base.extensions.filter((e) => e.type !== '2.5.29.14'),
    });
    const r = await validatePath(info(cert), options());
    expect(codes(r)).toContain('weak-key');
  });

  it('a certificate signed with ECDSA-SHA1 → weak-algorithm', async () => {
    const keys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
    const base = await issueEmployeeSignatureCert(w.b.ca, { orgName: 'B Corp', personName: 'Sha One', staffId: 'S-2', email: 'sha1@b.example', publicKey: keys.publicKey, crlUrl: 'https://x.b.example/crl', notBefore: new Date('2026-01-01Z'), notAfter: new Date('2030-01-01Z') });
    const sha1 = await x509.X509CertificateGenerator.create({
      serialNumber: '0badc0de',
      subject: base.subject,
      issuer: w.b.ca.certificate.subject,
      notBefore: base.notBefore,
      notAfter: base.notAfter,
      publicKey: keys.publicKey,
      signingKey: w.b.ca.privateKey,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-1' } as never,
      extensions: base.extensions,
    });
    const r = await validatePath(info(sha1), options());
    expect(codes(r)).toContain('weak-algorithm');
  });

  it('name matching helpers follow RFC 5280', () => {
    expect(emailWithin('a@b.example', 'b.example')).toBe(true);
    expect(emailWithin('a@x.b.example', 'b.example')).toBe(false);
    expect(emailWithin('a@x.b.example', '.b.example')).toBe(true);
    expect(emailWithin('a@B.Example', 'b.example')).toBe(true);
    expect(emailWithin('a@evilb.example', 'b.example')).toBe(false);
    expect(emailWithin('a@b.example', 'a@b.example')).toBe(true);
    expect(emailWithin('c@b.example', 'a@b.example')).toBe(false);
    expect(dnsWithin('mail.b.example', 'b.example')).toBe(true);
    expect(dnsWithin('evilb.example', 'b.example')).toBe(false);
  });
});

describe('public vectors (ordinary S/MIME with the RFC 9216 LAMPS CA)', () => {
  const lamps = () => fixture('rfc9216/ca.rsa.crt');
  it('RFC 9788 multipart/signed: signed (not verified), From = Alice', async () => {
    const r = await verifyMessage(fixture('rfc9788/smime-multipart.eml'), { trustAnchors: [lamps()], at: new Date('2030-01-01Z') });
    expect(r.state).toBe('signed');
    expect(r.links[0]).toMatchObject({ role: 'sender', status: 'valid', email: 'alice@smime.example' });
    expect(r.reasons.map((x) => x.code)).toEqual(['generic-pki']);
  });

  it('RFC 9788 enveloped + opaque signed: decrypted with Bob’s key, signed', async () => {
    const bob = softwareDecryptor(fixture('rfc9216/bob.enc.key').toString('latin1'), fixture('rfc9216/bob.enc.crt').toString('latin1'));
    const r = await verifyMessage(fixture('rfc9788/smime-enc-signed.eml'), { trustAnchors: [lamps()], decryptors: [bob], at: new Date('2030-01-01Z') });
    expect(r.state).toBe('signed');
    expect(r.content?.encrypted).toBe(true);
    expect(r.links[0]?.status).toBe('valid');
  });

  it('RFC 4134 4.8 / 4.9 (DSA and SHA-1, 1999 era) are deliberately rejected: failed', async () => {
    for (const name of ['4.8.eml', '4.9.eml']) {
      const r = await verifyMessage(fixture(`rfc4134/${name}`), { trustAnchors: [fixture('rfc4134/CarlRSASelf.cer'), fixture('rfc4134/CarlDSSSelf.cer')], at: new Date('2005-01-01Z') });
      expect(r.state).toBe('failed');
      expect(r.reasons.map((x) => x.code)).toEqual(expect.arrayContaining(['unsupported-algorithm', 'weak-algorithm']));
    }
  });
});
