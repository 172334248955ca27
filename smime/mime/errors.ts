/**
 * Typed errors of the MIME layer. Every error carries a message that can be shown to a user as is
 * (no stack traces, no library jargon) and, where one exists, the underlying cause.
 */

export class MimeError extends Error {
  override readonly name: string = 'MimeError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Which safety limit was exceeded; see ParseOptions for the defaults. */
export type MimeLimit = 'message-size' | 'header-size' | 'header-count' | 'part-count' | 'depth';

/** The input exceeds a safety limit. Nothing of such a message may be shown as verified. */
export class MimeLimitError extends MimeError {
  override readonly name: string = 'MimeLimitError';
  constructor(
    readonly limit: MimeLimit,
    readonly max: number,
    message: string,
  ) {
    super(message);
  }
}

/** MIME entities nested deeper than the limit (a classic resource-exhaustion trick). */
export class MimeNestingError extends MimeLimitError {
  override readonly name: string = 'MimeNestingError';
  constructor(
    max: number,
    readonly path: string,
  ) {
    super('depth', max, `The message is nested more than ${max} levels deep and cannot be displayed safely.`);
  }
}

/** A body cannot be decoded (invalid base64, an unknown Content-Transfer-Encoding …). */
export class MimeEncodingError extends MimeError {
  override readonly name: string = 'MimeEncodingError';
}

/** Builder input that cannot produce a correct message (e.g. signed bytes that are not canonical). */
export class MimeBuildError extends MimeError {
  override readonly name: string = 'MimeBuildError';
}
