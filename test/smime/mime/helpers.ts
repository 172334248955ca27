import path from 'node:path';
import { readFileSync } from 'node:fs';
import { sharedFixturesDir } from '../../support/shared-fixtures';

export { repoRoot } from '../../support/shared-fixtures';
export const fixturesDir = sharedFixturesDir;

export function fixture(relative: string): Buffer {
  return readFileSync(path.join(fixturesDir, relative));
}

export const crlf = (s: string): Buffer => Buffer.from(s.replace(/\r?\n/g, '\r\n'), 'utf8');
export const lf = (s: string): Buffer => Buffer.from(s.replace(/\r\n/g, '\n'), 'utf8');

/** Deterministic pseudo-random bytes (xorshift32), so generated inputs are the same on every run. */
export function pseudoRandomBytes(length: number, seed = 0x2545f491): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

export function peakRssMiB(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}
