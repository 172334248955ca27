import { SmimeError } from '../errors';

/** The input is not well-formed CMS / DER (truncated, garbage, wrong structure, too deep). */
export class CmsFormatError extends SmimeError {}

/** The message uses an algorithm SSMAX deliberately does not accept (SHA-1, MD5, DSA, RC2, small RSA...). */
export class UnsupportedAlgorithmError extends SmimeError {
  constructor(
    readonly algorithm: string,
    userMessage = `The message uses an algorithm that is not accepted: ${algorithm}.`,
    options?: { cause?: unknown; detail?: string },
  ) {
    super(userMessage, options);
  }
}

/** Decryption failed: no recipient matches our key, the key could not be unwrapped, or the content was tampered with. */
export class DecryptionError extends SmimeError {}

/** Signing or countersigning could not be done (bad target, key error...). */
export class SigningError extends SmimeError {}
