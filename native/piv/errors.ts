import { CardError, CardErrorCode } from '../pcsc/errors';

/** "Wrong PIN, 2 tries left." — the message of a rejected PIN or PUK. */
function wrongSecretMessage(what: 'PIN' | 'PUK', triesLeft: number): string {
  return `Wrong ${what}, ${triesLeft} ${triesLeft === 1 ? 'try' : 'tries'} left.`;
}

/** The CardError options carrying an optional technical detail. */
function detailOptions(detail: string | undefined): { detail: string } | undefined {
  return detail === undefined ? undefined : { detail };
}

/** PIV-level failures, numbered in the card error scheme (4xx security, 5xx data and keys). */
export class WrongPinError extends CardError {
  constructor(readonly triesLeft: number) {
    super(CardErrorCode.PIN_WRONG, wrongSecretMessage('PIN', triesLeft));
  }
}
export class PinBlockedError extends CardError {
  constructor() {
    super(CardErrorCode.PIN_BLOCKED, 'The PIN is blocked. Unblock it with the PUK, or ask IT.');
  }
}
export class PinRequiredError extends CardError {
  constructor(detail?: string) {
    super(CardErrorCode.PIN_REQUIRED, 'The card needs your PIN for this.', detailOptions(detail));
  }
}
export class PinEntryCancelledError extends CardError {
  constructor() {
    super(CardErrorCode.PIN_ENTRY_CANCELLED, 'PIN entry was cancelled. Nothing was signed or decrypted.');
  }
}
export class WrongPukError extends CardError {
  constructor(readonly triesLeft: number) {
    super(CardErrorCode.PUK_WRONG, wrongSecretMessage('PUK', triesLeft));
  }
}
export class PukBlockedError extends CardError {
  constructor() {
    super(CardErrorCode.PUK_BLOCKED, 'The PUK is blocked. The card must be reset by IT.');
  }
}
export class ManagementKeyError extends CardError {
  constructor(detail?: string) {
    super(
      CardErrorCode.MGMT_KEY_REJECTED,
      'The card management key was not accepted.',
      detailOptions(detail),
    );
  }
}
export class CardStatusError extends CardError {
  constructor(
    readonly sw: number,
    what: string,
  ) {
    const code =
      sw === 0x6982
        ? CardErrorCode.SECURITY_STATUS
        : sw === 0x6a82
          ? CardErrorCode.OBJECT_NOT_FOUND
          : sw === 0x6a88
            ? CardErrorCode.KEY_NOT_FOUND
            : sw === 0x6d00 || sw === 0x6a81
              ? CardErrorCode.UNSUPPORTED
              : CardErrorCode.CARD_STATUS;
    const message =
      code === CardErrorCode.SECURITY_STATUS
        ? 'The card refused: PIN or management key required.'
        : code === CardErrorCode.KEY_NOT_FOUND
          ? 'The card has no key in that slot.'
          : code === CardErrorCode.OBJECT_NOT_FOUND
            ? 'The card does not hold that object.'
            : code === CardErrorCode.UNSUPPORTED
              ? 'The card does not support this operation.'
              : 'The card refused the operation.';
    super(code, message, { detail: `${what}: SW ${sw.toString(16).padStart(4, '0')}` });
  }
}
export class PinFormatError extends CardError {
  constructor(what: 'PIN' | 'PUK') {
    super(CardErrorCode.PIN_FORMAT, `The ${what} must be 6 to 8 characters.`);
  }
}
