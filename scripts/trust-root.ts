import { createHash } from 'node:crypto';
import { x509 } from '../smime/x509';
import { readCertInfo } from '../smime/chain';
import { certificatesFromPem } from '../client/first-launch/provisioning';

/**
 * Checks that a PEM file is fit to ship as the client's built-in SSMAX root
 * (`build/trust/ssmax-root.pem`): exactly one certificate, self-signed and verifying under its own
 * key, a CA with keyCertSign, the `ssmax-root` policy of the PKI profile (smime/pki/oids.ts), and
 * valid now and for at least `minRemainingDays` more. Used by scripts/make-trust-root.ts (before it
 * writes the file) and scripts/dist.ts (before anything is packaged).
 */
export interface TrustRootSummary {
  subject: string;
  sha256: string;
  notAfter: Date;
}

export class TrustRootInvalid extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TrustRootInvalid';
  }
}

export async function checkTrustRoot(pemText: string, opts: { now?: Date; minRemainingDays?: number } = {}): Promise<TrustRootSummary> {
  const now = opts.now ?? new Date();
  const ders = certificatesFromPem(pemText);
  if (ders.length !== 1) throw new TrustRootInvalid(`expected exactly one PEM certificate, found ${ders.length}`);
  const der = ders[0]!;
  let info: ReturnType<typeof readCertInfo>;
  try {
    info = readCertInfo(der);
  } catch (err) {
    throw new TrustRootInvalid(`not a readable X.509 certificate (${(err as Error).message})`);
  }
  if (info.ssmaxRole !== 'ssmax-root')
    throw new TrustRootInvalid(`${info.subject} is not an SSMAX root (its SSMAX role is ${info.ssmaxRole ?? 'none'}); use the authority's root.pem, not an org CA`);
  if (info.isCa !== true) throw new TrustRootInvalid(`${info.subject} is not a CA certificate`);
  if (!(info.keyUsage !== undefined && (info.keyUsage & x509.KeyUsageFlags.keyCertSign) !== 0))
    throw new TrustRootInvalid(`${info.subject} may not sign certificates (keyUsage)`);
  const cert = new x509.X509Certificate(der);
  if (cert.subject !== cert.issuer || !(await cert.verify({ publicKey: cert.publicKey, signatureOnly: true })))
    throw new TrustRootInvalid(`${info.subject} is not self-signed`);
  if (now < info.notBefore || now > info.notAfter)
    throw new TrustRootInvalid(`${info.subject} is not valid now (${info.notBefore.toISOString()} – ${info.notAfter.toISOString()})`);
  const minDays = opts.minRemainingDays ?? 365;
  if (info.notAfter.getTime() - now.getTime() < minDays * 86_400_000)
    throw new TrustRootInvalid(`${info.subject} expires on ${info.notAfter.toISOString()}, in less than ${minDays} days`);
  return { subject: info.subject, sha256: fingerprintOf(der), notAfter: info.notAfter };
}

function fingerprintOf(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex').toUpperCase().match(/../g)!.join(':');
}
