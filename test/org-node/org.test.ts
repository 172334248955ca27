import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Authority } from '../../org-node/authority/authority';
import { Org, OrgSetupError } from '../../org-node/org';
import { fromPem } from '../../org-node/pem';
import { x509 } from '../../smime/x509';
import { cardRequests } from '../support/ssmax-cli';
import { workdir, type Workdir } from '../support/openssl';

/** The org's life on disk without the CLI: admission, members, suspension and CRL, rollover, bundle versions. */

let wd: Workdir;
let authority: Authority;
let org: Org;
const secrets = () => ({ passphraseFile: wd.path('passphrase') });

beforeAll(async () => {
  wd = await workdir('ssmax-org-');
  await wd.file('passphrase', 'org unit test passphrase\n');
  authority = await Authority.init(wd.path('authority'), { name: 'Test SSMAX Root' }, secrets());
  const init = await Org.init(wd.path('org'), { name: 'Unit Corp', domains: ['unit.example.jp', 'unit2.example.jp'] }, secrets());
  org = init.org;
  const csr = fromPem(await readFile(init.csrPath, 'utf8'), ['CERTIFICATE REQUEST']);
  await org.installCa(await authority.admit({ orgName: 'Unit Corp', domains: ['unit.example.jp', 'unit2.example.jp'], csr }), await authority.rootCertificate());
});

afterAll(async () => {
  await org?.close();
  await authority?.close();
  await wd?.remove();
});

const crl = async () => new x509.X509Crl(await org.currentCrl());

describe('Org', () => {
  it('refuses an org CA certificate for another key, and one from another root', async () => {
    const { org: other } = await Org.init(wd.path('other'), { name: 'Other Corp', domains: ['other.example.jp'] }, secrets());
    try {
      const otherCa = await authority.admit({ orgName: 'Other Corp', domains: ['other.example.jp'], csr: fromPem(await readFile(join(wd.path('other'), 'org-ca.csr.pem'), 'utf8'), ['CERTIFICATE REQUEST']) });
      await expect(org.installCa(otherCa, await authority.rootCertificate())).rejects.toThrow("This org CA certificate is not for this org's CA key.");
      const strangerRoot = await Authority.init(wd.path('stranger'), {}, secrets());
      await expect(other.installCa(otherCa, await strangerRoot.rootCertificate())).rejects.toBeInstanceOf(OrgSetupError);
      await strangerRoot.close();
    } finally {
      await other.close();
    }
  });

  it('issues member certificates only to active members at its domains, and suspension puts them on hold in the CRL', async () => {
    await org.directory.addMember({ address: 'aiko@unit2.example.jp', name: 'Aiko Mori', staffId: 'U-1' }, 'test');
    const csrs = await cardRequests('P-256', 'aiko');
    const pemDer = (p: string) => fromPem(p, ['CERTIFICATE REQUEST']);
    const issued = await org.issueMemberCertificates('aiko@unit2.example.jp', pemDer(csrs.signatureCsr), pemDer(csrs.keyManagementCsr), 'test');
    const sig = new x509.X509Certificate(issued.signature);
    expect(sig.getExtension(x509.SubjectAlternativeNameExtension)?.names.toJSON()).toEqual([{ type: 'email', value: 'aiko@unit2.example.jp' }]);
    expect(sig.notAfter.getTime()).toBeLessThanOrEqual(new x509.X509Certificate(await org.orgCaCertificate()).notAfter.getTime());
    expect(issued.chain).toHaveLength(2);
    const before = (await crl()).getExtension('2.5.29.20');

    expect(await org.setMemberStatus('aiko@unit2.example.jp', 'suspended', 'test')).toBe(2);
    const list = await crl();
    const serials = list.entries.map((e) => e.serialNumber.toLowerCase());
    expect(serials).toContain(sig.serialNumber.toLowerCase());
    expect(list.entries.every((e) => e.reason === x509.X509CrlReason.certificateHold)).toBe(true);
    expect(Buffer.from(list.getExtension('2.5.29.20')!.value)).not.toEqual(Buffer.from(before!.value));
    await expect(org.issueMemberCertificates('aiko@unit2.example.jp', pemDer(csrs.signatureCsr), pemDer(csrs.keyManagementCsr), 'test')).rejects.toThrow(/is suspended/);

    await org.directory.addMember({ address: 'eve@elsewhere.example.jp', name: 'Eve', staffId: 'U-666' }, 'test');
    await expect(org.issueMemberCertificates('eve@elsewhere.example.jp', pemDer(csrs.signatureCsr), pemDer(csrs.keyManagementCsr), 'test')).rejects.toThrow(
      'eve@elsewhere.example.jp is not at a domain of Unit Corp (unit.example.jp, unit2.example.jp).',
    );
  });

  it('publishes bundles with increasing versions; rollover makes the new key the newest and keeps the old', async () => {
    const first = await org.publishBundle();
    const oldIds = [...org.config.keys.encryption];
    const newId = await org.rolloverEncryptionKey();
    expect(org.config.keys.encryption).toEqual([...oldIds, newId]);
    const certs = await org.encryptionCertificates();
    expect(Buffer.from(certs[0]!)).toEqual(Buffer.from(await org.orgKeyCertificate(newId)));
    const reopened = await Org.open(wd.path('org'), secrets());
    try {
      expect(reopened.config.keys.encryption).toEqual([...oldIds, newId]);
      for (const id of reopened.config.keys.encryption) await reopened.keys.decryptor(id, await reopened.orgKeyCertificate(id));
    } finally {
      await reopened.close();
    }
    const text = (b: Uint8Array) => Buffer.from(b).toString('latin1');
    const version = (b: Uint8Array) => Number(/"version": (\d+)/.exec(text(b))?.[1]);
    expect(version(await org.currentBundle())).toBe(version(first) + 1);
  });
});
