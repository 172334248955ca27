import {
  constants,
  createCipheriv,
  createDecipheriv,
  createECDH,
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  privateDecrypt,
  randomBytes,
  timingSafeEqual,
  type KeyObject,
} from 'node:crypto';
import { EventEmitter } from 'node:events';
import { promisify } from 'node:util';
import { concat, findTlv, fromHex, parseTlvs, tlv, toHex, TlvError } from '../piv/tlv';
import { ecdsaP256SignDigest } from './ecdsa-p256';
import {
  padPin,
  type CardState,
  type CardStateStore,
  type KeyAlgorithm,
  type MgmtAlgorithm,
  type PinPolicy,
  newCardState,
} from './state';
import type { VpcdCard, VpcdControl } from './vpcd-link';

/**
 * A PIV card application (NIST SP 800-73-4 Part 2) with the YubiKey extensions that yubico-piv-tool
 * and OpenSC use (GET VERSION/SERIAL/METADATA, SET MANAGEMENT KEY, AES management keys, PIN
 * policies). Answers APDUs synchronously from the vpcd link's point of view; key generation is async.
 */

const PIV_AID = fromHex('a000000308000010000100');
/** Application property template answered to SELECT (SP 800-73-4 Part 2 Table 3). */
const APT = tlv(
  0x61,
  tlv(0x4f, fromHex('000010000100')),
  tlv(0x79, tlv(0x4f, fromHex('a000000308'))),
  tlv(0x50, Buffer.from('SSMAX virtual PIV', 'ascii')),
);
/** Discovery object: PIV AID, PIN usage policy "PIV application PIN only" (Part 1 Table 18). */
const DISCOVERY = tlv(0x7e, tlv(0x4f, PIV_AID), tlv(0x5f2f, Uint8Array.of(0x40, 0x00)));
/** Firmware reported to YubiKey-aware tools: 5.4.3 has metadata and AES management keys. */
const VERSION = Uint8Array.of(5, 4, 3);

const SW = {
  OK: 0x9000,
  WRONG_LENGTH: 0x6700,
  SECURITY_STATUS: 0x6982,
  AUTH_BLOCKED: 0x6983,
  CONDITIONS: 0x6985,
  INCORRECT_DATA: 0x6a80,
  FUNC_NOT_SUPPORTED: 0x6a81,
  NOT_FOUND: 0x6a82,
  INCORRECT_P1P2: 0x6a86,
  REF_NOT_FOUND: 0x6a88,
  INS_NOT_SUPPORTED: 0x6d00,
  CLA_NOT_SUPPORTED: 0x6e00,
  NO_PRECISE_DIAGNOSIS: 0x6f00,
} as const;

class CardStatus extends Error {
  constructor(readonly sw: number) {
    super(`SW ${sw.toString(16)}`);
  }
}
const fail = (sw: number): never => {
  throw new CardStatus(sw);
};

interface Apdu {
  cla: number;
  ins: number;
  p1: number;
  p2: number;
  data: Uint8Array;
  /** Expected response length; undefined when absent (case 1 / 3). */
  le: number | undefined;
  extended: boolean;
}

export function parseApdu(bytes: Uint8Array): Apdu {
  if (bytes.length < 4) fail(SW.WRONG_LENGTH);
  const [cla, ins, p1, p2] = bytes as unknown as [number, number, number, number];
  const head = { cla, ins, p1, p2 };
  if (bytes.length === 4) return { ...head, data: new Uint8Array(), le: undefined, extended: false };
  const b4 = bytes[4] as number;
  if (bytes.length === 5)
    return { ...head, data: new Uint8Array(), le: b4 === 0 ? 256 : b4, extended: false };
  if (b4 !== 0) {
    const data = bytes.subarray(5, 5 + b4);
    if (data.length !== b4) fail(SW.WRONG_LENGTH);
    const rest = bytes.length - 5 - b4;
    if (rest > 1) fail(SW.WRONG_LENGTH);
    const le = rest === 1 ? (bytes[5 + b4] as number) || 256 : undefined;
    return { ...head, data, le, extended: false };
  }
  // Extended length (ISO 7816-4 §5.1).
  if (bytes.length === 7)
    return {
      ...head,
      data: new Uint8Array(),
      le: ((bytes[5] as number) << 8) | (bytes[6] as number) || 65536,
      extended: true,
    };
  const lc = ((bytes[5] as number) << 8) | (bytes[6] as number);
  const data = bytes.subarray(7, 7 + lc);
  if (data.length !== lc) fail(SW.WRONG_LENGTH);
  const rest = bytes.length - 7 - lc;
  if (rest !== 0 && rest !== 2) fail(SW.WRONG_LENGTH);
  const le = rest === 2 ? ((bytes[7 + lc] as number) << 8) | (bytes[8 + lc] as number) || 65536 : undefined;
  return { ...head, data, le, extended: true };
}

const withSw = (data: Uint8Array, sw: number): Uint8Array => concat(data, Uint8Array.of(sw >> 8, sw & 0xff));

const MGMT_KEY_LENGTH: Record<MgmtAlgorithm, number> = { 0x03: 24, 0x08: 16, 0x0a: 24, 0x0c: 32 };
const MGMT_CIPHER: Record<MgmtAlgorithm, string> = {
  0x03: 'des-ede3',
  0x08: 'aes-128-ecb',
  0x0a: 'aes-192-ecb',
  0x0c: 'aes-256-ecb',
};
const KEY_SLOTS = new Set([0x9a, 0x9c, 0x9d, 0x9e, ...Array.from({ length: 20 }, (_, i) => 0x82 + i)]);
/** Slot → certificate data object (SP 800-73-4 Part 1 Table 3 and Table 4b). */
export const SLOT_OBJECT: Record<number, number> = {
  0x9a: 0x5fc105,
  0x9c: 0x5fc10a,
  0x9d: 0x5fc10b,
  0x9e: 0x5fc101,
  ...Object.fromEntries(Array.from({ length: 20 }, (_, i) => [0x82 + i, 0x5fc10d + i])),
};
const DEFAULT_PIN_POLICY = (slot: number): PinPolicy => (slot === 0x9c ? 3 : slot === 0x9e ? 1 : 2);

export interface VirtualPivCardOptions {
  /** Faults for tests: answer this INS only after delayMs, or never. */
  delayIns?: number;
  delayMs?: number;
  silentIns?: number;
}

export class VirtualPivCard extends EventEmitter implements VpcdCard {
  private state: CardState;
  private readonly atrBytes: Uint8Array;
  // Volatile security status: lost on reset and power off, as on a real card.
  private pinVerified = false;
  /** Set by VERIFY, consumed by the next use of a key with PIN policy "always". */
  private pinJustVerified = false;
  private mgmtAuthenticated = false;
  private mgmtWitness: Uint8Array | undefined;
  private mgmtChallenge: Uint8Array | undefined;
  private chain: { ins: number; p1: number; p2: number; data: Uint8Array[] } | undefined;
  private pendingResponse: Uint8Array | undefined;
  private keyCache = new Map<string, KeyObject>();
  /** Counts of answered APDUs by INS, for tests and logs. */
  readonly stats = { apdus: 0, byIns: new Map<number, number>() };

  constructor(
    private readonly store: CardStateStore | undefined,
    private readonly options: VirtualPivCardOptions = {},
    state?: CardState,
  ) {
    super();
    this.state = state ?? store?.load() ?? newCardState();
    // T=1 only, historical bytes carry the label so the card is recognisable in logs.
    const hist = Buffer.from('SSMAX-vPIV', 'ascii');
    const body = concat(Uint8Array.of(0x80 | hist.length, 0x80, 0x01), hist);
    let tck = 0;
    for (const b of body) tck ^= b;
    this.atrBytes = concat(Uint8Array.of(0x3b), body, Uint8Array.of(tck));
  }

  get snapshot(): Readonly<CardState> {
    return this.state;
  }

  atr(): Uint8Array {
    return this.atrBytes;
  }

  control(what: VpcdControl): void {
    this.resetSecurityStatus();
    this.emit('control', what);
  }

  private resetSecurityStatus(): void {
    this.pinVerified = false;
    this.pinJustVerified = false;
    this.mgmtAuthenticated = false;
    this.mgmtWitness = undefined;
    this.mgmtChallenge = undefined;
    this.chain = undefined;
    this.pendingResponse = undefined;
  }

  private persist(): void {
    this.store?.save(this.state);
  }

  async transmit(bytes: Uint8Array): Promise<Uint8Array> {
    this.stats.apdus++;
    const ins = bytes[1] ?? -1;
    this.stats.byIns.set(ins, (this.stats.byIns.get(ins) ?? 0) + 1);
    if (this.options.silentIns === ins) return new Promise<Uint8Array>(() => undefined);
    if (this.options.delayIns === ins && this.options.delayMs)
      await new Promise((r) => setTimeout(r, this.options.delayMs));
    try {
      const apdu = parseApdu(bytes);
      if (apdu.ins !== 0xc0) this.pendingResponse = undefined;
      return await this.dispatch(apdu);
    } catch (err) {
      if (err instanceof CardStatus) return withSw(new Uint8Array(), err.sw);
      if (err instanceof TlvError) return withSw(new Uint8Array(), SW.INCORRECT_DATA);
      throw err;
    }
  }

  private async dispatch(apdu: Apdu): Promise<Uint8Array> {
    if ((apdu.cla & ~0x10) !== 0x00) fail(SW.CLA_NOT_SUPPORTED);
    if (apdu.ins === 0xc0) return this.getResponse(apdu);
    // Command chaining (ISO 7816-4 §5.1.1): collect until the last block, then run the whole command.
    if (apdu.cla & 0x10) {
      if (
        !this.chain ||
        this.chain.ins !== apdu.ins ||
        this.chain.p1 !== apdu.p1 ||
        this.chain.p2 !== apdu.p2
      ) {
        this.chain = { ins: apdu.ins, p1: apdu.p1, p2: apdu.p2, data: [] };
      }
      this.chain.data.push(Uint8Array.from(apdu.data));
      return withSw(new Uint8Array(), SW.OK);
    }
    let full = apdu;
    if (this.chain) {
      const chain = this.chain;
      this.chain = undefined;
      if (chain.ins === apdu.ins && chain.p1 === apdu.p1 && chain.p2 === apdu.p2)
        full = { ...apdu, data: concat(...chain.data, apdu.data) };
    }
    const data = await this.execute(full);
    return this.respond(data, full);
  }

  /** Sends what fits and keeps the rest for GET RESPONSE (61xx). */
  private respond(data: Uint8Array, apdu: Apdu): Uint8Array {
    const max = apdu.extended ? (apdu.le ?? 65536) : Math.min(256, apdu.le ?? 256);
    if (data.length <= max) return withSw(data, SW.OK);
    this.pendingResponse = data.subarray(max);
    const left = this.pendingResponse.length;
    return withSw(data.subarray(0, max), 0x6100 | (left > 255 ? 0 : left));
  }

  private getResponse(apdu: Apdu): Uint8Array {
    const pending = this.pendingResponse;
    this.pendingResponse = undefined;
    if (!pending) fail(SW.CONDITIONS);
    return this.respond(pending as Uint8Array, { ...apdu, le: apdu.le ?? 256 });
  }

  private async execute(apdu: Apdu): Promise<Uint8Array> {
    switch (apdu.ins) {
      case 0xa4:
        return this.select(apdu);
      case 0xcb:
        return this.getData(apdu);
      case 0xdb:
        return this.putData(apdu);
      case 0x20:
        return this.verify(apdu);
      case 0x24:
        return this.changeReferenceData(apdu);
      case 0x2c:
        return this.resetRetryCounter(apdu);
      case 0x87:
        return this.generalAuthenticate(apdu);
      case 0x47:
        return this.generate(apdu);
      case 0xfd:
        return VERSION;
      case 0xf8:
        return Uint8Array.of(
          (this.state.serial >>> 24) & 0xff,
          (this.state.serial >>> 16) & 0xff,
          (this.state.serial >>> 8) & 0xff,
          this.state.serial & 0xff,
        );
      case 0xf7:
        return this.metadata(apdu);
      case 0xff:
        return this.setManagementKey(apdu);
      case 0xfa:
        return this.setPinRetries(apdu);
      case 0xfb:
        return this.factoryReset();
      default:
        return fail(SW.INS_NOT_SUPPORTED);
    }
  }

  private select(apdu: Apdu): Uint8Array {
    // Only the PIV application exists; a right-truncated AID selects it (ISO 7816-4 partial AID).
    if (apdu.p1 !== 0x04 || apdu.data.length < 5 || apdu.data.length > PIV_AID.length) fail(SW.NOT_FOUND);
    if (!Buffer.from(PIV_AID.subarray(0, apdu.data.length)).equals(Buffer.from(apdu.data)))
      fail(SW.NOT_FOUND);
    this.resetSecurityStatusOnSelect();
    return APT;
  }

  private resetSecurityStatusOnSelect(): void {
    // The session PIN status survives a re-select (tools reselect between steps); the "verified just
    // before use" status of PIN policy "always" does not, which is why libykpiv never reselects
    // before a signature.
    this.chain = undefined;
    this.pinJustVerified = false;
  }

  private objectId(apdu: Apdu): string {
    if (apdu.p1 !== 0x3f || apdu.p2 !== 0xff) fail(SW.INCORRECT_P1P2);
    const id = findTlv(apdu.data, 0x5c);
    if (!id || id.length < 1 || id.length > 3) fail(SW.INCORRECT_DATA);
    return toHex(id as Uint8Array);
  }

  private getData(apdu: Apdu): Uint8Array {
    const id = this.objectId(apdu);
    if (id === '7e') return DISCOVERY;
    const value = this.state.objects[id];
    if (value === undefined) fail(SW.NOT_FOUND);
    return tlv(0x53, fromHex(value as string));
  }

  private putData(apdu: Apdu): Uint8Array {
    if (!this.mgmtAuthenticated) fail(SW.SECURITY_STATUS);
    const id = this.objectId(apdu);
    if (id === '7e') fail(SW.FUNC_NOT_SUPPORTED);
    const value = findTlv(apdu.data, 0x53);
    if (value === undefined) fail(SW.INCORRECT_DATA);
    if ((value as Uint8Array).length === 0) delete this.state.objects[id];
    else this.state.objects[id] = toHex(value as Uint8Array);
    this.persist();
    return new Uint8Array();
  }

  private triesSw(left: number): number {
    return left === 0 ? SW.AUTH_BLOCKED : 0x63c0 | Math.min(left, 15);
  }

  private verify(apdu: Apdu): Uint8Array {
    if (apdu.p2 !== 0x80) fail(SW.REF_NOT_FOUND);
    if (apdu.p1 === 0xff) {
      this.pinVerified = false;
      this.pinJustVerified = false;
      return new Uint8Array();
    }
    if (apdu.p1 !== 0x00) fail(SW.INCORRECT_P1P2);
    if (apdu.data.length === 0) {
      // Status probe: no try is used.
      if (this.state.pinTriesLeft === 0) fail(SW.AUTH_BLOCKED);
      if (this.pinVerified) return new Uint8Array();
      return fail(this.triesSw(this.state.pinTriesLeft));
    }
    if (apdu.data.length !== 8) fail(SW.INCORRECT_DATA);
    if (this.state.pinTriesLeft === 0) fail(SW.AUTH_BLOCKED);
    if (!timingSafeEqual(apdu.data, fromHex(this.state.pin))) {
      this.pinVerified = false;
      this.pinJustVerified = false;
      this.state.pinTriesLeft--;
      this.persist();
      fail(this.triesSw(this.state.pinTriesLeft));
    }
    if (this.state.pinTriesLeft !== this.state.pinTriesMax) {
      this.state.pinTriesLeft = this.state.pinTriesMax;
      this.persist();
    }
    this.pinVerified = true;
    this.pinJustVerified = true;
    return new Uint8Array();
  }

  private checkNewReference(value: Uint8Array): void {
    // 6..8 bytes, FF padded (SP 800-73-4 Part 2 §2.4.3).
    const len = value.indexOf(0xff) === -1 ? 8 : value.indexOf(0xff);
    if (len < 6 || value.subarray(len).some((b) => b !== 0xff)) fail(SW.INCORRECT_DATA);
  }

  private changeReferenceData(apdu: Apdu): Uint8Array {
    if (apdu.p1 !== 0x00 || (apdu.p2 !== 0x80 && apdu.p2 !== 0x81)) fail(SW.INCORRECT_P1P2);
    if (apdu.data.length !== 16) fail(SW.INCORRECT_DATA);
    const isPin = apdu.p2 === 0x80;
    const left = isPin ? this.state.pinTriesLeft : this.state.pukTriesLeft;
    if (left === 0) fail(SW.AUTH_BLOCKED);
    const current = fromHex(isPin ? this.state.pin : this.state.puk);
    if (!timingSafeEqual(apdu.data.subarray(0, 8), current)) {
      if (isPin) {
        this.state.pinTriesLeft--;
        this.pinVerified = false;
      } else this.state.pukTriesLeft--;
      this.persist();
      fail(this.triesSw(isPin ? this.state.pinTriesLeft : this.state.pukTriesLeft));
    }
    const next = apdu.data.subarray(8);
    this.checkNewReference(next);
    if (isPin) {
      this.state.pin = toHex(next);
      this.state.pinTriesLeft = this.state.pinTriesMax;
      this.pinVerified = true;
    } else {
      this.state.puk = toHex(next);
      this.state.pukTriesLeft = this.state.pukTriesMax;
    }
    this.persist();
    return new Uint8Array();
  }

  private resetRetryCounter(apdu: Apdu): Uint8Array {
    if (apdu.p1 !== 0x00 || apdu.p2 !== 0x80) fail(SW.INCORRECT_P1P2);
    if (apdu.data.length !== 16) fail(SW.INCORRECT_DATA);
    if (this.state.pukTriesLeft === 0) fail(SW.AUTH_BLOCKED);
    if (!timingSafeEqual(apdu.data.subarray(0, 8), fromHex(this.state.puk))) {
      this.state.pukTriesLeft--;
      this.persist();
      fail(this.triesSw(this.state.pukTriesLeft));
    }
    const next = apdu.data.subarray(8);
    this.checkNewReference(next);
    this.state.pin = toHex(next);
    this.state.pinTriesLeft = this.state.pinTriesMax;
    this.state.pukTriesLeft = this.state.pukTriesMax;
    this.persist();
    return new Uint8Array();
  }

  private mgmtCipher(encrypt: boolean, block: Uint8Array): Uint8Array {
    const alg = this.state.mgmtKey.algorithm;
    const key = fromHex(this.state.mgmtKey.key);
    const c = encrypt
      ? createCipheriv(MGMT_CIPHER[alg], key, null)
      : createDecipheriv(MGMT_CIPHER[alg], key, null);
    c.setAutoPadding(false);
    return concat(c.update(block), c.final());
  }

  private generalAuthenticate(apdu: Apdu): Uint8Array {
    const template = findTlv(apdu.data, 0x7c);
    if (template === undefined) fail(SW.INCORRECT_DATA);
    const items = new Map(parseTlvs(template as Uint8Array).map((t) => [t.tag, t.value]));
    if (apdu.p2 === 0x9b) return this.managementAuthenticate(apdu.p1, items);
    return this.privateKeyOperation(apdu.p1, apdu.p2, items);
  }

  private managementAuthenticate(algorithm: number, items: Map<number, Uint8Array>): Uint8Array {
    if (algorithm !== this.state.mgmtKey.algorithm) fail(SW.INCORRECT_P1P2);
    const blockSize = algorithm === 0x03 ? 8 : 16;
    const witness = items.get(0x80);
    const challenge = items.get(0x81);
    const response = items.get(0x82);
    // Mutual authentication step 1: card sends an encrypted witness.
    if (witness !== undefined && witness.length === 0) {
      this.mgmtAuthenticated = false;
      this.mgmtWitness = randomBytes(blockSize);
      return tlv(0x7c, tlv(0x80, this.mgmtCipher(true, this.mgmtWitness)));
    }
    // Step 2: host returns the decrypted witness and its own challenge; card proves itself.
    if (witness !== undefined && challenge !== undefined) {
      const expected = this.mgmtWitness;
      this.mgmtWitness = undefined;
      if (!expected || witness.length !== blockSize || !timingSafeEqual(witness, expected))
        fail(SW.SECURITY_STATUS);
      if (challenge.length !== blockSize) fail(SW.INCORRECT_DATA);
      this.mgmtAuthenticated = true;
      return tlv(0x7c, tlv(0x82, this.mgmtCipher(true, challenge)));
    }
    // External authentication (host only): card sends a plain challenge, host returns it encrypted.
    if (challenge !== undefined && challenge.length === 0) {
      this.mgmtAuthenticated = false;
      this.mgmtChallenge = randomBytes(blockSize);
      return tlv(0x7c, tlv(0x81, this.mgmtChallenge));
    }
    if (response !== undefined && response.length > 0) {
      const expected = this.mgmtChallenge;
      this.mgmtChallenge = undefined;
      if (
        !expected ||
        response.length !== blockSize ||
        !timingSafeEqual(response, this.mgmtCipher(true, expected))
      )
        fail(SW.SECURITY_STATUS);
      this.mgmtAuthenticated = true;
      return new Uint8Array();
    }
    return fail(SW.INCORRECT_DATA);
  }

  private slotKey(slot: number): { key: KeyObject; algorithm: KeyAlgorithm; pinPolicy: PinPolicy } {
    const entry = this.state.keys[slot.toString(16)];
    if (!entry) return fail(SW.REF_NOT_FOUND);
    let key = this.keyCache.get(entry.pkcs8);
    if (!key) {
      key = createPrivateKey({ key: Buffer.from(entry.pkcs8, 'base64'), format: 'der', type: 'pkcs8' });
      this.keyCache.set(entry.pkcs8, key);
    }
    return { key, algorithm: entry.algorithm, pinPolicy: entry.pinPolicy };
  }

  private privateKeyOperation(algorithm: number, slot: number, items: Map<number, Uint8Array>): Uint8Array {
    if (!KEY_SLOTS.has(slot)) fail(SW.INCORRECT_P1P2);
    const { key, algorithm: keyAlg, pinPolicy } = this.slotKey(slot);
    if (algorithm !== keyAlg) fail(SW.INCORRECT_P1P2);
    if (!items.has(0x82) || (items.get(0x82) as Uint8Array).length !== 0) fail(SW.INCORRECT_DATA);
    // PIN policy: "always" needs a VERIFY right before each use; "once" the session's PIN status.
    if (pinPolicy === 3 && !this.pinJustVerified) fail(SW.SECURITY_STATUS);
    if (pinPolicy === 2 && !this.pinVerified) fail(SW.SECURITY_STATUS);
    const challenge = items.get(0x81);
    const peerPoint = items.get(0x85);
    let result: Uint8Array;
    if (keyAlg === 0x07) {
      if (!challenge || challenge.length !== 256) fail(SW.INCORRECT_DATA);
      try {
        result = privateDecrypt({ key, padding: constants.RSA_NO_PADDING }, challenge as Uint8Array);
      } catch {
        return fail(SW.INCORRECT_DATA);
      }
    } else if (challenge !== undefined) {
      if (challenge.length === 0 || challenge.length > 32) fail(SW.INCORRECT_DATA);
      const d = Buffer.from(key.export({ format: 'jwk' }).d as string, 'base64url');
      result = ecdsaP256SignDigest(d, challenge);
    } else if (peerPoint !== undefined) {
      if (peerPoint.length !== 65 || peerPoint[0] !== 0x04) fail(SW.INCORRECT_DATA);
      const ecdh = createECDH('prime256v1');
      ecdh.setPrivateKey(Buffer.from(key.export({ format: 'jwk' }).d as string, 'base64url'));
      try {
        result = ecdh.computeSecret(peerPoint);
      } catch {
        return fail(SW.INCORRECT_DATA);
      }
    } else {
      return fail(SW.INCORRECT_DATA);
    }
    if (pinPolicy === 3) this.pinJustVerified = false;
    return tlv(0x7c, tlv(0x82, result));
  }

  private async generate(apdu: Apdu): Promise<Uint8Array> {
    if (!this.mgmtAuthenticated) fail(SW.SECURITY_STATUS);
    if (apdu.p1 !== 0x00 || !KEY_SLOTS.has(apdu.p2)) fail(SW.INCORRECT_P1P2);
    const template = findTlv(apdu.data, 0xac);
    if (!template) fail(SW.INCORRECT_DATA);
    const params = new Map(parseTlvs(template as Uint8Array).map((t) => [t.tag, t.value]));
    const alg = params.get(0x80)?.[0];
    if (alg !== 0x07 && alg !== 0x11) fail(SW.INCORRECT_DATA);
    const requestedPolicy = params.get(0xaa)?.[0];
    const pinPolicy: PinPolicy =
      requestedPolicy === 1 || requestedPolicy === 2 || requestedPolicy === 3
        ? requestedPolicy
        : DEFAULT_PIN_POLICY(apdu.p2);
    const pair =
      alg === 0x07
        ? await promisify(generateKeyPair)('rsa', { modulusLength: 2048, publicExponent: 65537 })
        : await promisify(generateKeyPair)('ec', { namedCurve: 'P-256' });
    const pkcs8 = pair.privateKey.export({ format: 'der', type: 'pkcs8' });
    this.state.keys[apdu.p2.toString(16)] = {
      algorithm: alg as KeyAlgorithm,
      pkcs8: pkcs8.toString('base64'),
      pinPolicy,
      origin: 1,
    };
    this.persist();
    return tlv(0x7f49, publicKeyTemplate(pair.publicKey));
  }

  private metadata(apdu: Apdu): Uint8Array {
    const slot = apdu.p2;
    if (slot === 0x9b) {
      return concat(
        tlv(0x01, Uint8Array.of(this.state.mgmtKey.algorithm)),
        tlv(0x02, Uint8Array.of(0x00, 0x01)),
        tlv(0x05, Uint8Array.of(this.state.mgmtKey.isDefault ? 1 : 0)),
      );
    }
    if (slot === 0x80 || slot === 0x81) {
      const isPin = slot === 0x80;
      const isDefault =
        toHex(padPin(isPin ? '123456' : '12345678')) === (isPin ? this.state.pin : this.state.puk);
      return concat(
        tlv(0x01, Uint8Array.of(0xff)),
        tlv(0x02, Uint8Array.of(0x00, 0x00)),
        tlv(0x05, Uint8Array.of(isDefault ? 1 : 0)),
        tlv(
          0x06,
          Uint8Array.of(
            isPin ? this.state.pinTriesMax : this.state.pukTriesMax,
            isPin ? this.state.pinTriesLeft : this.state.pukTriesLeft,
          ),
        ),
      );
    }
    if (!KEY_SLOTS.has(slot)) fail(SW.INCORRECT_P1P2);
    const entry = this.state.keys[slot.toString(16)];
    if (!entry) fail(SW.REF_NOT_FOUND);
    const { key, algorithm, pinPolicy } = this.slotKey(slot);
    return concat(
      tlv(0x01, Uint8Array.of(algorithm)),
      tlv(0x02, Uint8Array.of(pinPolicy, 0x01)),
      tlv(0x03, Uint8Array.of(entry?.origin ?? 1)),
      tlv(0x04, publicKeyTemplate(createPublicKey(key))),
    );
  }

  private setManagementKey(apdu: Apdu): Uint8Array {
    if (!this.mgmtAuthenticated) fail(SW.SECURITY_STATUS);
    if (apdu.p1 !== 0xff || (apdu.p2 !== 0xff && apdu.p2 !== 0xfe)) fail(SW.INCORRECT_P1P2);
    const [alg, ref, len] = apdu.data;
    if (ref !== 0x9b || (alg !== 0x03 && alg !== 0x08 && alg !== 0x0a && alg !== 0x0c))
      fail(SW.INCORRECT_DATA);
    const key = apdu.data.subarray(3);
    if (len !== key.length || key.length !== MGMT_KEY_LENGTH[alg as MgmtAlgorithm]) fail(SW.INCORRECT_DATA);
    this.state.mgmtKey = { algorithm: alg as MgmtAlgorithm, key: toHex(key), isDefault: false };
    this.persist();
    return new Uint8Array();
  }

  private setPinRetries(apdu: Apdu): Uint8Array {
    if (!this.mgmtAuthenticated || !this.pinVerified) fail(SW.SECURITY_STATUS);
    if (apdu.p1 === 0 || apdu.p2 === 0) fail(SW.INCORRECT_P1P2);
    this.state.pinTriesMax = this.state.pinTriesLeft = apdu.p1;
    this.state.pukTriesMax = this.state.pukTriesLeft = apdu.p2;
    this.state.pin = toHex(padPin('123456'));
    this.state.puk = toHex(padPin('12345678'));
    this.persist();
    return new Uint8Array();
  }

  private factoryReset(): Uint8Array {
    // As on a YubiKey: only when both PIN and PUK are blocked.
    if (this.state.pinTriesLeft !== 0 || this.state.pukTriesLeft !== 0) fail(SW.CONDITIONS);
    this.state = newCardState();
    this.keyCache.clear();
    this.persist();
    this.resetSecurityStatus();
    return new Uint8Array();
  }
}

/** 7F49 content for a public key: 81 modulus 82 exponent (RSA) or 86 point (EC). */
export function publicKeyTemplate(publicKey: KeyObject): Uint8Array {
  const jwk = publicKey.export({ format: 'jwk' });
  if (jwk.kty === 'RSA')
    return concat(
      tlv(0x81, Buffer.from(jwk.n as string, 'base64url')),
      tlv(0x82, Buffer.from(jwk.e as string, 'base64url')),
    );
  return tlv(
    0x86,
    concat(
      Uint8Array.of(0x04),
      Buffer.from(jwk.x as string, 'base64url'),
      Buffer.from(jwk.y as string, 'base64url'),
    ),
  );
}
