import { generateKeyPairSync, createPrivateKey, type KeyObject, type webcrypto } from 'node:crypto';
import {
  exportPkcs8,
  generateProfileKeyPair,
  issueEmployeeKeyManagementCert,
  issueEmployeeSignatureCert,
  issueOrgCa,
  issueOrgEncryptionCert,
  issueOrgSigningCert,
  issueRootCa,
  type CertificateAuthority,
  type KeyAlgorithm,
} from '../../smime/pki';
import type { x509 } from '../../smime/x509';

/**
 * A complete SSMAX PKI for tests: the root, one org (CA, signing and encryption keys) and one
 * employee (9C + 9D), all in one key algorithm. RSA key generation is slow: build once per file.
 */
export interface TestKey {
  readonly certificate: x509.X509Certificate;
  readonly der: Uint8Array;
  readonly pkcs8: Uint8Array;
  readonly privateKey: KeyObject;
}

export interface TestOrg {
  readonly name: string;
  readonly domain: string;
  readonly ca: CertificateAuthority;
  readonly signing: TestKey;
  readonly encryption: TestKey;
  readonly employee: { readonly email: string; readonly signature: TestKey; readonly keyManagement: TestKey };
}

export interface TestPki {
  readonly root: CertificateAuthority;
  readonly org: TestOrg;
}

export const validity = { notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2036-01-01T00:00:00Z') };

async function keyFor(algorithm: KeyAlgorithm, issueWith: (publicKey: webcrypto.CryptoKey) => Promise<x509.X509Certificate>): Promise<TestKey> {
  const keys = await generateProfileKeyPair(algorithm);
  const certificate = await issueWith(keys.publicKey);
  const pkcs8 = await exportPkcs8(keys.privateKey);
  return { certificate, der: new Uint8Array(certificate.rawData), pkcs8, privateKey: createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' }) };
}

/** `crlUrl`: the distribution point every member certificate names (tests that serve the CRL on loopback pass theirs). */
export async function buildOrg(root: CertificateAuthority, algorithm: KeyAlgorithm, name: string, domain: string, person = 'Hanako Yamada', criticalNameConstraints = true, crlUrl = `https://ssmax.${domain}/crl/org-ca.crl`): Promise<TestOrg> {
  const ca = await issueOrgCa(root, { orgName: name, domains: [domain], keys: await generateProfileKeyPair(algorithm), criticalNameConstraints, ...validity });
  const email = `hanako@${domain}`;
  const common = { orgName: name, domains: [domain], crlUrl, ...validity };
  const emp = { orgName: name, personName: person, staffId: 'S-0042', email, crlUrl, ...validity };
  return {
    name,
    domain,
    ca,
    signing: await keyFor(algorithm, (publicKey) => issueOrgSigningCert(ca, { ...common, publicKey })),
    encryption: await keyFor(algorithm, (publicKey) => issueOrgEncryptionCert(ca, { ...common, publicKey })),
    employee: {
      email,
      signature: await keyFor(algorithm, (publicKey) => issueEmployeeSignatureCert(ca, { ...emp, publicKey })),
      keyManagement: await keyFor(algorithm, (publicKey) => issueEmployeeKeyManagementCert(ca, { ...emp, publicKey })),
    },
  };
}

export async function buildRoot(algorithm: KeyAlgorithm = 'P-256'): Promise<CertificateAuthority> {
  return issueRootCa({ keys: await generateProfileKeyPair(algorithm), ...validity });
}

export async function buildTestPki(algorithm: KeyAlgorithm, domain = algorithm === 'P-256' ? 'ec.example.jp' : 'rsa.example.jp'): Promise<TestPki> {
  const root = await buildRoot(algorithm);
  return { root, org: await buildOrg(root, algorithm, algorithm === 'P-256' ? 'EC Corp' : 'RSA Corp', domain) };
}

export function pem(der: Uint8Array | ArrayBuffer, label = 'CERTIFICATE'): string {
  const b64 = Buffer.from(der instanceof Uint8Array ? der : new Uint8Array(der)).toString('base64');
  return `-----BEGIN ${label}-----\n${b64.replace(/.{1,64}/g, '$&\n')}-----END ${label}-----\n`;
}

/** A throwaway RSA-1024 key, for "weak key" cases only. */
export function weakRsaKey(): KeyObject {
  return generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
}
