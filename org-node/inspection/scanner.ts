import {
  ClamdConnectionError,
  ClamdSizeLimitError,
  ClamdTimeoutError,
  scanBuffer,
  version,
  type ClamdAddress,
  type ScanVerdict,
} from './clamd-client';

/**
 * What the engine needs from a virus scanner. `clamdScanner()` is the production one (clamd over
 * INSTREAM); unit tests pass a fake. Methods reject with clamd-client's ClamdError subclasses.
 */
export interface Scanner {
  /** e.g. "ClamAV 1.0.7/27450/Thu Nov 19 08:00:00 2026" (clamd VERSION). */
  version(): Promise<string>;
  scan(bytes: Uint8Array): Promise<ScanVerdict>;
}

export function clamdScanner(address: ClamdAddress, idleTimeoutMs: number): Scanner {
  return {
    version: () => version(address, { idleTimeoutMs }),
    scan: (bytes) => scanBuffer(address, bytes, { idleTimeoutMs }),
  };
}

export function isScanner(x: unknown): x is Scanner {
  return typeof x === 'object' && x !== null && typeof (x as Scanner).scan === 'function' && typeof (x as Scanner).version === 'function';
}

/**
 * clamd VERSION "ClamAV 1.0.7/27450/Thu Nov 19 08:00:00 2026" → engine "ClamAV 1.0.7", db
 * "27450/Thu Nov 19 08:00:00 2026". Without an official (versioned) database clamd answers only
 * "ClamAV 1.4.6": the database is then "unversioned" (local signatures only).
 */
export function splitVersion(reply: string): { engine: string; signatureDb: string } {
  const slash = reply.indexOf('/');
  if (slash < 0) return { engine: reply.trim() || 'ClamAV', signatureDb: 'unversioned' };
  const db = reply.slice(slash + 1).replace(/\s+/g, ' ').trim();
  return { engine: reply.slice(0, slash).trim(), signatureDb: db || 'unknown' };
}

/** The scanner is gone (not: this one input was refused); later parts need not try again. */
export function scannerIsDown(err: unknown): boolean {
  return err instanceof ClamdConnectionError || err instanceof ClamdTimeoutError;
}

export function isSizeLimit(err: unknown): boolean {
  return err instanceof ClamdSizeLimitError;
}
