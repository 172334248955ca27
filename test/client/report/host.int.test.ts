import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceHost } from '../../../client/service-host';
import { SoftwareSigner } from '../../../smime/keys';
import { createCsr, exportPkcs8, generateProfileKeyPair, type CertificateAuthority } from '../../../smime/pki';
import { x509 } from '../../../smime/x509';
import { startDovecot, type DovecotHandle, type MailUser } from '../../harness/dovecot';
import { startPcscd, type PcscdHandle } from '../../harness/pcsc';
import { disposeWorkDir, makeWorkDir } from '../../harness/process';
import { startVirtualCard, type VirtualCardHandle } from '../../harness/virtual-card';
import { buildMail, headersFor } from '../../smime/chain/world';
import { startOrgNodeWorld, type OrgNodeWorld } from '../../support/org-node-world';
import { enrollVirtualCard, type EnrolledCard } from '../../support/virtual-card-enroll';
import { eventually } from '../mail/support';

/**
 * report.malicious through the service host (SPEC §8): a real org node over HTTPS with its abuse
 * desk (the endpoint from the pinned bundle), first launch pins the bundle, the reporter's virtual
 * card (enrolled under the org's CA, recorded in the org's directory) behind pcscd, a message from
 * another member delivered into Dovecot by LMTP. Open it (chain verified), report it: one PIN
 * prompt, 202 from the desk, and the desk lists the report with the sender identified.
 */
describe('report.malicious through the service host, the card and the org abuse desk', () => {
  let w: OrgNodeWorld;
  let dovecot: DovecotHandle;
  let pcscd: PcscdHandle;
  let card: VirtualCardHandle | undefined;
  let enrolled: EnrolledCard;
  let workDir: string;
  let dataDir: string;
  let host: ServiceHost | undefined;
  let reporter: MailUser;
  const sender = 'taro@launch.example.jp';

  beforeAll(async () => {
    w = await startOrgNodeWorld('Launch Corp', 'launch.example.jp', { abuseDesk: true });
    reporter = { address: w.address, password: 'hanako-report-secret-3' };
    dovecot = await startDovecot({ users: [reporter] });
    pcscd = await startPcscd();
    workDir = await makeWorkDir('client-report');
    dataDir = await mkdtemp(join(tmpdir(), 'ssmax-report-'));
    const orgCa = { certificate: new x509.X509Certificate(await w.org.orgCaCertificate()), privateKey: (await w.org.keys.issuingKey(w.org.config.keys.ca)) as CertificateAuthority['privateKey'] };
    enrolled = await enrollVirtualCard(join(workDir, 'card.json'), orgCa, { orgName: 'Launch Corp', name: 'Hanako Suzuki', staffId: 'L-0001', email: reporter.address });
    await w.org.directory.addMember({ address: reporter.address, name: 'Hanako Suzuki', staffId: 'L-0001' }, 'test');
    for (const [der, slot] of [[enrolled.signatureCert, '9C'], [enrolled.keyManagementCert, '9D']] as const) {
      const c = new x509.X509Certificate(der);
      await w.org.directory.recordCertificate({ serial: c.serialNumber.toLowerCase().replace(/^(00)+/, ''), address: reporter.address, slot, der, notBefore: c.notBefore, notAfter: c.notAfter }, 'test');
    }
    card = await startVirtualCard(pcscd, { stateFile: enrolled.stateFile });
  }, 180_000);

  afterAll(async () => {
    await host?.close();
    await card?.stop();
    await pcscd?.stop();
    await dovecot?.stop();
    await w?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
    if (workDir) await disposeWorkDir('client-report', workDir);
  });

  it('opens a delivered, chain-verified message and reports it: one PIN prompt, 202, the desk lists it with the sender', async () => {
    // Another member of the org (software keys issued by the org) signs a message to the reporter.
    await w.org.directory.addMember({ address: sender, name: 'Taro Yamada', staffId: 'L-0002' }, 'test');
    const sig = await generateProfileKeyPair('P-256');
    const km = await generateProfileKeyPair('P-256');
    const csr = async (k: Awaited<ReturnType<typeof generateProfileKeyPair>>): Promise<Uint8Array> => createCsr([{ CN: ['Taro Yamada'] }], new Uint8Array(await crypto.subtle.exportKey('spki', k.publicKey)), k.privateKey);
    const issued = await w.org.issueMemberCertificates(sender, await csr(sig), await csr(km), 'test');
    const now = new Date();
    const mail = await buildMail({
      headers: { ...headersFor(sender, reporter.address, 'パスワードの確認'), date: now },
      signer: new SoftwareSigner(await exportPkcs8(sig.privateKey), issued.signature),
      signerCaDer: await w.org.orgCaCertificate(),
      signingTime: now,
      encryptTo: enrolled.keyManagementCert,
    });
    const transport = nodemailer.createTransport({ host: dovecot.lmtp.host, port: dovecot.lmtp.port, lmtp: true, secure: false, ignoreTLS: true });
    try {
      await transport.sendMail({ envelope: { from: sender, to: [reporter.address] }, raw: mail.wire });
    } finally {
      transport.close();
    }

    await writeFile(join(dataDir, 'provisioning.json'), w.provisioning());
    host = await ServiceHost.open({
      dataDir,
      runtime: 'bridge',
      card: { env: { ...process.env, ...pcscd.env }, requestTimeoutMs: 20_000 },
      open: { trust: { trustAnchors: [w.root] } },
    });
    const h = host;
    const found = await h.accounts.discover(reporter.address);
    await h.accounts.confirm(found.id);
    const account = await h.accounts.add({ email: reporter.address, imap: { host: dovecot.imap.host, port: dovecot.imap.port, security: 'none', username: reporter.address, password: reporter.password } });
    const row = await eventually('the message synced into the cache', async () => {
      const page = await h.messages.page({ folder: { accountId: account.id, path: 'INBOX' }, offset: 0, limit: 10 }).catch(() => undefined);
      return page?.rows[0];
    });

    const prompts: string[] = [];
    const stop = h.events.on('pin.requested', (req) => {
      prompts.push(req.requestId);
      void h.pin.answer(req.requestId, '123456');
    });
    // Encrypted to the reporter's 9D: opening decrypts on the card.
    const opened = await h.messages.open(row.ref, { loadRemoteContent: false });
    expect(prompts).toHaveLength(1);
    expect(opened.chain.links[0]).toEqual(expect.objectContaining({ role: 'sender', status: 'valid', email: sender }));
    prompts.length = 0;
    await h.cardSession.lock(); // the PIN is asked again: one prompt covers the whole report action

    // Reporting decrypts again (the desk gets the signed message as the reporter holds it) and signs with 9C.
    const receipt = await h.report.malicious(row.ref, 'Phishing: asks for my password');
    stop();
    expect(prompts).toHaveLength(1);
    expect(receipt).toEqual({ id: expect.any(String), state: expect.any(String) });

    const listed = w.desk!.store.list();
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ id: receipt.id, state: receipt.state, kind: 'member', reporter: reporter.address, senderEmail: sender, senderVerified: true, reason: 'Phishing: asks for my password' });
  });
});
