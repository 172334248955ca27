import { ApiError } from '../../api';
import { CardError, CardErrorCode } from '../../native/pcsc/errors';
import { PinBlockedError, PinEntryCancelledError, WrongPinError } from '../../native/piv/errors';

/**
 * Card failures as they cross the API: typed codes the UI can switch on, an English sentence
 * that says what to do, and — for a wrong PIN — the tries left in the message. Nothing here retries.
 */
export class PinCancelled extends ApiError {
  override readonly name = 'PinCancelled';
  constructor(method?: string) {
    super('PinCancelled', 'PIN entry was cancelled. Nothing was signed or decrypted; try again when ready.', {
      method,
    });
  }
}

export class WrongPin extends ApiError {
  override readonly name = 'WrongPin';
  constructor(
    readonly triesLeft: number,
    method?: string,
  ) {
    super('WrongPin', `Wrong PIN, ${triesLeft} ${triesLeft === 1 ? 'try' : 'tries'} left.`, { method });
  }
}

export class PinBlocked extends ApiError {
  override readonly name = 'PinBlocked';
  constructor(method?: string) {
    super(
      'PinBlocked',
      'The PIN is blocked after too many wrong tries. Unblock it with the PUK (ssmax card unblock), or ask IT.',
      { method },
    );
  }
}

export class CardUnavailable extends ApiError {
  override readonly name = 'CardUnavailable';
  constructor(message: string, method?: string, cause?: unknown) {
    super('CardUnavailable', message, { method, cause });
  }
}

/** Maps anything the card layer throws to the API's typed errors (ApiErrors pass through). */
export function cardApiError(err: unknown, method?: string, opts: { removed?: boolean } = {}): ApiError {
  if (err instanceof ApiError) return err;
  if (opts.removed)
    return new CardUnavailable('The card was removed. Insert it and try again; nothing was lost.', method, err);
  if (err instanceof PinEntryCancelledError) return new PinCancelled(method);
  if (err instanceof WrongPinError) return new WrongPin(err.triesLeft, method);
  if (err instanceof PinBlockedError) return new PinBlocked(method);
  if (err instanceof CardError) {
    const message =
      err.code === CardErrorCode.CARD_ABSENT || err.code === CardErrorCode.CARD_REMOVED
        ? 'No staff card is inserted (or it was removed). Insert the card and try again; nothing was lost.'
        : err.userMessage;
    return new CardUnavailable(message, method, err);
  }
  const message = err instanceof Error ? err.message : String(err);
  return new ApiError('Internal', `the card service failed: ${message}`, { method, cause: err });
}
