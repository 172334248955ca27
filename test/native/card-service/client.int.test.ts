import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decryptContent, encryptContent, signData } from '../../../smime/cms';
import type { CertificateAuthority } from '../../../smime/pki';
import { CardServiceClient, nodeServiceLauncher } from '../../../native/card-service/client';
import { CardErrorCode } from '../../../native/pcsc/errors';
import type { PinRequest } from '../../../native/piv/card-keys';
import { WrongPinError } from '../../../native/piv/errors';
import { startPcscd, type PcscdHandle } from '../../harness/pcsc';
import { makeWorkDir, disposeWorkDir } from '../../harness/process';
import { startVirtualCard, type VirtualCardHandle } from '../../harness/virtual-card';
import { buildOrgCa, opensslCmsVerify } from '../../support/card-test-setup';
import { workdir, type Workdir } from '../../support/openssl';
import { pem } from '../../support/ssmax-pki';
import { enrollVirtualCard } from '../../support/virtual-card-enroll';

/**
 * The card behind a service process, as the Electron app will use it (utility process): the app
 * side never loads the PC/SC binding; a hung card costs a timeout and a service restart, not a
 * frozen app. Here the service runs under Node's child_process.fork.
 */
const DOMAIN = 'svc.example.jp';
const MIME = Buffer.from('Content-Type: text/plain\r\n\r\nsigned through the card service\r\n');

describe('card service process', () => {
  let pcscd: PcscdHandle;
  let card: VirtualCardHandle | undefined;
  let client: CardServiceClient;
  let dir: string;
  let stateFile: string;
  let wd: Workdir;
  let root: CertificateAuthority;
  let orgCa: CertificateAuthority;
  let kmCert: Uint8Array;
  const prompts: PinRequest[] = [];
  let answer: string | null = '123456';

  beforeAll(async () => {
    pcscd = await startPcscd();
    dir = await makeWorkDir('card-service');
    wd = await workdir('ssmax-card-service-');
    stateFile = join(dir, 'card.json');
    ({ root, orgCa } = await buildOrgCa('Svc Corp', DOMAIN));
    // Enrol the card's state offline, through the card engine itself (no PC/SC in this process).
    kmCert = (
      await enrollVirtualCard(stateFile, orgCa, {
        orgName: 'Svc Corp',
        name: 'Saburo Service',
        staffId: 'S-0300',
        email: `saburo@${DOMAIN}`,
      })
    ).keyManagementCert;
    await wd.file('anchors.pem', pem(root.certificate.rawData) + pem(orgCa.certificate.rawData));

    client = new CardServiceClient(
      nodeServiceLauncher({ env: { ...process.env, ...pcscd.env, SSMAX_APDU_TIMEOUT_MS: '60000' } }),
      async (req) => {
        prompts.push(req);
        return answer;
      },
      { requestTimeoutMs: 4_000 },
    );
    await client.start();
  });
  afterAll(async () => {
    client?.stop();
    await card?.stop();
    await pcscd?.stop();
    await wd?.remove();
    if (dir) await disposeWorkDir('card-service', dir);
  });

  it('reports insertion across the process boundary and signs mail that OpenSSL verifies', async () => {
    const inserted = new Promise<string>((resolve) => client.once('insert', resolve));
    card = await startVirtualCard(pcscd, { stateFile });
    expect(await inserted).toBe(pcscd.readerName);
    const signer = await client.openSigner();
    expect(signer.algorithm.name).toBe('ECDSA');
    const t0 = performance.now();
    const cms = await signData({ content: MIME, signers: [signer], detached: true });
    const total = performance.now() - t0;
    expect(prompts).toHaveLength(1);
    console.log(
      `[card-service] signature through the service: ${signer.lastStats?.apdus} APDUs, service host ${signer.lastStats?.hostMs.toFixed(1)} ms, app-side total ${total.toFixed(1)} ms (incl. IPC, excl. PIN entry)`,
    );
    await wd.file('sig.p7s', cms);
    await wd.file('mail.eml', MIME);
    const v = await opensslCmsVerify(wd, {
      signature: 'sig.p7s',
      content: 'mail.eml',
      caFile: 'anchors.pem',
    });
    expect(v.stderr).toContain('Verification successful');
  });

  it('opens mail enveloped to 9D through the service with the cached PIN', async () => {
    const decryptor = await client.openDecryptor();
    const opened = await decryptContent(encryptContent({ content: MIME, recipients: [kmCert] }), decryptor);
    expect(Buffer.from(opened.content)).toEqual(MIME);
    expect(prompts).toHaveLength(1);
  });

  it('brings a wrong PIN back as a typed WrongPinError with the tries left', async () => {
    await client.clearPin();
    answer = '000000';
    const signer = await client.openSigner();
    const err = await signer
      .sign({ digest: new Uint8Array(32), data: new Uint8Array() })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WrongPinError);
    expect((err as WrongPinError).triesLeft).toBe(2);
    answer = '123456';
  });

  it('restarts a service stuck on a silent card and answers with a timeout, never a hang', async () => {
    await card?.stop();
    card = await startVirtualCard(pcscd, { stateFile, silentIns: 0x87 });
    await new Promise((r) => setTimeout(r, 500));
    const restarted = new Promise<void>((resolve) => client.once('restarted', () => resolve()));
    const signer = await client.openSigner();
    const t0 = performance.now();
    const err = (await signer
      .sign({ digest: new Uint8Array(32), data: new Uint8Array() })
      .catch((e: unknown) => e)) as { code?: number };
    expect(err.code).toBe(CardErrorCode.CARD_TIMEOUT);
    await restarted;
    console.log(
      `[card-service] silent card: timeout after ${(performance.now() - t0).toFixed(0)} ms, service restarted`,
    );
    // Pull the silent card, insert a working one: the fresh service signs.
    await card.yank();
    card = await startVirtualCard(pcscd, { stateFile });
    const again = await client.openSigner();
    const sig = await again.sign({ digest: new Uint8Array(32), data: new Uint8Array() });
    expect(sig[0]).toBe(0x30);
  });
});
