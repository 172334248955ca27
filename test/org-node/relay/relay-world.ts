/**
 * Two orgs for relay tests, on top of test/smime/chain/world.ts: a.example (RSA-2048: hanako, carol)
 * and b.example (P-256: hanako), each with its member directory (SQLite) and the relay deps of its node.
 */
import { createPrivateKey } from 'node:crypto';
import { SoftwareSigner, softwareDecryptor } from '../../../smime/keys';
import { exportPkcs8, generateProfileKeyPair, issueEmployeeKeyManagementCert, issueEmployeeSignatureCert, type CertificateAuthority } from '../../../smime/pki';
import { SqliteMemberDirectory } from '../../../org-node/directory/sqlite';
import type { MemberDirectory } from '../../../org-node/directory/directory';
import type { Inspector, RelayDeps } from '../../../org-node/relay/types';
import { staticResolver } from '../../../org-node/relay/resolver';
import { buildWorld, caDer, decryptorOf, signerOf, type World } from '../../smime/chain/world';
import type { TestKey, TestOrg } from '../../support/ssmax-pki';
import { validity } from '../../support/ssmax-pki';

export interface Person {
  readonly email: string;
  readonly signature: TestKey;
  readonly keyManagement: TestKey;
}

export interface RelayWorld {
  readonly world: World;
  readonly alice: Person; // hanako@a.example
  readonly carol: Person; // carol@a.example
  readonly bob: Person; // hanako@b.example
}

async function key(ca: CertificateAuthority, kind: 'sig' | 'km', email: string, orgName: string): Promise<TestKey> {
  const keys = await generateProfileKeyPair('P-256');
  const params = { orgName, personName: email.split('@')[0] ?? 'x', staffId: 'S-0200', email, publicKey: keys.publicKey, crlUrl: 'https://ssmax.a.example/crl', ...validity };
  const certificate = kind === 'sig' ? await issueEmployeeSignatureCert(ca, params) : await issueEmployeeKeyManagementCert(ca, params);
  const pkcs8 = await exportPkcs8(keys.privateKey);
  return { certificate, der: new Uint8Array(certificate.rawData), pkcs8, privateKey: createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' }) };
}

export async function buildRelayWorld(): Promise<RelayWorld> {
  const world = await buildWorld();
  const carol = { email: 'carol@a.example', signature: await key(world.a.ca, 'sig', 'carol@a.example', 'A Corp'), keyManagement: await key(world.a.ca, 'km', 'carol@a.example', 'A Corp') };
  return { world, alice: world.a.employee, carol, bob: world.b.employee };
}

export async function directoryFor(path: string, people: readonly Person[]): Promise<MemberDirectory> {
  const dir = SqliteMemberDirectory.open(path);
  for (const p of people) {
    await dir.addMember({ address: p.email, name: p.email.split('@')[0] ?? 'x', staffId: `S-${p.email.split('@')[0] ?? 'x'}` }, 'test');
    for (const [slot, k] of [['9C', p.signature], ['9D', p.keyManagement]] as const) {
      await dir.recordCertificate({ serial: k.certificate.serialNumber.toLowerCase().replace(/^(00)+/, ''), address: p.email, slot, der: k.der, notBefore: k.certificate.notBefore, notAfter: k.certificate.notAfter }, 'test');
    }
  }
  return dir;
}

/** Passes everything as Safe (tests that are not about inspection). */
export const safeInspector: Inspector = () =>
  Promise.resolve({ attestation: { verdict: 'Safe', engine: 'test', signatureDb: 'none', inspectedAt: new Date(), attachments: [] }, decision: { action: 'pass' } });

export function depsFor(rw: RelayWorld, org: TestOrg, directory: MemberDirectory, inspect: Inspector = safeInspector): RelayDeps {
  const other = org === rw.world.a ? rw.world.b : rw.world.a;
  return {
    org: { domains: [org.domain], caCertificate: caDer(org), signer: signerOf(org.signing), decryptors: [decryptorOf(org.encryption)] },
    trustAnchors: [rw.world.rootPem],
    directory,
    resolveOrg: staticResolver({ [other.domain]: { id: other.domain, encryptionCertificate: other.encryption.der } }),
    inspect,
    now: () => new Date(),
  };
}

export { SoftwareSigner, softwareDecryptor };
