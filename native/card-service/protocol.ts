import { CardError, CardErrorCode, CardTimeoutError, type CardErrorCode as Code } from '../pcsc/errors';
import { PinBlockedError, PinEntryCancelledError, WrongPinError, WrongPukError } from '../piv/errors';
import type { PinRequest } from '../piv/card-keys';
import type { SignatureAlgorithm } from '../../smime/keys';

/**
 * Messages between the app and the card service process. Everything is structured-clone data
 * (Uint8Array travels as is with Node's `serialization: 'advanced'` and Electron's utility
 * process), so the same protocol runs over child_process.fork and Electron `utilityProcess`.
 */
export type CardRequest =
  | { op: 'open-signer'; reader?: string }
  | { op: 'open-decryptor'; reader?: string }
  | { op: 'sign'; reader?: string; digest: Uint8Array; data: Uint8Array }
  | { op: 'rsa-raw-decrypt'; reader?: string; block: Uint8Array }
  | { op: 'ecdh'; reader?: string; point: Uint8Array }
  | { op: 'readers' }
  | { op: 'status'; reader?: string }
  | { op: 'clear-pin' }
  // IT enrollment (native/piv/enrollment.ts), each in one card transaction; secrets travel only in these requests.
  | { op: 'enroll-initialise'; reader?: string; init: EnrollInitialisation }
  | { op: 'enroll-generate'; reader?: string; algorithm: 'rsa2048' | 'p256'; subject: string; pin: string; managementKey: Uint8Array }
  | { op: 'enroll-write'; reader?: string; managementKey: Uint8Array; signatureCertificate: Uint8Array; keyManagementCertificate: Uint8Array; orgCa: Uint8Array }
  | { op: 'enroll-check'; reader?: string; pin: string };

/** Card initialisation: the current secrets (factory values on a fresh card) and the organisation's new ones (absent: kept). */
export interface EnrollInitialisation {
  currentPin: string;
  currentPuk: string;
  currentManagementKey: Uint8Array;
  newPin: string;
  newPuk?: string;
  newManagementKey?: { algorithm: '3des' | 'aes128' | 'aes192' | 'aes256'; key: Uint8Array };
}

/** What `enroll-generate` answers: per slot the public key (SPKI DER) and the card-signed PKCS#10 request (DER). */
export interface GeneratedKeys {
  signature: { spki: Uint8Array; csr: Uint8Array };
  keyManagement: { spki: Uint8Array; csr: Uint8Array };
}

export interface SignerInfo {
  certificate: Uint8Array;
  algorithm: SignatureAlgorithm;
  cardId: string;
}
/** What `status` answers: which reader, whether a card is in it, its PIN state and 9C certificate (no PIN used). */
export type CardStatusInfo =
  | { state: 'no-reader' }
  | { state: 'no-card'; reader: string }
  | {
      state: 'present';
      reader: string;
      cardId: string;
      /** The 9C (digital signature) certificate, absent on a card that is not enrolled. */
      signatureCertificate: Uint8Array | undefined;
      /** From the 00 20 00 80 probe; undefined when the card does not say. */
      triesLeft: number | undefined;
      blocked: boolean;
      /** The service holds this card's PIN (one prompt per action; cleared on removal, lock, timeout). */
      pinCached: boolean;
    };

export interface DecryptorInfo {
  kind: 'rsa' | 'ecdh';
  certificate: Uint8Array;
}

export type ToService =
  | { type: 'request'; id: number; request: CardRequest }
  | { type: 'pin-response'; id: number; pin: string | null };

export type FromService =
  | { type: 'ready' }
  | { type: 'response'; id: number; ok: true; value: unknown; stats?: unknown }
  | { type: 'response'; id: number; ok: false; error: SerializedCardError }
  | { type: 'pin-request'; id: number; request: PinRequest }
  | { type: 'event'; event: 'insert' | 'remove' | 'service-lost' | 'service-restored'; reader?: string };

export interface SerializedCardError {
  name: string;
  code: number | undefined;
  userMessage: string;
  message: string;
  triesLeft?: number;
}

export function serializeError(err: unknown): SerializedCardError {
  if (err instanceof CardError) {
    return {
      name: err.name,
      code: err.code,
      userMessage: err.userMessage,
      message: err.message,
      triesLeft: (err as { triesLeft?: number }).triesLeft,
    };
  }
  // Card errors wrapped by the core (or anything else): keep the innermost card error if any.
  for (let e: unknown = err; e instanceof Error; e = e.cause)
    if (e instanceof CardError) return serializeError(e);
  const message = err instanceof Error ? err.message : String(err);
  return { name: 'Error', code: undefined, userMessage: 'The card service failed.', message };
}

/** Rebuilds the typed error on the app side, so callers can `instanceof WrongPinError`. */
export function reviveError(e: SerializedCardError): Error {
  switch (e.name) {
    case 'WrongPinError':
      return new WrongPinError(e.triesLeft ?? 0);
    case 'WrongPukError':
      return new WrongPukError(e.triesLeft ?? 0);
    case 'PinBlockedError':
      return new PinBlockedError();
    case 'PinEntryCancelledError':
      return new PinEntryCancelledError();
    case 'CardTimeoutError':
      return new CardTimeoutError(0, { detail: e.message });
  }
  if (e.code !== undefined) {
    const err = new CardError(e.code as Code, e.userMessage, { detail: e.message });
    err.name = e.name;
    return err;
  }
  return new CardError(CardErrorCode.PCSC_FAILED, e.userMessage, { detail: e.message });
}
