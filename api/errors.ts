/**
 * Errors that cross the API boundary. They travel as plain values (an IPC reply or a WebSocket
 * frame cannot carry a class), and are turned back into `ApiError` instances on the calling side,
 * so the UI can switch on `code` and show its own translated text, while `message` stays a
 * readable English sentence for logs and for callers without a dictionary.
 */

export const API_ERROR_CODES = [
  /** The method is declared in the interface but this build does not implement it yet. */
  'NotAvailableYet',
  /** The arguments failed the method's schema; nothing was done. */
  'InvalidArguments',
  /** The method name is not in the channel table. */
  'UnknownMethod',
  /** The caller is not allowed to call at all (wrong frame, wrong origin, no token). */
  'Refused',
  /** The connection to the main process is gone (bridge closed, window reloading). */
  'Disconnected',
  /** Stored state could not be read or written (settings file, cache). */
  'StorageFailed',
  /** The account, folder or message named does not exist (any more). */
  'NotFound',
  /** The mail server cannot be reached now (offline, refused, TLS failure); the client keeps retrying. */
  'ServerUnavailable',
  /** The mail server refused the user name or password. */
  'LoginFailed',
  /** The user cancelled the PIN prompt (or it was withdrawn): nothing was signed or decrypted, nothing lost. */
  'PinCancelled',
  /** The card refused the PIN; the message says how many tries are left. Never retried automatically. */
  'WrongPin',
  /** The PIN is blocked: unblock with the PUK or ask IT. */
  'PinBlocked',
  /** No reader, no card, card removed during the operation, or the card service is down. */
  'CardUnavailable',
  /** The attachment was judged Danger by an org's inspection: SSMAX does not save it. */
  'AttachmentRefused',
  /** The draft has password-protected archives (PPAP): `compose.send` refuses until the user confirms (`acknowledgedPpap`). */
  'PpapWarning',
  /** Anything else: a bug. The message says what failed; details stay in the main-process log. */
  'Internal',
] as const;

export type ApiErrorCode = (typeof API_ERROR_CODES)[number];

/** The serialisable form of an error, as it crosses IPC and the bridge. */
export interface ApiErrorValue {
  code: ApiErrorCode;
  message: string;
  /** The method that failed, e.g. `settings.update`. */
  method?: string;
  /** For InvalidArguments: which argument paths failed and why (from the schema). */
  issues?: ApiArgumentIssue[];
}

export interface ApiArgumentIssue {
  path: string;
  message: string;
}

export class ApiError extends Error {
  override readonly name: string = 'ApiError';
  readonly code: ApiErrorCode;
  readonly method: string | undefined;
  readonly issues: ApiArgumentIssue[];

  constructor(
    code: ApiErrorCode,
    message: string,
    opts: { method?: string; issues?: ApiArgumentIssue[]; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.method = opts.method;
    this.issues = opts.issues ?? [];
  }

  toValue(): ApiErrorValue {
    const value: ApiErrorValue = { code: this.code, message: this.message };
    if (this.method !== undefined) value.method = this.method;
    if (this.issues.length > 0) value.issues = this.issues;
    return value;
  }

  static fromValue(value: ApiErrorValue): ApiError {
    const opts: { method?: string; issues?: ApiArgumentIssue[] } = {};
    if (value.method !== undefined) opts.method = value.method;
    if (value.issues !== undefined) opts.issues = value.issues;
    return new ApiError(value.code, value.message, opts);
  }
}

/**
 * What an unimplemented method answers: honest about it, never fake data. The UI shows its own
 * "not available in this version yet" text for this code.
 */
export class NotAvailableYet extends ApiError {
  override readonly name = 'NotAvailableYet';
  constructor(method: string) {
    super('NotAvailableYet', `${method} is not available in this version of SSMAX yet`, { method });
  }
}

export function isApiErrorCode(value: unknown): value is ApiErrorCode {
  return typeof value === 'string' && (API_ERROR_CODES as readonly string[]).includes(value);
}
