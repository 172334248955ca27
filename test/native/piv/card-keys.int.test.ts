import { execFile } from 'node:child_process';
import { X509Certificate, createPublicKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decryptContent, encryptContent, signData } from '../../../smime/cms';
import type { CertificateAuthority } from '../../../smime/pki';
import type { CardWatcher } from '../../../native/pcsc/card-watcher';
import { CardErrorCode } from '../../../native/pcsc/errors';
import {
  CardSigner,
  openCardDecryptor,
  type PinPrompt,
  type PinRequest,
} from '../../../native/piv/card-keys';
import { PinEntryCancelledError, WrongPinError } from '../../../native/piv/errors';
import { PinCache } from '../../../native/piv/pin-cache';
import { PivSession, type PivKeyAlgorithm } from '../../../native/piv/piv-session';
import { startPcscd, type PcscdHandle } from '../../harness/pcsc';
import { startVirtualCard, type VirtualCardHandle } from '../../harness/virtual-card';
import { openssl, workdir, type Workdir } from '../../support/openssl';
import { buildOrgCa, opensslCmsVerify, startWatchedCard } from '../../support/card-test-setup';
import { pem } from '../../support/ssmax-pki';
import { enrollPivSession } from '../../support/virtual-card-enroll';

/**
 * The card Signer and Decryptor through real pcscd + vpcd + the virtual card, judged by OpenSSL:
 * a CMS signature made on the card verifies with `openssl cms -verify` to the SSMAX root, and
 * OpenSSL-made RSA / ECDH key transport opens through the card's 9D key.
 */
const DOMAIN = 'card.example.jp';
const MIME = Buffer.from(
  'Content-Type: text/plain; charset=utf-8\r\n\r\n社員証で署名したメール / mail signed with the staff card\r\n',
);

// One private pcscd for the file: libpcsclite reads PCSCLITE_CSOCK_NAME once per process.
let pcscd: PcscdHandle;
beforeAll(async () => {
  pcscd = await startPcscd();
  process.env.PCSCLITE_CSOCK_NAME = pcscd.env.PCSCLITE_CSOCK_NAME;
});
afterAll(async () => {
  await pcscd?.stop();
});

describe.each<PivKeyAlgorithm>(['p256', 'rsa2048'])('card keys (%s) through pcscd', (alg) => {
  let card: VirtualCardHandle;
  let watcher: CardWatcher;
  let root: CertificateAuthority;
  let orgCa: CertificateAuthority;
  let wd: Workdir;
  let sigCert: Uint8Array;
  let kmCert: Uint8Array;
  const prompts: PinRequest[] = [];
  let answer: string | null = '123456';
  const pinPrompt: PinPrompt = async (req) => {
    prompts.push(req);
    return answer;
  };

  beforeAll(async () => {
    ({ card, watcher } = await startWatchedCard(pcscd));
    wd = await workdir('ssmax-card-keys-');
    ({ root, orgCa } = await buildOrgCa('Card Corp', DOMAIN));

    // Enrolment as IT would do it: management key, on-card keys, certificates from the org CA.
    ({ signatureCert: sigCert, keyManagementCert: kmCert } = await watcher.transaction((channel) =>
      enrollPivSession(
        new PivSession(channel),
        orgCa,
        { orgName: 'Card Corp', name: 'Taro Card', staffId: 'S-0007', email: `taro@${DOMAIN}` },
        alg,
      ),
    ));
    await wd.file('anchors.pem', pem(root.certificate.rawData) + pem(orgCa.certificate.rawData));
  });

  afterAll(async () => {
    watcher?.stop();
    await card?.stop();
    await wd?.remove();
  });

  it('signs a MIME entity on the card (9C); openssl cms -verify accepts it to the SSMAX root; one prompt per action', async () => {
    const cache = new PinCache();
    cache.clearOnRemoval(watcher);
    prompts.length = 0;
    answer = '123456';
    const signer = await CardSigner.open({ watcher, pinPrompt, pinCache: cache });
    expect(Buffer.from(signer.certificate)).toEqual(Buffer.from(sigCert));
    const cms = await signData({
      content: MIME,
      signers: [signer],
      detached: true,
      certificates: [new Uint8Array(orgCa.certificate.rawData)],
    });
    const first = signer.lastStats;
    // A second signature in the same action: PIN policy "always" needs VERIFY again, the cache spares the prompt.
    const cms2 = await signData({ content: MIME, signers: [signer], detached: true });
    expect(prompts).toHaveLength(1);
    expect(prompts[0]).toMatchObject({ purpose: 'sign', triesLeft: 3 });
    console.log(
      `[card ${alg}] signature: ${signer.lastStats?.apdus} APDUs, host ${signer.lastStats?.hostMs.toFixed(1)} ms, wire+card ${signer.lastStats?.transmitMs.toFixed(1)} ms` +
        ` (first, with PIN status probe: ${first?.apdus} APDUs, host ${first?.hostMs.toFixed(1)} ms)`,
    );

    for (const [i, der] of [cms, cms2].entries()) {
      await wd.file(`sig${i}.p7s`, der);
      await wd.file('content.eml', MIME);
      const ok = await opensslCmsVerify(wd, {
        signature: `sig${i}.p7s`,
        content: 'content.eml',
        caFile: 'anchors.pem',
        out: 'out.eml',
      });
      expect(ok.stderr).toContain('Verification successful');
    }
    // Tampered content must fail: the check above is able to fail.
    await wd.file('tampered.eml', Buffer.concat([MIME, Buffer.from('x')]));
    const bad = await opensslCmsVerify(wd, {
      signature: 'sig0.p7s',
      content: 'tampered.eml',
      caFile: 'anchors.pem',
    });
    expect(bad.code).not.toBe(0);
  });

  it.runIf(alg === 'rsa2048')('signs with RSA-PSS padded on the host; OpenSSL verifies', async () => {
    answer = '123456';
    const signer = await CardSigner.open({ watcher, pinPrompt, pinCache: new PinCache(), rsaScheme: 'pss' });
    expect(signer.algorithm).toMatchObject({ name: 'RSA-PSS', saltLength: 32 });
    const cms = await signData({ content: MIME, signers: [signer], detached: true });
    await wd.file('pss.p7s', cms);
    await wd.file('content.eml', MIME);
    const ok = await opensslCmsVerify(wd, {
      signature: 'pss.p7s',
      content: 'content.eml',
      caFile: 'anchors.pem',
    });
    expect(ok.stderr).toContain('Verification successful');
    const info = await openssl(['cms', '-cmsout', '-print', '-inform', 'DER', '-in', wd.path('pss.p7s')]);
    expect(info.stdout.toString()).toContain('rsassaPss');
  });

  it.runIf(alg === 'p256')(
    'keeps working when another program uses and resets the card in between',
    async () => {
      const cache = new PinCache();
      answer = '123456';
      prompts.length = 0;
      const signer = await CardSigner.open({ watcher, pinPrompt, pinCache: cache });
      await signer.sign({ digest: new Uint8Array(32), data: new Uint8Array() });
      // Another PC/SC client (as Thunderbird through OpenSC would be) selects, reads and resets.
      const other = await new Promise<{ code: number; out: string }>((resolve) =>
        execFile(
          'yubico-piv-tool',
          ['-r', 'Virtual PCD', '-a', 'status'],
          { env: { ...process.env, ...pcscd.env } },
          (err, stdout) => resolve({ code: err ? 1 : 0, out: stdout }),
        ),
      );
      expect(other.code).toBe(0);
      expect(other.out).toContain('Slot 9c');
      const sig = await signer.sign({ digest: new Uint8Array(32), data: new Uint8Array() });
      expect(sig[0]).toBe(0x30);
      expect(prompts).toHaveLength(1);
    },
  );

  it('decrypts through the card (9D): OpenSSL-made RSA key transport or ECDH agreement', async () => {
    const cache = new PinCache();
    answer = '123456';
    prompts.length = 0;
    const decryptor = await openCardDecryptor({ watcher, pinPrompt, pinCache: cache });
    expect(decryptor.kind).toBe(alg === 'rsa2048' ? 'rsa' : 'ecdh');
    await wd.file('km.pem', pem(kmCert));
    await wd.file('secret.bin', Buffer.from('0123456789abcdef0123456789abcdef'));
    if (decryptor.kind === 'rsa') {
      const enc = await openssl([
        'pkeyutl',
        '-encrypt',
        '-certin',
        '-inkey',
        wd.path('km.pem'),
        '-in',
        wd.path('secret.bin'),
      ]);
      expect(enc.code).toBe(0);
      const block = Buffer.from(await decryptor.rsaRawDecrypt(new Uint8Array(enc.stdout)));
      // EME-PKCS1-v1_5: 00 02 PS 00 M
      expect(block.subarray(0, 2)).toEqual(Buffer.from([0, 2]));
      expect(block.subarray(block.indexOf(0, 2) + 1).toString()).toBe('0123456789abcdef0123456789abcdef');
    } else {
      await openssl([
        'genpkey',
        '-algorithm',
        'EC',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-out',
        wd.path('eph.key'),
      ]);
      await wd.file(
        'km-pub.pem',
        new X509Certificate(kmCert).publicKey.export({ type: 'spki', format: 'pem' }) as string,
      );
      const z = await openssl([
        'pkeyutl',
        '-derive',
        '-inkey',
        wd.path('eph.key'),
        '-peerkey',
        wd.path('km-pub.pem'),
      ]);
      expect(z.code).toBe(0);
      const ephPub = await openssl(['pkey', '-in', wd.path('eph.key'), '-pubout', '-outform', 'DER']);
      const jwk = createPublicKey({ key: ephPub.stdout, format: 'der', type: 'spki' }).export({
        format: 'jwk',
      });
      const point = Buffer.concat([
        Buffer.of(4),
        Buffer.from(jwk.x as string, 'base64url'),
        Buffer.from(jwk.y as string, 'base64url'),
      ]);
      expect(Buffer.from(await decryptor.ecdh(point))).toEqual(z.stdout);
    }
    expect(prompts).toHaveLength(1);
    console.log(
      `[card ${alg}] decryption: ${decryptor.lastStats?.apdus} APDUs, host ${decryptor.lastStats?.hostMs.toFixed(1)} ms, wire+card ${decryptor.lastStats?.transmitMs.toFixed(1)} ms`,
    );
  });

  it('opens mail enveloped to the card 9D certificate (by our core and by OpenSSL) through the card', async () => {
    const cache = new PinCache();
    answer = '123456';
    prompts.length = 0;
    const decryptor = await openCardDecryptor({ watcher, pinPrompt, pinCache: cache });
    const ours = encryptContent({ content: MIME, recipients: [kmCert] });
    const opened = await decryptContent(ours, decryptor);
    expect(Buffer.from(opened.content)).toEqual(MIME);
    expect(opened.keyTransport).toBe(alg === 'rsa2048' ? 'rsa-oaep' : 'ecdh');

    await wd.file('km.pem', pem(kmCert));
    await wd.file('mail.eml', MIME);
    const args =
      alg === 'rsa2048'
        ? ['-aes-256-gcm', '-keyopt', 'rsa_padding_mode:oaep', '-keyopt', 'rsa_oaep_md:sha256']
        : ['-aes-256-gcm', '-keyopt', 'ecdh_kdf_md:sha256'];
    const enc = await openssl([
      'cms',
      '-encrypt',
      '-binary',
      '-outform',
      'DER',
      '-in',
      wd.path('mail.eml'),
      '-recip',
      wd.path('km.pem'),
      ...args,
    ]);
    expect(enc.code).toBe(0);
    const theirs = await decryptContent(new Uint8Array(enc.stdout), decryptor);
    expect(Buffer.from(theirs.content)).toEqual(MIME);
    // One prompt for the whole action (two decryptions), the cached PIN for the second.
    expect(prompts).toHaveLength(1);
    console.log(
      `[card ${alg}] envelope opened through the card: ${decryptor.lastStats?.apdus} APDUs, host ${decryptor.lastStats?.hostMs.toFixed(1)} ms`,
    );
  });

  it('reports a wrong PIN with the tries left, asks once (never retries), and forgets it; cancel is its own error', async () => {
    const cache = new PinCache();
    const signer = await CardSigner.open({ watcher, pinPrompt, pinCache: cache });
    prompts.length = 0;
    answer = '999999';
    const err = await signer
      .sign({ digest: new Uint8Array(32), data: new Uint8Array() })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WrongPinError);
    expect((err as WrongPinError).userMessage).toBe('Wrong PIN, 2 tries left.');
    expect(prompts).toHaveLength(1);
    expect(cache.size).toBe(0);
    answer = null;
    await expect(signer.sign({ digest: new Uint8Array(32), data: new Uint8Array() })).rejects.toBeInstanceOf(
      PinEntryCancelledError,
    );
    expect(prompts.at(-1)?.triesLeft).toBe(2);
    // A right PIN resets the counter.
    answer = '123456';
    await signer.sign({ digest: new Uint8Array(32), data: new Uint8Array() });
    expect(cache.size).toBe(1);
  });

  it('forgets the PIN when the card is removed, and a removed card is a typed error', async () => {
    const cache = new PinCache();
    cache.clearOnRemoval(watcher);
    answer = '123456';
    const signer = await CardSigner.open({ watcher, pinPrompt, pinCache: cache });
    await signer.sign({ digest: new Uint8Array(32), data: new Uint8Array() });
    expect(cache.size).toBe(1);
    const removed = new Promise((r) => watcher.once('remove', r));
    await card.stop({ keepDir: true });
    await removed;
    expect(cache.size).toBe(0);
    await expect(signer.sign({ digest: new Uint8Array(32), data: new Uint8Array() })).rejects.toMatchObject({
      code: CardErrorCode.CARD_ABSENT,
    });
    card = await startVirtualCard(pcscd, { stateFile: card.stateFile });
  });
});
