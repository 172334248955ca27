import { KeyOperationError } from '../../smime/keys';

/**
 * Numbered card errors. The number tells support what went wrong without a stack trace; the
 * hundreds say where: 1xx PC/SC service, 2xx reader and card presence, 3xx talking to the card,
 * 4xx PIV security (PIN, PUK, management key), 5xx PIV data and keys. Every error is a
 * `KeyOperationError`, so the S/MIME core can catch card failures like any key failure.
 */
export const CardErrorCode = {
  PCSC_UNAVAILABLE: 101,
  PCSC_FAILED: 102,
  READER_NOT_FOUND: 201,
  CARD_ABSENT: 202,
  CARD_REMOVED: 203,
  CARD_RESET: 204,
  CARD_IN_USE: 205,
  CARD_TIMEOUT: 301,
  CARD_COMMUNICATION: 302,
  BAD_RESPONSE: 303,
  PIN_WRONG: 401,
  PIN_BLOCKED: 402,
  PIN_REQUIRED: 403,
  PUK_WRONG: 404,
  PUK_BLOCKED: 405,
  MGMT_KEY_REJECTED: 406,
  SECURITY_STATUS: 407,
  PIN_ENTRY_CANCELLED: 408,
  PIN_FORMAT: 409,
  OBJECT_NOT_FOUND: 501,
  KEY_NOT_FOUND: 502,
  UNSUPPORTED: 503,
  CARD_STATUS: 504,
} as const;
export type CardErrorCode = (typeof CardErrorCode)[keyof typeof CardErrorCode];

export class CardError extends KeyOperationError {
  readonly code: CardErrorCode;

  constructor(code: CardErrorCode, userMessage: string, options?: { cause?: unknown; detail?: string }) {
    super(userMessage, options);
    this.code = code;
  }
}

export class PcscUnavailableError extends CardError {
  constructor(options?: { cause?: unknown; detail?: string }) {
    super(CardErrorCode.PCSC_UNAVAILABLE, 'The smartcard service (pcscd) is not running.', options);
  }
}
export class ReaderNotFoundError extends CardError {
  constructor(reader: string, options?: { cause?: unknown }) {
    super(CardErrorCode.READER_NOT_FOUND, `Card reader "${reader}" is not connected.`, options);
  }
}
export class CardAbsentError extends CardError {
  constructor(options?: { cause?: unknown; detail?: string }) {
    super(CardErrorCode.CARD_ABSENT, 'Insert your staff ID card.', options);
  }
}
export class CardRemovedError extends CardError {
  constructor(options?: { cause?: unknown; detail?: string }) {
    super(
      CardErrorCode.CARD_REMOVED,
      'The staff ID card was removed during the operation. Nothing was signed; insert the card and try again.',
      options,
    );
  }
}
export class CardResetError extends CardError {
  constructor(options?: { cause?: unknown; detail?: string }) {
    super(CardErrorCode.CARD_RESET, 'The card was reset by another program. Try again.', options);
  }
}
export class CardInUseError extends CardError {
  constructor(options?: { cause?: unknown; detail?: string }) {
    super(
      CardErrorCode.CARD_IN_USE,
      'Another program is using the staff ID card. Close it and try again.',
      options,
    );
  }
}
export class CardTimeoutError extends CardError {
  constructor(ms: number, options?: { cause?: unknown; detail?: string }) {
    super(
      CardErrorCode.CARD_TIMEOUT,
      `The card did not answer within ${Math.round(ms / 1000)} s. Remove it, insert it again and retry.`,
      options,
    );
  }
}
export class CardCommunicationError extends CardError {
  constructor(options?: { cause?: unknown; detail?: string }) {
    super(
      CardErrorCode.CARD_COMMUNICATION,
      'Communication with the card failed. Remove it, insert it again and retry.',
      options,
    );
  }
}
export class BadCardResponseError extends CardError {
  constructor(detail: string, options?: { cause?: unknown }) {
    super(CardErrorCode.BAD_RESPONSE, 'The card sent an answer this program does not understand.', {
      ...options,
      detail,
    });
  }
}

/** PC/SC return codes (pcsc-lite pcsclite.h) the layer distinguishes. */
export const SCARD = {
  E_CANCELLED: 0x80100002,
  E_INVALID_HANDLE: 0x80100003,
  E_UNKNOWN_READER: 0x80100009,
  E_TIMEOUT: 0x8010000a,
  E_SHARING_VIOLATION: 0x8010000b,
  E_NO_SMARTCARD: 0x8010000c,
  E_NOT_TRANSACTED: 0x80100016,
  E_READER_UNAVAILABLE: 0x80100017,
  F_COMM_ERROR: 0x80100013,
  E_NO_SERVICE: 0x8010001d,
  E_SERVICE_STOPPED: 0x8010001e,
  E_NO_READERS_AVAILABLE: 0x8010002e,
  W_UNRESPONSIVE_CARD: 0x80100066,
  W_UNPOWERED_CARD: 0x80100067,
  W_RESET_CARD: 0x80100068,
  W_REMOVED_CARD: 0x80100069,
} as const;

/** Extracts the PC/SC code that @pokusew/pcsclite puts in its messages ("...(0x80100069)"). */
export function pcscCodeOf(err: unknown): number | undefined {
  const m = /\(0x([0-9a-f]{8})\)/i.exec(err instanceof Error ? err.message : String(err));
  return m?.[1] ? parseInt(m[1], 16) : undefined;
}

/** Maps a binding error to the typed error a user can act on. */
export function fromPcscError(err: unknown, what: string): CardError {
  if (err instanceof CardError) return err;
  const code = pcscCodeOf(err);
  const detail = `${what}: ${err instanceof Error ? err.message : String(err)}`;
  switch (code) {
    case SCARD.W_REMOVED_CARD:
    case SCARD.E_NO_SMARTCARD:
      return code === SCARD.E_NO_SMARTCARD
        ? new CardAbsentError({ cause: err, detail })
        : new CardRemovedError({ cause: err, detail });
    case SCARD.W_RESET_CARD:
      return new CardResetError({ cause: err, detail });
    case SCARD.E_SHARING_VIOLATION:
      return new CardInUseError({ cause: err, detail });
    case SCARD.E_NO_SERVICE:
    case SCARD.E_SERVICE_STOPPED:
    case SCARD.F_COMM_ERROR:
      return new PcscUnavailableError({ cause: err, detail });
    case SCARD.E_UNKNOWN_READER:
    case SCARD.E_READER_UNAVAILABLE:
      return new CardError(CardErrorCode.READER_NOT_FOUND, 'The card reader was disconnected.', {
        cause: err,
        detail,
      });
    case SCARD.E_NOT_TRANSACTED:
    case SCARD.W_UNRESPONSIVE_CARD:
    case SCARD.W_UNPOWERED_CARD:
    case SCARD.E_INVALID_HANDLE:
      return new CardCommunicationError({ cause: err, detail });
    default:
      return new CardError(CardErrorCode.PCSC_FAILED, 'The smartcard service reported an error.', {
        cause: err,
        detail,
      });
  }
}
