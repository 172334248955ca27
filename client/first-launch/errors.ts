import type { BundleRejection } from '../../smime/bundle';

/**
 * Typed first-launch errors. `code` says what the UI must do: `offline` (the bundle host cannot be
 * reached: keep using the pinned bundle while it is valid), `rejected` (the bundle failed
 * verification: never trusted, nothing pinned or replaced), `no-trust-anchor` (no SSMAX root
 * configured), `no-address` (neither card nor provisioning file nor argument gave an address),
 * `not-discovered` (confirm without a discovery), `storage` (the pin could not be written).
 */
export type FirstLaunchErrorCode = 'offline' | 'rejected' | 'no-trust-anchor' | 'no-address' | 'not-discovered' | 'storage';

export class FirstLaunchError extends Error {
  constructor(
    readonly code: FirstLaunchErrorCode,
    message: string,
    readonly detail: { reason?: BundleRejection; cause?: unknown } = {},
  ) {
    super(message, detail.cause === undefined ? undefined : { cause: detail.cause });
    this.name = 'FirstLaunchError';
  }

  /** For `rejected`: the verifier's reason (`signature-invalid`, `untrusted-root`, `rolled-back`, …). */
  get reason(): BundleRejection | undefined {
    return this.detail.reason;
  }
}

/** The bundle host could not be reached or answered something other than 200. */
export class BundleUnreachable extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BundleUnreachable';
  }
}
