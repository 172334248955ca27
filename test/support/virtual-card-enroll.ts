import {
  issueEmployeeKeyManagementCert,
  issueEmployeeSignatureCert,
  type CertificateAuthority,
} from '../../smime/pki';
import { ORG_CA_SLOT, PivSession, PivSlot, type PivKeyAlgorithm } from '../../native/piv/piv-session';
import { VirtualPivCard } from '../../native/virtual-card/piv-card';
import { CardStateStore, DEFAULT_MGMT_KEY } from '../../native/virtual-card/state';
import { validity } from './ssmax-pki';

/**
 * Enrols a virtual card's state file offline, through the card engine itself (no PC/SC in the test
 * process): keys generated on the card in 9C and 9D, certificates issued by `orgCa` and written
 * back, the org CA in slot 95 — what `ssmax org enroll-card` does at the IT station. Start the card
 * with `startVirtualCard(pcscd, { stateFile })` afterwards. The PIN stays the factory 123456.
 */
export interface EnrolledCard {
  stateFile: string;
  signatureCert: Uint8Array;
  keyManagementCert: Uint8Array;
}

export async function enrollVirtualCard(
  stateFile: string,
  orgCa: CertificateAuthority,
  person: EnrolledPerson,
  algorithm: PivKeyAlgorithm = 'p256',
): Promise<EnrolledCard> {
  const engine = new VirtualPivCard(new CardStateStore(stateFile));
  engine.control('power-on');
  return { stateFile, ...(await enrollPivSession(new PivSession(engine), orgCa, person, algorithm)) };
}

export interface EnrolledPerson {
  orgName: string;
  name: string;
  staffId: string;
  email: string;
}

/**
 * Enrols the card behind `piv` with the factory management key, as IT does: keys generated on the
 * card in 9C and 9D, certificates issued by `orgCa` and written back, the org CA in slot 95.
 */
export async function enrollPivSession(
  piv: PivSession,
  orgCa: CertificateAuthority,
  person: EnrolledPerson,
  algorithm: PivKeyAlgorithm = 'p256',
): Promise<{ signatureCert: Uint8Array; keyManagementCert: Uint8Array }> {
  await piv.select();
  await piv.authenticateManagementKey(Buffer.from(DEFAULT_MGMT_KEY, 'hex'));
  const params = {
    orgName: person.orgName,
    personName: person.name,
    staffId: person.staffId,
    email: person.email,
    crlUrl: `https://ssmax.${person.email.split('@')[1] ?? 'example'}/crl`,
    ...validity,
  };
  const spki = (k: Awaited<ReturnType<typeof piv.generateKey>>): Uint8Array =>
    new Uint8Array(k.export({ type: 'spki', format: 'der' }));
  const sig = await piv.generateKey(PivSlot.SIGNATURE, algorithm);
  const km = await piv.generateKey(PivSlot.KEY_MANAGEMENT, algorithm);
  const signatureCert = new Uint8Array(
    (await issueEmployeeSignatureCert(orgCa, { ...params, publicKey: spki(sig) })).rawData,
  );
  const keyManagementCert = new Uint8Array(
    (await issueEmployeeKeyManagementCert(orgCa, { ...params, publicKey: spki(km) })).rawData,
  );
  await piv.writeCertificate(PivSlot.SIGNATURE, signatureCert);
  await piv.writeCertificate(PivSlot.KEY_MANAGEMENT, keyManagementCert);
  await piv.writeCertificate(ORG_CA_SLOT, new Uint8Array(orgCa.certificate.rawData));
  return { signatureCert, keyManagementCert };
}
