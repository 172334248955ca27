/**
 * A generated SSMAX world for chain tests: the SSMAX root → org CAs a.example (RSA-2048) and
 * b.example (P-256) → org signing/encryption certs and employees with 9C/9D certs; plus the odd
 * certificates the attacks need (revoked, expired, out of name constraints, another root).
 * Builds mail the way the client and the org nodes do (smime/mime + smime/cms).
 */
import { createHash } from 'node:crypto';
import { countersign, encryptContent, lastLinkPath, signData, type Hop, type InspectionAttestation, type SmtpEnvelope } from '../../../smime/cms';
import { SoftwareSigner, softwareDecryptor, type Decryptor, type Signer } from '../../../smime/keys';
import { buildMultipartSigned, buildPkcs7Mime, buildProtectedPayload, type ContentInput, type MessageHeaders } from '../../../smime/mime';
import { issueCrl, issueEmployeeSignatureCert, type KeyAlgorithm } from '../../../smime/pki';
import { generateProfileKeyPair, exportPkcs8 } from '../../../smime/pki';
import { buildOrg, buildRoot, pem, type TestKey, type TestOrg } from '../../support/ssmax-pki';
import { createPrivateKey } from 'node:crypto';
import type { CertificateAuthority } from '../../../smime/pki';

export const T = {
  signed: new Date('2026-06-01T09:00:00Z'),
  sendingOrg: new Date('2026-06-01T09:01:00Z'),
  receivingOrg: new Date('2026-06-01T09:02:00Z'),
  at: new Date('2026-06-01T10:00:00Z'),
};

export interface World {
  readonly root: CertificateAuthority;
  readonly rootPem: string;
  readonly a: TestOrg;
  readonly b: TestOrg;
  /** a.example employee revoked on 2026-05-01. */
  readonly revoked: TestKey;
  /** a.example employee whose cert expired on 2026-03-01. */
  readonly expired: TestKey;
  /** Issued by a.example's CA for x@b.example (outside its name constraints). */
  readonly outOfConstraints: TestKey;
  /** A full org under another, untrusted root (same domain a.example). */
  readonly rogue: TestOrg;
  /** a.example's CRL listing `revoked`. */
  readonly crlA: Uint8Array;
}

async function employee(ca: CertificateAuthority, algorithm: KeyAlgorithm, email: string, validity: { notBefore: Date; notAfter: Date }, orgName: string): Promise<TestKey> {
  const keys = await generateProfileKeyPair(algorithm);
  const certificate = await issueEmployeeSignatureCert(ca, {
    orgName,
    personName: email.split('@')[0] ?? 'x',
    staffId: 'S-0100',
    email,
    publicKey: keys.publicKey,
    crlUrl: 'https://ssmax.a.example/crl/org-ca.crl',
    ...validity,
  });
  const pkcs8 = await exportPkcs8(keys.privateKey);
  return { certificate, der: new Uint8Array(certificate.rawData), pkcs8, privateKey: createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' }) };
}

export async function buildWorld(): Promise<World> {
  const root = await buildRoot('P-256');
  const a = await buildOrg(root, 'RSA-2048', 'A Corp', 'a.example', 'Hanako Yamada');
  const b = await buildOrg(root, 'P-256', 'B Corp', 'b.example', 'Taro Suzuki');
  const long = { notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2036-01-01T00:00:00Z') };
  const revoked = await employee(a.ca, 'P-256', 'jiro@a.example', long, 'A Corp');
  const expired = await employee(a.ca, 'P-256', 'saburo@a.example', { notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2026-03-01T00:00:00Z') }, 'A Corp');
  const outOfConstraints = await employee(a.ca, 'P-256', 'x@b.example', long, 'A Corp');
  const rogueRoot = await buildRoot('P-256');
  const rogue = await buildOrg(rogueRoot, 'P-256', 'A Corp', 'a.example', 'Hanako Yamada');
  const crl = await issueCrl(a.ca, {
    thisUpdate: new Date('2026-05-15T00:00:00Z'),
    nextUpdate: new Date('2026-07-01T00:00:00Z'),
    crlNumber: 7,
    revoked: [{ serialNumber: revoked.certificate.serialNumber, revocationDate: new Date('2026-05-01T00:00:00Z') }],
  });
  return { root, rootPem: pem(root.certificate.rawData), a, b, revoked, expired, outOfConstraints, rogue, crlA: new Uint8Array(crl.rawData) };
}

export const signerOf = (k: TestKey): Signer => new SoftwareSigner(k.pkcs8, k.der);
export const decryptorOf = (k: TestKey): Decryptor => softwareDecryptor(k.pkcs8, k.der);

export function attestation(hop: Hop, inspectedAt: Date): InspectionAttestation {
  return {
    hop,
    verdict: 'Safe',
    engine: 'ClamAV 1.0.7',
    signatureDb: 'daily.cvd 27450',
    inspectedAt,
    attachments: [{ name: '見積書.pdf', sha256: createHash('sha256').update('%PDF-1.7 quote').digest(), verdict: 'Safe' }],
  };
}

export interface OrgLink {
  readonly signer: Signer;
  /** The org CA certificate to carry (so the path can be built). */
  readonly caDer: Uint8Array;
  readonly hop?: Hop;
  readonly time: Date;
  readonly envelope?: SmtpEnvelope;
  /** Countersign at this position instead of the end of the chain. */
  readonly target?: number[];
}

export interface MailSpec {
  readonly headers: MessageHeaders;
  readonly content?: ContentInput;
  readonly signer: Signer;
  readonly signerCaDer: Uint8Array;
  readonly signingTime?: Date;
  readonly links?: readonly OrgLink[];
  /** Encrypt the result (authEnveloped) to this certificate; signed-only otherwise (hp="clear"). */
  readonly encryptTo?: Uint8Array;
}

export const defaultContent: ContentInput = {
  text: '見積書を添付します。\n',
  attachments: [{ filename: '見積書.pdf', content: Buffer.from('%PDF-1.7 quote') }],
};

export function headersFor(from: string, to: string, subject = '見積書の送付について'): MessageHeaders {
  return { from: { name: 'Sender', address: from }, to: [{ address: to }], subject, date: T.signed, messageId: `<m-${Math.random().toString(36).slice(2)}@test>` };
}

/** The pieces of a signed message, for attacks that rebuild it. */
export interface Built {
  readonly entity: Buffer;
  readonly cms: Uint8Array;
  readonly outerHeaders: Awaited<ReturnType<typeof buildProtectedPayload>>['outerHeaders'];
  readonly wire: Buffer;
}

export async function addLinks(cms: Uint8Array, links: readonly OrgLink[]): Promise<Uint8Array> {
  let out = cms;
  for (const l of links) {
    out = await countersign(out, {
      target: l.target ?? lastLinkPath(out),
      signer: l.signer,
      signingTime: l.time,
      ...(l.hop ? { attestation: attestation(l.hop, l.time) } : {}),
      envelope: l.envelope ?? { mailFrom: 'sender@a.example', rcptTo: ['rcpt@b.example'] },
      certificates: [l.caDer],
    });
  }
  return out;
}

export async function buildMail(spec: MailSpec): Promise<Built> {
  const mode = spec.encryptTo ? 'cipher' : 'clear';
  const { entity, outerHeaders } = await buildProtectedPayload(spec.headers, spec.content ?? defaultContent, mode);
  const signed = await signData({ content: entity, signers: [spec.signer], detached: true, signingTime: spec.signingTime ?? T.signed, certificates: [spec.signerCaDer] });
  const cms = await addLinks(signed, spec.links ?? []);
  return { entity, cms, outerHeaders, wire: wrap(entity, cms, outerHeaders, spec.encryptTo) };
}

export function wrap(entity: Buffer, cms: Uint8Array, outerHeaders: Built['outerHeaders'], encryptTo?: Uint8Array): Buffer {
  if (!encryptTo) return buildMultipartSigned({ signedPart: entity, signature: cms, digest: 'SHA-256', headers: outerHeaders });
  const inner = buildMultipartSigned({ signedPart: entity, signature: cms, digest: 'SHA-256' });
  const env = encryptContent({ content: inner, recipients: [encryptTo] });
  return buildPkcs7Mime({ smimeType: 'authEnveloped-data', der: env, headers: outerHeaders });
}

/** Org link helpers. */
export const sendingOrg = (o: TestOrg, time = T.sendingOrg, hop: Hop = 'sending-org'): OrgLink => ({ signer: signerOf(o.signing), caDer: new Uint8Array(o.ca.certificate.rawData), hop, time });
export const receivingOrg = (o: TestOrg, rcpt: string, time = T.receivingOrg): OrgLink => ({
  signer: signerOf(o.signing),
  caDer: new Uint8Array(o.ca.certificate.rawData),
  hop: 'receiving-org',
  time,
  envelope: { mailFrom: 'sender@a.example', rcptTo: [rcpt] },
});
export const caDer = (o: TestOrg): Uint8Array => new Uint8Array(o.ca.certificate.rawData);
