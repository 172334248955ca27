import { createECDH, createHash, publicEncrypt, constants, randomBytes, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encodeEmsaPkcs1v15 } from '../../../smime/keys';
import { CardErrorCode } from '../../../native/pcsc/errors';
import {
  ManagementKeyError,
  PinBlockedError,
  WrongPinError,
  WrongPukError,
} from '../../../native/piv/errors';
import { PivSession, PivSlot } from '../../../native/piv/piv-session';
import { VirtualPivCard } from '../../../native/virtual-card/piv-card';
import { DEFAULT_MGMT_KEY } from '../../../native/virtual-card/state';

// The PIV client against the virtual card's APDU engine in-process (no pcscd): the protocol logic
// of both sides, fast. The same pair runs through real pcscd + vpcd in the integration tests.
function fresh(): { card: VirtualPivCard; piv: PivSession } {
  const card = new VirtualPivCard(undefined);
  card.control('power-on');
  return { card, piv: new PivSession(card) };
}
const mgmt = Buffer.from(DEFAULT_MGMT_KEY, 'hex');

describe('PivSession against the virtual PIV card', () => {
  it('reports PIN tries with the status probe, counts down, blocks, and unblocks with the PUK', async () => {
    const { piv } = fresh();
    await piv.select();
    expect(await piv.pinStatus()).toEqual({ verified: false, triesLeft: 3, blocked: false });
    await expect(piv.verifyPin('000000')).rejects.toMatchObject({
      triesLeft: 2,
      code: CardErrorCode.PIN_WRONG,
      userMessage: 'Wrong PIN, 2 tries left.',
    });
    await expect(piv.verifyPin('000000')).rejects.toBeInstanceOf(WrongPinError);
    await expect(piv.verifyPin('000000')).rejects.toBeInstanceOf(PinBlockedError);
    expect(await piv.pinStatus()).toMatchObject({ blocked: true, triesLeft: 0 });
    await expect(piv.verifyPin('123456')).rejects.toBeInstanceOf(PinBlockedError);
    await expect(piv.unblockPin('87654321', '111111')).rejects.toMatchObject({ triesLeft: 2 });
    await expect(piv.unblockPin('87654321', '111111')).rejects.toBeInstanceOf(WrongPukError);
    await piv.unblockPin('12345678', '111111');
    await piv.verifyPin('111111');
    expect(await piv.pinStatus()).toMatchObject({ verified: true });
  });

  it('changes PIN and PUK, and a reset drops the PIN status', async () => {
    const { card, piv } = fresh();
    await piv.select();
    await piv.changePin('123456', '24681357');
    await expect(piv.verifyPin('123456')).rejects.toBeInstanceOf(WrongPinError);
    await piv.verifyPin('24681357');
    await piv.changePuk('12345678', '87654321');
    card.control('reset');
    await piv.select();
    expect((await piv.pinStatus()).verified).toBe(false);
  });

  it('authenticates the management key with 3DES, switches to AES-256, and rejects a wrong key', async () => {
    const { piv } = fresh();
    await piv.select();
    expect(await piv.managementKeyAlgorithm()).toBe('3des');
    await piv.authenticateManagementKey(mgmt);
    const aes = randomBytes(32);
    await piv.setManagementKey('aes256', aes);
    expect(await piv.managementKeyAlgorithm()).toBe('aes256');
    await piv.authenticateManagementKey(aes);
    await expect(piv.authenticateManagementKey(randomBytes(32))).rejects.toBeInstanceOf(ManagementKeyError);
    await expect(piv.authenticateManagementKey(mgmt, '3des')).rejects.toMatchObject({
      code: CardErrorCode.CARD_STATUS,
    });
  });

  it('refuses GENERATE and PUT DATA without the management key', async () => {
    const { piv } = fresh();
    await piv.select();
    await expect(piv.generateKey(PivSlot.SIGNATURE, 'p256')).rejects.toMatchObject({
      code: CardErrorCode.SECURITY_STATUS,
    });
    await expect(piv.writeCertificate(PivSlot.SIGNATURE, new Uint8Array(10))).rejects.toMatchObject({
      code: CardErrorCode.SECURITY_STATUS,
    });
  });

  it('generates RSA-2048 (61xx answer), signs a chained 256-byte block, and needs the PIN before each 9C use', async () => {
    const { piv } = fresh();
    await piv.select();
    await piv.authenticateManagementKey(mgmt);
    const pub = await piv.generateKey(PivSlot.SIGNATURE, 'rsa2048');
    expect(pub.asymmetricKeyDetails?.modulusLength).toBe(2048);
    const msg = Buffer.from('signed by the card');
    const block = encodeEmsaPkcs1v15('SHA-256', createHash('sha256').update(msg).digest(), 256);
    await expect(piv.rsaRaw(PivSlot.SIGNATURE, block)).rejects.toMatchObject({
      code: CardErrorCode.SECURITY_STATUS,
    });
    await piv.verifyPin('123456');
    const before = piv.stats.apdus;
    const sig = await piv.rsaRaw(PivSlot.SIGNATURE, block);
    // 266-byte command: one chained link + the final part; 264-byte answer: 256 + GET RESPONSE.
    expect(piv.stats.apdus - before).toBe(3);
    expect(verify('sha256', msg, { key: pub, padding: constants.RSA_PKCS1_PADDING }, sig)).toBe(true);
    // Policy "always": the PIN was used up by that signature.
    await expect(piv.rsaRaw(PivSlot.SIGNATURE, block)).rejects.toMatchObject({
      code: CardErrorCode.SECURITY_STATUS,
    });
  });

  it('decrypts RSA in 9D and does ECDH on P-256 in 9D, matching node:crypto', async () => {
    const { piv } = fresh();
    await piv.select();
    await piv.authenticateManagementKey(mgmt);
    const rsa = await piv.generateKey(PivSlot.KEY_MANAGEMENT, 'rsa2048');
    await piv.verifyPin('123456');
    const secret = randomBytes(32);
    const encrypted = publicEncrypt(
      { key: rsa, padding: constants.RSA_NO_PADDING },
      Buffer.concat([Buffer.alloc(224), secret]),
    );
    const plain = await piv.rsaRaw(PivSlot.KEY_MANAGEMENT, encrypted);
    expect(Buffer.from(plain).subarray(224)).toEqual(secret);

    const ec = await piv.generateKey(PivSlot.KEY_MANAGEMENT, 'p256');
    const peer = createECDH('prime256v1');
    peer.generateKeys();
    const z = await piv.ecdh(PivSlot.KEY_MANAGEMENT, peer.getPublicKey());
    const jwk = ec.export({ format: 'jwk' });
    const cardPoint = Buffer.concat([
      Buffer.of(4),
      Buffer.from(jwk.x as string, 'base64url'),
      Buffer.from(jwk.y as string, 'base64url'),
    ]);
    expect(Buffer.from(z)).toEqual(peer.computeSecret(cardPoint));
    await expect(
      piv.ecdh(PivSlot.KEY_MANAGEMENT, Buffer.concat([Buffer.of(4), randomBytes(64)])),
    ).rejects.toMatchObject({ code: CardErrorCode.CARD_STATUS });
  });

  it('signs ECDSA P-256 in 9C', async () => {
    const { piv } = fresh();
    await piv.select();
    await piv.authenticateManagementKey(mgmt);
    const pub = await piv.generateKey(PivSlot.SIGNATURE, 'p256');
    await piv.verifyPin('123456');
    const msg = Buffer.from('ecdsa on the card');
    const sig = await piv.ecdsaSign(PivSlot.SIGNATURE, createHash('sha256').update(msg).digest());
    expect(verify('sha256', msg, pub, sig)).toBe(true);
  });

  it('writes and reads back a certificate object longer than one response (GET RESPONSE)', async () => {
    const { piv } = fresh();
    await piv.select();
    await piv.authenticateManagementKey(mgmt);
    const der = randomBytes(900);
    await piv.writeCertificate(PivSlot.SIGNATURE, der);
    const before = piv.stats.apdus;
    expect(Buffer.from((await piv.readCertificate(PivSlot.SIGNATURE)) ?? [])).toEqual(der);
    expect(piv.stats.apdus - before).toBeGreaterThan(3);
    expect(await piv.readCertificate(PivSlot.KEY_MANAGEMENT)).toBeUndefined();
    expect(await piv.cardGuid()).toMatch(/^[0-9a-f]{32}$/);
  });
});
