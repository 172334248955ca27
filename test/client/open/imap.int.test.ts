import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceHost } from '../../../client/service-host';
import { startDovecot, type DovecotHandle, type MailUser } from '../../harness/dovecot';
import { startPcscd, type PcscdHandle } from '../../harness/pcsc';
import { disposeWorkDir, makeWorkDir } from '../../harness/process';
import { startVirtualCard, type VirtualCardHandle } from '../../harness/virtual-card';
import { buildWorld, T, type World } from '../../smime/chain/world';
import { enrollVirtualCard, type EnrolledCard } from '../../support/virtual-card-enroll';
import { eventually } from '../mail/support';
import { buildChainMail } from './support';

/**
 * Open by folder/UID: the chain mail delivered into a real Dovecot by LMTP, synced into the cache
 * by client/mail, fetched by UID (BODY.PEEK[]), decrypted on the virtual card, verified; the result
 * lands in the message cache and the list shows it.
 */
const kaori: MailUser = { address: 'kaori@b.example', password: 'kaori-open-secret-7' };

describe('messages.open by folder and UID from IMAP', () => {
  let world: World;
  let dovecot: DovecotHandle;
  let pcscd: PcscdHandle;
  let card: VirtualCardHandle | undefined;
  let enrolled: EnrolledCard;
  let workDir: string;
  let dataDir: string;
  let host: ServiceHost | undefined;

  beforeAll(async () => {
    world = await buildWorld();
    dovecot = await startDovecot({ users: [kaori], starttls: true });
    pcscd = await startPcscd();
    workDir = await makeWorkDir('client-open-imap');
    dataDir = await mkdtemp(join(tmpdir(), 'ssmax-open-imap-'));
    enrolled = await enrollVirtualCard(join(workDir, 'card.json'), world.b.ca, {
      orgName: 'B Corp',
      name: 'Kaori Sato',
      staffId: 'B-0007',
      email: kaori.address,
    });
    card = await startVirtualCard(pcscd, { stateFile: enrolled.stateFile });
  }, 180_000);

  afterAll(async () => {
    await host?.close();
    await card?.stop();
    await pcscd?.stop();
    await dovecot?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
    if (workDir) await disposeWorkDir('client-open-imap', workDir);
  });

  it('opens the synced message by its UID: PIN once, verified, and the list shows the state from the cache', async () => {
    const raw = await buildChainMail(world, {
      to: kaori.address,
      messageId: '<imap-open-1@a.example>',
      content: { text: 'delivered through Dovecot\n' },
      encryptTo: enrolled.keyManagementCert,
    });
    const transport = nodemailer.createTransport({
      host: dovecot.lmtp.host,
      port: dovecot.lmtp.port,
      lmtp: true,
      secure: false,
      ignoreTLS: true,
    });
    try {
      await transport.sendMail({ envelope: { from: world.a.employee.email, to: [kaori.address] }, raw });
    } finally {
      transport.close();
    }

    host = await ServiceHost.open({
      dataDir,
      runtime: 'bridge',
      card: { env: { ...process.env, ...pcscd.env }, requestTimeoutMs: 20_000 },
      open: { trust: { trustAnchors: [world.rootPem] }, now: () => T.at },
    });
    const h = host;
    const account = await h.accounts.add({
      email: kaori.address,
      imap: {
        host: dovecot.imap.host,
        port: dovecot.imap.port,
        security: 'starttls',
        username: kaori.address,
        password: kaori.password,
        caCertPem: dovecot.tls!.certPem,
      },
    });
    const row = await eventually('the message synced into the cache', async () => {
      const page = await h.messages
        .page({ folder: { accountId: account.id, path: 'INBOX' }, offset: 0, limit: 10 })
        .catch(() => undefined); // NotFound until the folder list has synced
      return page?.rows[0];
    });
    expect(row.trust).toBeUndefined();
    expect(row.smime).toBe('encrypted');

    const prompts: string[] = [];
    const stop = h.events.on('pin.requested', (req) => {
      prompts.push(req.requestId);
      void h.pin.answer(req.requestId, '123456');
    });
    const opened = await h.messages.open(row.ref, { loadRemoteContent: false });
    stop();
    expect(prompts).toHaveLength(1);
    // Own org from the account's domain (the recipient), ③ names the account's address.
    expect(opened.chain.state).toBe('verified');
    expect(opened.chain.links.map((l) => l.role)).toEqual(['sender', 'sending-org', 'receiving-org']);
    expect(opened.text).toBe('delivered through Dovecot\n');

    const after = await h.messages.page({ folder: { accountId: account.id, path: 'INBOX' }, offset: 0, limit: 10 });
    expect(after.rows[0]).toMatchObject({ trust: 'verified', external: false, unread: true });

    const gone = await h.messages.open({ ...row.ref, uid: row.ref.uid + 1000 }, { loadRemoteContent: false }).catch((e: unknown) => e);
    expect(gone).toMatchObject({ code: 'NotFound' });
  });
});
