import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tlv, concat, toHex, fromHex } from '../piv/tlv';

/**
 * Everything a PIV card keeps across power cycles, as a JSON file: PIN/PUK and their counters, the
 * management key, the private keys per slot and the data objects (certificates, CHUID, ...).
 * Written atomically (temp file + rename) after every change, so killing the card process mid-way
 * never leaves a half-written card.
 */
export type MgmtAlgorithm = 0x03 | 0x08 | 0x0a | 0x0c;
export type KeyAlgorithm = 0x07 | 0x11;
/** YubiKey PIN policy values: 1 never, 2 once per session, 3 always (before each use). */
export type PinPolicy = 1 | 2 | 3;

export interface SlotKey {
  algorithm: KeyAlgorithm;
  /** PKCS#8 DER, base64. */
  pkcs8: string;
  pinPolicy: PinPolicy;
  /** 1 generated on the card, 2 imported. */
  origin: 1 | 2;
}

export interface CardState {
  format: 'ssmax-virtual-piv/1';
  serial: number;
  /** PIN and PUK as stored on PIV cards: 8 bytes, padded with FF (hex). */
  pin: string;
  puk: string;
  pinTriesMax: number;
  pinTriesLeft: number;
  pukTriesMax: number;
  pukTriesLeft: number;
  mgmtKey: { algorithm: MgmtAlgorithm; key: string; isDefault: boolean };
  /** Slot (hex, e.g. "9c") → key. */
  keys: Record<string, SlotKey>;
  /** Data object tag (hex, e.g. "5fc10a") → content of its 53 template (hex). */
  objects: Record<string, string>;
}

/** The well-known YubiKey factory values, so third-party tools work without arguments. */
export const DEFAULT_PIN = '123456';
export const DEFAULT_PUK = '12345678';
export const DEFAULT_MGMT_KEY = '010203040506070801020304050607080102030405060708';

export function padPin(pin: string | Uint8Array): Uint8Array {
  const bytes = typeof pin === 'string' ? Buffer.from(pin, 'utf8') : pin;
  if (bytes.length > 8) throw new Error('PIN longer than 8 bytes');
  const out = new Uint8Array(8).fill(0xff);
  out.set(bytes);
  return out;
}

/** A CHUID (SP 800-73-4 Part 1 Table 9) with a random GUID and an empty issuer signature. */
function newChuid(): Uint8Array {
  const fascn = fromHex('d4e739da739ced39ce739d836858210842108421c84210c3eb'); // the all-nines test FASC-N layout
  return concat(
    tlv(0x30, fascn),
    tlv(0x34, randomBytes(16)),
    tlv(0x35, Buffer.from('20301231', 'ascii')),
    tlv(0x3e),
    tlv(0xfe),
  );
}

/** A CCC (SP 800-73-4 Part 1 Table 8) as issued by common PIV middleware. */
function newCcc(): Uint8Array {
  return concat(
    tlv(0xf0, fromHex('a000000116ff02'), randomBytes(14)),
    tlv(0xf1, Uint8Array.of(0x21)),
    tlv(0xf2, Uint8Array.of(0x21)),
    tlv(0xf3),
    tlv(0xf4, Uint8Array.of(0x00)),
    tlv(0xf5, Uint8Array.of(0x10)),
    tlv(0xf6),
    tlv(0xf7),
    tlv(0xfa),
    tlv(0xfb),
    tlv(0xfc),
    tlv(0xfd),
    tlv(0xfe),
  );
}

export function newCardState(): CardState {
  return {
    format: 'ssmax-virtual-piv/1',
    serial: randomInt(10_000_000, 99_999_999),
    pin: toHex(padPin(DEFAULT_PIN)),
    puk: toHex(padPin(DEFAULT_PUK)),
    pinTriesMax: 3,
    pinTriesLeft: 3,
    pukTriesMax: 3,
    pukTriesLeft: 3,
    mgmtKey: { algorithm: 0x03, key: DEFAULT_MGMT_KEY, isDefault: true },
    keys: {},
    objects: { '5fc102': toHex(newChuid()), '5fc107': toHex(newCcc()) },
  };
}

export class CardStateStore {
  constructor(readonly file: string) {}

  /** Reads the state file, creating a factory-fresh card if it does not exist. */
  load(): CardState {
    if (!existsSync(this.file)) {
      const fresh = newCardState();
      this.save(fresh);
      return fresh;
    }
    const parsed = JSON.parse(readFileSync(this.file, 'utf8')) as CardState;
    if (parsed.format !== 'ssmax-virtual-piv/1')
      throw new Error(`${this.file} is not a virtual PIV card state file`);
    return parsed;
  }

  save(state: CardState): void {
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(state, null, 1)}\n`, { mode: 0o600 });
    renameSync(tmp, this.file);
  }
}
