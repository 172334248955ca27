import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  issueEmployeeKeyManagementCert,
  issueEmployeeSignatureCert,
  type CertificateAuthority,
} from '../../../smime/pki';
import { x509 } from '../../../smime/x509';
import type { CardWatcher } from '../../../native/pcsc/card-watcher';
import { ManagementKeyError, WrongPinError } from '../../../native/piv/errors';
import {
  generateKeyWithCsr,
  importCertificate,
  initialiseCard,
  readOrgCa,
  writeOrgCa,
} from '../../../native/piv/enrollment';
import { PivSession, PivSlot } from '../../../native/piv/piv-session';
import { DEFAULT_MGMT_KEY } from '../../../native/virtual-card/state';
import { startPcscd, type PcscdHandle } from '../../harness/pcsc';
import type { VirtualCardHandle } from '../../harness/virtual-card';
import { openssl, workdir, type Workdir } from '../../support/openssl';
import {
  buildOrgCa,
  opensslVerifyWithCertKey,
  pkcs11SignArgs,
  startWatchedCard,
} from '../../support/card-test-setup';
import { pem, validity } from '../../support/ssmax-pki';

/**
 * A factory-fresh card taken through enrollment by our code (own PIN, PUK, AES-256 management
 * key, on-card keys, card-signed CSRs, certificates and org CA) and then used by OpenSC, i.e. by
 * Thunderbird/Firefox through opensc-pkcs11.so.
 */
const execp = promisify(execFile);
const PKCS11 = '/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so';
const DOMAIN = 'enrol.example.jp';
const NEW_PIN = '24681357';
const NEW_PUK = '97531864';

describe('enrollment by our code, use by OpenSC', () => {
  let pcscd: PcscdHandle;
  let card: VirtualCardHandle;
  let watcher: CardWatcher;
  let wd: Workdir;
  let orgCa: CertificateAuthority;
  const mgmt = randomBytes(32);

  beforeAll(async () => {
    pcscd = await startPcscd();
    process.env.PCSCLITE_CSOCK_NAME = pcscd.env.PCSCLITE_CSOCK_NAME;
    ({ card, watcher } = await startWatchedCard(pcscd));
    wd = await workdir('ssmax-enrol-');
    ({ orgCa } = await buildOrgCa('Enrol Corp', DOMAIN));
  });
  afterAll(async () => {
    watcher?.stop();
    await card?.stop();
    await pcscd?.stop();
    await wd?.remove();
  });

  it('initialises PIN, PUK and an AES-256 management key; the factory values stop working', async () => {
    await watcher.transaction(async (channel) => {
      const piv = new PivSession(channel);
      await initialiseCard(piv, {
        currentPin: '123456',
        currentPuk: '12345678',
        currentManagementKey: Buffer.from(DEFAULT_MGMT_KEY, 'hex'),
        newPin: NEW_PIN,
        newPuk: NEW_PUK,
        newManagementKey: { algorithm: 'aes256', key: mgmt },
      });
      expect(await piv.managementKeyAlgorithm()).toBe('aes256');
      await expect(piv.authenticateManagementKey(randomBytes(32))).rejects.toBeInstanceOf(ManagementKeyError);
      await expect(piv.verifyPin('123456')).rejects.toBeInstanceOf(WrongPinError);
      await piv.verifyPin(NEW_PIN);
    });
  });

  it('generates 9C (P-256) and 9D (RSA-2048) with card-signed CSRs that OpenSSL verifies, writes certificates and the org CA', async () => {
    const emp = {
      orgName: 'Enrol Corp',
      personName: 'Jiro Enrol',
      staffId: 'S-0099',
      email: `jiro@${DOMAIN}`,
      crlUrl: `https://ssmax.${DOMAIN}/crl`,
      ...validity,
    };
    for (const { slot, algorithm, issue } of [
      { slot: PivSlot.SIGNATURE, algorithm: 'p256' as const, issue: issueEmployeeSignatureCert },
      { slot: PivSlot.KEY_MANAGEMENT, algorithm: 'rsa2048' as const, issue: issueEmployeeKeyManagementCert },
    ]) {
      const { csr } = await watcher.transaction((channel) =>
        generateKeyWithCsr(new PivSession(channel), {
          slot,
          algorithm,
          subject: 'CN=Jiro Enrol, O=Enrol Corp',
          pin: NEW_PIN,
          managementKey: mgmt,
        }),
      );
      await wd.file(`req${slot}.der`, csr);
      const check = await openssl([
        'req',
        '-verify',
        '-inform',
        'DER',
        '-in',
        wd.path(`req${slot}.der`),
        '-noout',
      ]);
      expect(check.stderr + check.stdout.toString()).toMatch(
        /verify OK|Certificate request self-signature verify OK/,
      );
      const request = new x509.Pkcs10CertificateRequest(csr);
      const cert = await issue(orgCa, { ...emp, publicKey: new Uint8Array(request.publicKey.rawData) });
      await watcher.transaction((channel) =>
        importCertificate(new PivSession(channel), slot, new Uint8Array(cert.rawData), mgmt),
      );
      if (slot === PivSlot.SIGNATURE) await wd.file('cert9c.pem', pem(cert.rawData));
    }
    await watcher.transaction((channel) =>
      writeOrgCa(new PivSession(channel), new Uint8Array(orgCa.certificate.rawData), mgmt),
    );
    const back = await watcher.transaction((channel) => readOrgCa(new PivSession(channel)));
    expect(Buffer.from(back ?? [])).toEqual(Buffer.from(orgCa.certificate.rawData));
  });

  it('OpenSC (pkcs11-tool) logs in with the new PIN and signs with 9C; OpenSSL verifies; yubico-piv-tool reads the org CA', async () => {
    const env = { ...process.env, ...pcscd.env };
    const objects = await execp('pkcs11-tool', ['--module', PKCS11, '-O'], { env });
    expect(objects.stdout).toContain('CN=Jiro Enrol');
    // OpenSC lists retired-slot certificates only as the Key History object says; the org CA is not
    // a user key, so it is read by slot instead.
    const orgCaPem = await execp(
      'yubico-piv-tool',
      ['-r', 'Virtual PCD', '-a', 'read-certificate', '-s', '95'],
      { env },
    );
    expect(orgCaPem.stdout.replace(/\s+/g, '')).toContain(pem(orgCa.certificate.rawData).replace(/\s+/g, ''));
    await wd.file('data.txt', 'enrolled card, OpenSC signature\n');
    await execp(
      'pkcs11-tool',
      pkcs11SignArgs(PKCS11, {
        pin: NEW_PIN,
        id: '02',
        mechanism: 'ECDSA-SHA256',
        opensslFormat: true,
        input: wd.path('data.txt'),
        output: wd.path('sig.der'),
      }),
      { env },
    );
    const ok = await opensslVerifyWithCertKey(wd, {
      certFile: 'cert9c.pem',
      pubFile: 'pub.pem',
      signatureFile: 'sig.der',
      dataFile: 'data.txt',
    });
    expect(ok.stdout.toString()).toContain('Verified OK');
    const wrong = await execp(
      'pkcs11-tool',
      pkcs11SignArgs(PKCS11, {
        pin: '123456',
        id: '02',
        mechanism: 'ECDSA-SHA256',
        opensslFormat: false,
        input: wd.path('data.txt'),
        output: wd.path('sig2.der'),
      }),
      { env },
    ).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(Error);
  });
});
