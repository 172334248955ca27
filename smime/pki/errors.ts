import { SmimeError } from '../errors';

/** A certificate or CRL could not be built as the SSMAX profile requires. */
export class ProfileError extends SmimeError {}
