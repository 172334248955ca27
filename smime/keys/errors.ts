import { SmimeError } from '../errors';

/**
 * A private-key operation failed (wrong key type, card error, bad input size). Token
 * implementations subclass it for their own conditions (card removed, PIN blocked, ...).
 */
export class KeyOperationError extends SmimeError {}

/** The key or certificate is not one the SSMAX profile accepts (RSA < 2048, curve other than P-256, ...). */
export class UnsupportedKeyError extends SmimeError {}
