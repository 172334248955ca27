import * as pkcs11js from 'pkcs11js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pkcs11OrgKeyStore, TokenUnavailableError } from '../../../org-node/keys/pkcs11-store';
import { WrongSecretError } from '../../../org-node/keys/store';
import type { CertificateAuthority } from '../../../smime/pki';
import { initSoftHsmToken, type SoftHsmHandle } from '../../harness/softhsm';
import { x509 } from '../../../smime/x509';
import { buildRoot } from '../../support/ssmax-pki';
import { checkStoreRoundTrip } from './key-store-checks';

let token: SoftHsmHandle;
let root: CertificateAuthority;

beforeAll(async () => {
  token = await initSoftHsmToken({ label: 'ssmax-org-keys' });
  // The module reads SOFTHSM2_CONF when it is loaded: set it before the first store opens.
  process.env.SOFTHSM2_CONF = token.env.SOFTHSM2_CONF;
  root = await buildRoot('P-256');
});
afterAll(async () => {
  await token?.stop();
});

const open = (pin = token.pin, tokenLabel = token.label) => Pkcs11OrgKeyStore.open({ modulePath: token.modulePath, tokenLabel, pin });

describe('Pkcs11OrgKeyStore on SoftHSM2', () => {
  it('generates P-256 keys on the token that issue, sign and decrypt (ECDH) there', async () => {
    const store = await open();
    try {
      await checkStoreRoundTrip(store, root, 'P-256');
    } finally {
      await store.close();
    }
  });

  it('generates RSA-2048 keys that sign and do raw RSA decryption on the token', async () => {
    const store = await open();
    try {
      await checkStoreRoundTrip(store, root, 'RSA-2048');
    } finally {
      await store.close();
    }
  });

  it('keeps private keys sensitive and non-extractable, and lists them after reopening', async () => {
    const store = await open();
    const key = await store.generate('encryption', 'P-256');
    await store.close();
    const again = await open();
    expect((await again.list()).some((k) => k.id === key.id && k.purpose === 'encryption')).toBe(true);
    await again.close();

    // Look at the object with a plain PKCS#11 session, as an auditor would.
    const lib = new pkcs11js.PKCS11();
    lib.load(token.modulePath);
    lib.C_Initialize();
    try {
      const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trim() === token.label)!;
      const session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION);
      lib.C_Login(session, pkcs11js.CKU_USER, token.pin);
      lib.C_FindObjectsInit(session, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
        { type: pkcs11js.CKA_ID, value: Buffer.from(key.id, 'hex') },
      ]);
      const [handle] = lib.C_FindObjects(session, 1);
      lib.C_FindObjectsFinal(session);
      expect(handle).toBeDefined();
      const [sensitive, extractable] = lib.C_GetAttributeValue(session, handle!, [{ type: pkcs11js.CKA_SENSITIVE }, { type: pkcs11js.CKA_EXTRACTABLE }]);
      expect((sensitive!.value as Buffer)[0]).toBe(1);
      expect((extractable!.value as Buffer)[0]).toBe(0);
      expect(() => lib.C_GetAttributeValue(session, handle!, [{ type: pkcs11js.CKA_VALUE }])).toThrow(/CKR_ATTRIBUTE_SENSITIVE/);
      lib.C_CloseSession(session);
    } finally {
      lib.C_Finalize();
      lib.close();
    }
  });

  it('gives a clear error for a wrong PIN', async () => {
    const failure = await open('000000').catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(WrongSecretError);
    expect((failure as WrongSecretError).userMessage).toBe('The PIN of token "ssmax-org-keys" is wrong.');
  });

  it('gives a clear error for a missing token and a missing module', async () => {
    const missing = await open(token.pin, 'no-such-token').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(TokenUnavailableError);
    expect((missing as TokenUnavailableError).userMessage).toMatch(/No PKCS#11 token labelled "no-such-token"/);
    const noModule = await Pkcs11OrgKeyStore.open({ modulePath: '/nonexistent/libpkcs11.so', tokenLabel: 'x', pin: '1' }).catch((e: unknown) => e);
    expect(noModule).toBeInstanceOf(TokenUnavailableError);
    expect((noModule as TokenUnavailableError).userMessage).toMatch(/Cannot load the PKCS#11 module/);
  });
});

describe('Pkcs11OrgKeyStore under concurrent use', () => {
  it('serialises operations on its session: 20 parallel token signatures all verify', async () => {
    const store = await open();
    try {
      const ca = await store.generate('ca', 'RSA-2048');
      const key = await store.issuingKey(ca.id);
      // The token-backed key signs through @peculiar/x509's crypto provider, as the PKI builders use it.
      const subtle = x509.cryptoProvider.get().subtle;
      const data = new TextEncoder().encode('to be signed by the org CA');
      const signatures = await Promise.all(Array.from({ length: 20 }, () => subtle.sign({ name: 'RSASSA-PKCS1-v1_5' }, key, data)));
      const publicKey = await crypto.subtle.importKey('spki', ca.spki, { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['verify']);
      for (const signature of signatures) expect(await crypto.subtle.verify({ name: 'RSASSA-PKCS1-v1_5' }, publicKey, signature, data)).toBe(true);
    } finally {
      await store.close();
    }
  });
});
