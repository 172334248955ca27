/**
 * Typed errors of the MIME layer. They extend the core's SmimeError, so `userMessage` can be shown
 * to a user as is (no stack traces, no library jargon) and `cause` keeps the underlying error.
 */
import { SmimeError } from '../errors';

export class MimeError extends SmimeError {}

/** Which safety limit was exceeded; see DEFAULT_PARSE_LIMITS. */
export type MimeLimit = 'message-size' | 'header-size' | 'header-count' | 'part-count' | 'depth';

/** The input exceeds a safety limit. Nothing of such a message may be shown as verified. */
export class MimeLimitError extends MimeError {
  constructor(
    readonly limit: MimeLimit,
    readonly max: number,
    userMessage: string,
  ) {
    super(userMessage);
  }
}

/** MIME entities nested deeper than the limit (a classic resource-exhaustion trick). */
export class MimeNestingError extends MimeLimitError {
  constructor(
    max: number,
    /** Path of the entity that went over the limit. */
    readonly path: string,
  ) {
    super('depth', max, `The message is nested more than ${max} levels deep and cannot be displayed safely.`);
  }
}

/** A body cannot be decoded (invalid base64, an unknown Content-Transfer-Encoding …). */
export class MimeEncodingError extends MimeError {}

/** Builder input that cannot produce a correct message (e.g. signed bytes that are not canonical). */
export class MimeBuildError extends MimeError {}
