import { X509Certificate } from 'node:crypto';
import {
  signWithRawRsa,
  digest as hashBytes,
  type EcdhDecryptor,
  type HashName,
  type RsaDecryptor,
  type SignRequest,
  type SignatureAlgorithm,
  type Signer,
} from '../../smime/keys';
import type { CardWatcher } from '../pcsc/card-watcher';
import { CardError, CardErrorCode } from '../pcsc/errors';
import { PinEntryCancelledError, WrongPinError, PinBlockedError } from './errors';
import type { PinCache } from './pin-cache';
import { PivSession, PivSlot, type PivKeyAlgorithm } from './piv-session';

/**
 * The staff card as the S/MIME core's `Signer` (slot 9C) and `Decryptor` (slot 9D). Each
 * operation is one exclusive card transaction: SELECT, card identity check, VERIFY, GENERAL
 * AUTHENTICATE. The PIN comes from the cache or, once per action, from the user; a wrong PIN is
 * reported with the tries left and never retried automatically.
 */
export interface PinRequest {
  reader: string;
  cardId: string;
  purpose: 'sign' | 'decrypt';
  /** From the 00 20 00 80 status probe, so the prompt can say "2 tries left". */
  triesLeft: number | undefined;
}
/** Asks the user for the PIN; resolves null when they cancel. */
export type PinPrompt = (request: PinRequest) => Promise<string | null>;

export interface CardKeyOptions {
  watcher: CardWatcher;
  pinPrompt: PinPrompt;
  pinCache: PinCache;
  reader?: string;
}

/** What one card operation cost: APDUs, time on the wire (card + pcscd), and host-side time. */
export interface OperationStats {
  apdus: number;
  transmitMs: number;
  hostMs: number;
  totalMs: number;
  prompted: boolean;
}

export class CardChangedError extends CardError {
  constructor() {
    super(CardErrorCode.CARD_ABSENT, 'A different card was inserted. Insert the card you started with.');
  }
}

interface SlotInfo {
  reader: string;
  cardId: string;
  certificate: Uint8Array;
  algorithm: PivKeyAlgorithm;
}

async function readSlot(opts: CardKeyOptions, slot: number): Promise<SlotInfo> {
  return opts.watcher.transaction(
    async (channel) => {
      const piv = new PivSession(channel);
      await piv.select();
      const cardId = (await piv.cardGuid()) ?? 'unknown-card';
      const certificate = await piv.readCertificate(slot);
      if (!certificate)
        throw new CardError(
          CardErrorCode.OBJECT_NOT_FOUND,
          `The card has no certificate in slot ${slot.toString(16).toUpperCase()}. Ask IT to enrol it.`,
        );
      const key = new X509Certificate(certificate).publicKey;
      const algorithm: PivKeyAlgorithm =
        key.asymmetricKeyType === 'rsa' && key.asymmetricKeyDetails?.modulusLength === 2048
          ? 'rsa2048'
          : key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1'
            ? 'p256'
            : (() => {
                throw new CardError(
                  CardErrorCode.UNSUPPORTED,
                  'The card certificate uses a key type outside the SSMAX profile.',
                );
              })();
      return { reader: channel.readerName, cardId, certificate, algorithm };
    },
    { reader: opts.reader },
  );
}

/** Runs one PIN-protected operation in one transaction, prompting at most once. */
async function withPin<T>(
  opts: CardKeyOptions,
  info: SlotInfo,
  purpose: PinRequest['purpose'],
  op: (piv: PivSession) => Promise<T>,
): Promise<{ result: T; stats: OperationStats }> {
  const t0 = performance.now();
  let pin = opts.pinCache.get(info.cardId);
  let prompted = false;
  let apdus = 0;
  let transmitMs = 0;
  let promptMs = 0;
  if (pin === undefined) {
    // Short transaction for the tries left, then prompt with the card free for other programs.
    const status = await opts.watcher.transaction(
      async (channel) => {
        const piv = new PivSession(channel);
        await piv.select();
        const s = await piv.pinStatus();
        apdus += piv.stats.apdus;
        transmitMs += piv.stats.transmitMs;
        return s;
      },
      { reader: info.reader },
    );
    if (status.blocked) throw new PinBlockedError();
    const p0 = performance.now();
    const entered = await opts.pinPrompt({
      reader: info.reader,
      cardId: info.cardId,
      purpose,
      triesLeft: status.triesLeft,
    });
    promptMs = performance.now() - p0;
    if (entered === null) throw new PinEntryCancelledError();
    pin = entered;
    prompted = true;
  }
  const result = await opts.watcher.transaction(
    async (channel) => {
      const piv = new PivSession(channel);
      try {
        await piv.select();
        if (((await piv.cardGuid()) ?? 'unknown-card') !== info.cardId) throw new CardChangedError();
        try {
          await piv.verifyPin(pin as string);
        } catch (err) {
          if (err instanceof WrongPinError || err instanceof PinBlockedError)
            opts.pinCache.clear(info.cardId);
          throw err;
        }
        opts.pinCache.set(info.cardId, pin as string);
        return await op(piv);
      } finally {
        apdus += piv.stats.apdus;
        transmitMs += piv.stats.transmitMs;
      }
    },
    { reader: info.reader },
  );
  const totalMs = performance.now() - t0 - promptMs;
  return { result, stats: { apdus, transmitMs, hostMs: totalMs - transmitMs, totalMs, prompted } };
}

export interface CardSignerOptions extends CardKeyOptions {
  slot?: number;
  hash?: HashName;
  /** RSA only: PKCS#1 v1.5 (default) or PSS, padded on the host. */
  rsaScheme?: 'pkcs1' | 'pss';
}

export class CardSigner implements Signer {
  lastStats: OperationStats | undefined;

  private constructor(
    private readonly opts: CardSignerOptions,
    private readonly info: SlotInfo,
    readonly algorithm: SignatureAlgorithm,
  ) {}

  get certificate(): Uint8Array {
    return this.info.certificate;
  }

  get cardId(): string {
    return this.info.cardId;
  }

  /** Reads the signature certificate from the card (no PIN needed). */
  static async open(opts: CardSignerOptions): Promise<CardSigner> {
    const info = await readSlot(opts, opts.slot ?? PivSlot.SIGNATURE);
    const hash = opts.hash ?? 'SHA-256';
    const algorithm: SignatureAlgorithm =
      info.algorithm === 'p256'
        ? { name: 'ECDSA', hash, namedCurve: 'P-256' }
        : opts.rsaScheme === 'pss'
          ? { name: 'RSA-PSS', hash, saltLength: hashBytes(hash, new Uint8Array()).length }
          : { name: 'RSASSA-PKCS1-v1_5', hash };
    return new CardSigner(opts, info, algorithm);
  }

  async sign(request: SignRequest): Promise<Uint8Array> {
    const slot = this.opts.slot ?? PivSlot.SIGNATURE;
    const alg = this.algorithm;
    const { result, stats } = await withPin(this.opts, this.info, 'sign', (piv) =>
      alg.name === 'ECDSA'
        ? piv.ecdsaSign(slot, request.digest)
        : signWithRawRsa(alg, request.digest, 2048, (block) => piv.rsaRaw(slot, block)),
    );
    this.lastStats = stats;
    return result;
  }
}

/** Opens the key-management slot (9D) as the core's RSA or ECDH decryptor, by the certificate's key. */
export async function openCardDecryptor(
  opts: CardKeyOptions & { slot?: number },
): Promise<(RsaDecryptor | EcdhDecryptor) & { lastStats: OperationStats | undefined }> {
  const slot = opts.slot ?? PivSlot.KEY_MANAGEMENT;
  const info = await readSlot(opts, slot);
  if (info.algorithm === 'rsa2048') {
    const d: RsaDecryptor & { lastStats: OperationStats | undefined } = {
      kind: 'rsa',
      certificate: info.certificate,
      modulusLength: 256,
      lastStats: undefined,
      async rsaRawDecrypt(block: Uint8Array): Promise<Uint8Array> {
        const { result, stats } = await withPin(opts, info, 'decrypt', (piv) => piv.rsaRaw(slot, block));
        d.lastStats = stats;
        return result;
      },
    };
    return d;
  }
  const d: EcdhDecryptor & { lastStats: OperationStats | undefined } = {
    kind: 'ecdh',
    certificate: info.certificate,
    namedCurve: 'P-256',
    lastStats: undefined,
    async ecdh(peerPublicPoint: Uint8Array): Promise<Uint8Array> {
      const { result, stats } = await withPin(opts, info, 'decrypt', (piv) =>
        piv.ecdh(slot, peerPublicPoint),
      );
      d.lastStats = stats;
      return result;
    },
  };
  return d;
}
