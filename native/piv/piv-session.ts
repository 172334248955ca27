import {
  X509Certificate,
  createCipheriv,
  createDecipheriv,
  createPublicKey,
  randomBytes,
  timingSafeEqual,
  type KeyObject,
} from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { sendCommand, type ApduTransport, type CommandApdu, type TransportStats } from '../pcsc/apdu';
import { BadCardResponseError } from '../pcsc/errors';
import {
  CardStatusError,
  ManagementKeyError,
  PinBlockedError,
  PinFormatError,
  PukBlockedError,
  WrongPinError,
  WrongPukError,
} from './errors';
import { concat, findTlv, parseTlvs, tlv, TlvError } from './tlv';

/**
 * The PIV card application (NIST SP 800-73-4 Part 2) over any APDU transport, plus the YubiKey
 * extensions enrollment needs (management key metadata and change, PIN policy on GENERATE).
 * One PivSession lives inside one card transaction. It never retries a PIN: a wrong PIN is an
 * error with the tries left, and the caller asks the user again (or not).
 */
export const PIV_AID = Uint8Array.from([0xa0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00]);

export const PivSlot = {
  AUTHENTICATION: 0x9a,
  SIGNATURE: 0x9c,
  KEY_MANAGEMENT: 0x9d,
  CARD_AUTHENTICATION: 0x9e,
} as const;
export const RETIRED_SLOTS = Array.from({ length: 20 }, (_, i) => 0x82 + i);

/** Certificate data object of each key slot (SP 800-73-4 Part 1 Tables 3 and 4b). */
export function certificateObject(slot: number): number {
  switch (slot) {
    case 0x9a:
      return 0x5fc105;
    case 0x9c:
      return 0x5fc10a;
    case 0x9d:
      return 0x5fc10b;
    case 0x9e:
      return 0x5fc101;
    default:
      if (slot >= 0x82 && slot <= 0x95) return 0x5fc10d + (slot - 0x82);
      throw new RangeError(`no certificate object for slot ${slot.toString(16)}`);
  }
}

/**
 * Where SSMAX keeps the organisation's CA certificate on the card: the certificate object of
 * retired key-management slot 95 (5FC120), which holds no key. Any PIV middleware (OpenSC, so
 * Thunderbird) then lists the org CA next to the user's certificates without custom code.
 */
export const ORG_CA_SLOT = 0x95;
export const CHUID_OBJECT = 0x5fc102;

export type PivKeyAlgorithm = 'rsa2048' | 'p256';
const KEY_ALG_ID: Record<PivKeyAlgorithm, number> = { rsa2048: 0x07, p256: 0x11 };
export type PinPolicy = 'default' | 'never' | 'once' | 'always';
const PIN_POLICY_ID: Record<Exclude<PinPolicy, 'default'>, number> = { never: 1, once: 2, always: 3 };

export type ManagementKeyAlgorithm = '3des' | 'aes128' | 'aes192' | 'aes256';
const MGMT: Record<ManagementKeyAlgorithm, { id: number; keyLength: number; cipher: string; block: number }> =
  {
    '3des': { id: 0x03, keyLength: 24, cipher: 'des-ede3', block: 8 },
    aes128: { id: 0x08, keyLength: 16, cipher: 'aes-128-ecb', block: 16 },
    aes192: { id: 0x0a, keyLength: 24, cipher: 'aes-192-ecb', block: 16 },
    aes256: { id: 0x0c, keyLength: 32, cipher: 'aes-256-ecb', block: 16 },
  };

export interface PinStatus {
  verified: boolean;
  /** Tries left, from 63Cx; undefined when the PIN is verified (the card does not say then). */
  triesLeft: number | undefined;
  blocked: boolean;
}

/** Pads a PIN or PUK to the 8-byte PIV reference data format (FF filled). */
export function encodePin(pin: string, what: 'PIN' | 'PUK' = 'PIN'): Uint8Array {
  const bytes = Buffer.from(pin, 'utf8');
  if (bytes.length < 6 || bytes.length > 8) throw new PinFormatError(what);
  const out = new Uint8Array(8).fill(0xff);
  out.set(bytes);
  return out;
}

function ecb(alg: ManagementKeyAlgorithm, key: Uint8Array, encrypt: boolean, block: Uint8Array): Uint8Array {
  const c = encrypt
    ? createCipheriv(MGMT[alg].cipher, key, null)
    : createDecipheriv(MGMT[alg].cipher, key, null);
  c.setAutoPadding(false);
  return concat(c.update(block), c.final());
}

export class PivSession {
  readonly stats: TransportStats = { apdus: 0, transmitMs: 0 };

  constructor(private readonly transport: ApduTransport) {}

  /** Sends a command and returns its data; any status but 9000 becomes a CardStatusError. */
  private async run(cmd: CommandApdu, what: string): Promise<Uint8Array> {
    const res = await sendCommand(this.transport, cmd, this.stats);
    if (res.sw !== 0x9000) throw new CardStatusError(res.sw, what);
    return res.data;
  }

  async select(): Promise<void> {
    await this.run({ ins: 0xa4, p1: 0x04, p2: 0x00, data: PIV_AID, le: 256 }, 'SELECT PIV');
  }

  /** VERIFY without data (00 20 00 80): PIN status without using a try. */
  async pinStatus(): Promise<PinStatus> {
    const res = await sendCommand(this.transport, { ins: 0x20, p1: 0x00, p2: 0x80 }, this.stats);
    if (res.sw === 0x9000) return { verified: true, triesLeft: undefined, blocked: false };
    if ((res.sw & 0xfff0) === 0x63c0)
      return { verified: false, triesLeft: res.sw & 0x0f, blocked: (res.sw & 0x0f) === 0 };
    if (res.sw === 0x6983) return { verified: false, triesLeft: 0, blocked: true };
    throw new CardStatusError(res.sw, 'PIN status');
  }

  /** One VERIFY. Wrong → WrongPinError with tries left; blocked → PinBlockedError. Never retried here. */
  async verifyPin(pin: string): Promise<void> {
    const res = await sendCommand(
      this.transport,
      { ins: 0x20, p1: 0x00, p2: 0x80, data: encodePin(pin) },
      this.stats,
    );
    if (res.sw === 0x9000) return;
    if (res.sw === 0x6983 || res.sw === 0x63c0) throw new PinBlockedError();
    if ((res.sw & 0xfff0) === 0x63c0) throw new WrongPinError(res.sw & 0x0f);
    throw new CardStatusError(res.sw, 'VERIFY PIN');
  }

  /** Drops the PIN status on the card (VERIFY P1=FF). */
  async logout(): Promise<void> {
    await sendCommand(this.transport, { ins: 0x20, p1: 0xff, p2: 0x80 }, this.stats);
  }

  private async referenceCommand(
    ins: number,
    p2: number,
    first: Uint8Array,
    second: Uint8Array,
    firstIs: 'PIN' | 'PUK',
    what: string,
  ): Promise<void> {
    const res = await sendCommand(
      this.transport,
      { ins, p1: 0x00, p2, data: concat(first, second) },
      this.stats,
    );
    if (res.sw === 0x9000) return;
    const blocked = res.sw === 0x6983 || res.sw === 0x63c0;
    if (blocked) throw firstIs === 'PIN' ? new PinBlockedError() : new PukBlockedError();
    if ((res.sw & 0xfff0) === 0x63c0)
      throw firstIs === 'PIN' ? new WrongPinError(res.sw & 0x0f) : new WrongPukError(res.sw & 0x0f);
    throw new CardStatusError(res.sw, what);
  }

  /** CHANGE REFERENCE DATA for the PIN. */
  async changePin(oldPin: string, newPin: string): Promise<void> {
    await this.referenceCommand(0x24, 0x80, encodePin(oldPin), encodePin(newPin), 'PIN', 'CHANGE PIN');
  }

  /** CHANGE REFERENCE DATA for the PUK. */
  async changePuk(oldPuk: string, newPuk: string): Promise<void> {
    await this.referenceCommand(
      0x24,
      0x81,
      encodePin(oldPuk, 'PUK'),
      encodePin(newPuk, 'PUK'),
      'PUK',
      'CHANGE PUK',
    );
  }

  /** RESET RETRY COUNTER: unblocks the PIN with the PUK and sets a new PIN. */
  async unblockPin(puk: string, newPin: string): Promise<void> {
    await this.referenceCommand(
      0x2c,
      0x80,
      encodePin(puk, 'PUK'),
      encodePin(newPin),
      'PUK',
      'RESET RETRY COUNTER',
    );
  }

  /** GET DATA; the object's content (inside tag 53), or undefined when the card has none. */
  async getData(tag: number): Promise<Uint8Array | undefined> {
    const id =
      tag === 0x7e ? Uint8Array.of(0x7e) : Uint8Array.of((tag >> 16) & 0xff, (tag >> 8) & 0xff, tag & 0xff);
    const res = await sendCommand(
      this.transport,
      { ins: 0xcb, p1: 0x3f, p2: 0xff, data: tlv(0x5c, id), le: 256 },
      this.stats,
    );
    if (res.sw === 0x6a82) return undefined;
    if (res.sw !== 0x9000) throw new CardStatusError(res.sw, `GET DATA ${tag.toString(16)}`);
    try {
      return findTlv(res.data, tag === 0x7e ? 0x7e : 0x53) ?? new Uint8Array();
    } catch (err) {
      throw new BadCardResponseError(`GET DATA ${tag.toString(16)} is not TLV`, { cause: err });
    }
  }

  /** PUT DATA (needs the management key). */
  async putData(tag: number, content: Uint8Array): Promise<void> {
    const id = Uint8Array.of((tag >> 16) & 0xff, (tag >> 8) & 0xff, tag & 0xff);
    await this.run(
      { ins: 0xdb, p1: 0x3f, p2: 0xff, data: concat(tlv(0x5c, id), tlv(0x53, content)) },
      `PUT DATA ${tag.toString(16)}`,
    );
  }

  /** The DER certificate of a slot, or undefined. Handles gzip-compressed certificates (CertInfo 01). */
  async readCertificate(slot: number): Promise<Uint8Array | undefined> {
    const content = await this.getData(certificateObject(slot));
    if (!content || content.length === 0) return undefined;
    let items;
    try {
      items = new Map(parseTlvs(content).map((t) => [t.tag, t.value]));
    } catch (err) {
      throw new BadCardResponseError('certificate object is not TLV', {
        cause: err instanceof TlvError ? err : undefined,
      });
    }
    const cert = items.get(0x70);
    if (!cert) throw new BadCardResponseError('certificate object without tag 70');
    return items.get(0x71)?.[0] === 0x01 ? new Uint8Array(gunzipSync(cert)) : cert;
  }

  /** Writes a DER certificate into a slot's object (uncompressed, as SP 800-73-4 Table 10). */
  async writeCertificate(slot: number, der: Uint8Array): Promise<void> {
    await this.putData(
      certificateObject(slot),
      concat(tlv(0x70, der), tlv(0x71, Uint8Array.of(0x00)), tlv(0xfe)),
    );
  }

  /** The card's GUID from the CHUID (stable identity for the PIN cache), hex. */
  async cardGuid(): Promise<string | undefined> {
    const chuid = await this.getData(CHUID_OBJECT);
    const guid = chuid ? findTlv(chuid, 0x34) : undefined;
    return guid ? Buffer.from(guid).toString('hex') : undefined;
  }

  /** The management key algorithm from YubiKey metadata; cards without metadata use 3DES. */
  async managementKeyAlgorithm(): Promise<ManagementKeyAlgorithm> {
    const res = await sendCommand(this.transport, { ins: 0xf7, p1: 0x00, p2: 0x9b, le: 256 }, this.stats);
    if (res.sw !== 0x9000) return '3des';
    const id = findTlv(res.data, 0x01)?.[0];
    const found = (Object.keys(MGMT) as ManagementKeyAlgorithm[]).find((k) => MGMT[k].id === id);
    return found ?? '3des';
  }

  /** Mutual authentication with the management key (SP 800-73-4 Part 2 Appendix A.1 witness/challenge). */
  async authenticateManagementKey(key: Uint8Array, algorithm?: ManagementKeyAlgorithm): Promise<void> {
    const alg = algorithm ?? (await this.managementKeyAlgorithm());
    const m = MGMT[alg];
    if (key.length !== m.keyLength)
      throw new ManagementKeyError(`a ${alg} key has ${m.keyLength} bytes, not ${key.length}`);
    const first = await this.run(
      { ins: 0x87, p1: m.id, p2: 0x9b, data: tlv(0x7c, tlv(0x80)), le: 256 },
      'GENERAL AUTHENTICATE witness',
    );
    const witness = findTlv(findTlv(first, 0x7c) ?? new Uint8Array(), 0x80);
    if (!witness || witness.length !== m.block)
      throw new BadCardResponseError('management key witness has the wrong size');
    const challenge = randomBytes(m.block);
    const res = await sendCommand(
      this.transport,
      {
        ins: 0x87,
        p1: m.id,
        p2: 0x9b,
        data: tlv(0x7c, tlv(0x80, ecb(alg, key, false, witness)), tlv(0x81, challenge)),
        le: 256,
      },
      this.stats,
    );
    if (res.sw === 0x6982 || res.sw === 0x6a80)
      throw new ManagementKeyError('the card rejected the decrypted witness');
    if (res.sw !== 0x9000) throw new CardStatusError(res.sw, 'GENERAL AUTHENTICATE response');
    const proof = findTlv(findTlv(res.data, 0x7c) ?? new Uint8Array(), 0x82);
    const expected = ecb(alg, key, true, challenge);
    // The card proves it knows the key too, so enrollment never writes to an impostor card.
    if (!proof || proof.length !== expected.length || !timingSafeEqual(proof, expected))
      throw new ManagementKeyError('the card could not prove the management key');
  }

  /**
   * The public key of a slot: from YubiKey metadata (F7, tag 04) when the card has it, else from
   * the slot's certificate; undefined when neither exists.
   */
  async slotPublicKey(slot: number): Promise<KeyObject | undefined> {
    const res = await sendCommand(this.transport, { ins: 0xf7, p1: 0x00, p2: slot, le: 256 }, this.stats);
    if (res.sw === 0x9000) {
      const items = new Map(parseTlvs(res.data).map((t) => [t.tag, t.value]));
      const alg = items.get(0x01)?.[0];
      const template = items.get(0x04);
      if (template && (alg === 0x07 || alg === 0x11))
        return publicKeyFromTemplate(template, alg === 0x07 ? 'rsa2048' : 'p256');
    }
    const cert = await this.readCertificate(slot);
    return cert ? new X509Certificate(cert).publicKey : undefined;
  }

  /** Sets a new management key (YubiKey SET MANAGEMENT KEY; needs prior authentication). */
  async setManagementKey(algorithm: ManagementKeyAlgorithm, key: Uint8Array): Promise<void> {
    const m = MGMT[algorithm];
    if (key.length !== m.keyLength)
      throw new ManagementKeyError(`a ${algorithm} key has ${m.keyLength} bytes`);
    await this.run(
      { ins: 0xff, p1: 0xff, p2: 0xff, data: concat(Uint8Array.of(m.id, 0x9b, key.length), key) },
      'SET MANAGEMENT KEY',
    );
  }

  /** GENERATE ASYMMETRIC KEY PAIR; returns the new public key (needs the management key). */
  async generateKey(
    slot: number,
    algorithm: PivKeyAlgorithm,
    opts: { pinPolicy?: PinPolicy } = {},
  ): Promise<KeyObject> {
    const params = [tlv(0x80, Uint8Array.of(KEY_ALG_ID[algorithm]))];
    if (opts.pinPolicy && opts.pinPolicy !== 'default')
      params.push(tlv(0xaa, Uint8Array.of(PIN_POLICY_ID[opts.pinPolicy])));
    const data = await this.run(
      { ins: 0x47, p1: 0x00, p2: slot, data: tlv(0xac, ...params), le: 256 },
      'GENERATE',
    );
    const template = findTlv(data, 0x7f49);
    if (!template) throw new BadCardResponseError('GENERATE answer without 7F49');
    return publicKeyFromTemplate(template, algorithm);
  }

  private async generalAuthenticate(
    slot: number,
    algorithm: PivKeyAlgorithm,
    tag: 0x81 | 0x85,
    input: Uint8Array,
    what: string,
  ): Promise<Uint8Array> {
    const data = await this.run(
      {
        ins: 0x87,
        p1: KEY_ALG_ID[algorithm],
        p2: slot,
        data: tlv(0x7c, tlv(0x82), tlv(tag, input)),
        le: 256,
      },
      what,
    );
    const out = findTlv(findTlv(data, 0x7c) ?? new Uint8Array(), 0x82);
    if (!out) throw new BadCardResponseError(`${what}: answer without 7C/82`);
    return out;
  }

  /** Raw RSA private operation on a 256-byte block (signing with host-side padding, or decryption). */
  async rsaRaw(slot: number, block: Uint8Array): Promise<Uint8Array> {
    if (block.length !== 256) throw new RangeError('RSA-2048 block must be 256 bytes');
    return this.generalAuthenticate(slot, 'rsa2048', 0x81, block, 'GENERAL AUTHENTICATE RSA');
  }

  /** ECDSA P-256 over a digest; returns the DER Ecdsa-Sig-Value the card produces. */
  async ecdsaSign(slot: number, digest: Uint8Array): Promise<Uint8Array> {
    return this.generalAuthenticate(slot, 'p256', 0x81, digest.subarray(0, 32), 'GENERAL AUTHENTICATE ECDSA');
  }

  /** ECDH P-256 with the key in `slot`; returns the shared secret Z (x coordinate). */
  async ecdh(slot: number, peerPoint: Uint8Array): Promise<Uint8Array> {
    return this.generalAuthenticate(slot, 'p256', 0x85, peerPoint, 'GENERAL AUTHENTICATE ECDH');
  }
}

/** Public key from a GENERATE answer (7F49: 81 n, 82 e for RSA; 86 point for EC). */
export function publicKeyFromTemplate(template: Uint8Array, algorithm: PivKeyAlgorithm): KeyObject {
  const items = new Map(parseTlvs(template).map((t) => [t.tag, t.value]));
  const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64url');
  if (algorithm === 'rsa2048') {
    const n = items.get(0x81);
    const e = items.get(0x82);
    if (!n || !e) throw new BadCardResponseError('RSA public key without modulus or exponent');
    return createPublicKey({ key: { kty: 'RSA', n: b64(n), e: b64(e) }, format: 'jwk' });
  }
  const point = items.get(0x86);
  if (!point || point.length !== 65 || point[0] !== 0x04)
    throw new BadCardResponseError('EC public key is not an uncompressed P-256 point');
  return createPublicKey({
    key: { kty: 'EC', crv: 'P-256', x: b64(point.subarray(1, 33)), y: b64(point.subarray(33)) },
    format: 'jwk',
  });
}
