import { describe, expect, it } from 'vitest';
import {
  backoffDelay,
  describeConnectError,
  imapClientOptions,
  ImapAuthFailed,
  ImapOffline,
} from '../../../client/mail/connection';

describe('backoffDelay', () => {
  const opts = { baseMs: 500, maxMs: 60_000 };

  it('doubles per attempt up to the ceiling, with jitter in the upper half', () => {
    const low = (a: number): number => backoffDelay(a, opts, () => 0);
    const high = (a: number): number => backoffDelay(a, opts, () => 1);
    expect([1, 2, 3, 4].map(low)).toEqual([250, 500, 1000, 2000]);
    expect([1, 2, 3, 4].map(high)).toEqual([500, 1000, 2000, 4000]);
    expect(high(8)).toBe(60_000);
    expect(low(50)).toBe(30_000);
    expect(high(1_000)).toBe(60_000);
  });

  it('spreads clients that failed together', () => {
    let seed = 1;
    const random = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const delays = Array.from({ length: 50 }, () => backoffDelay(5, opts, random));
    expect(new Set(delays).size).toBeGreaterThan(40);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(4000);
    expect(Math.max(...delays)).toBeLessThanOrEqual(8000);
  });
});

describe('IMAP client options and errors', () => {
  const base = { host: 'imap.org-a.test', port: 143, username: 'alice', password: 'pw-secret-123' };

  it('STARTTLS is required (not opportunistic) and verifies against the pinned CA', () => {
    const o = imapClientOptions({ ...base, security: 'starttls', caCertPem: 'PEM' });
    expect(o).toMatchObject({
      secure: false,
      doSTARTTLS: true,
      tls: { ca: ['PEM'], rejectUnauthorized: true },
    });
    expect(imapClientOptions({ ...base, security: 'tls' })).toMatchObject({
      secure: true,
      tls: { rejectUnauthorized: true },
    });
    expect(imapClientOptions({ ...base, security: 'none' })).toMatchObject({
      secure: false,
      doSTARTTLS: false,
    });
  });

  it('describes failures without the password', () => {
    const auth = describeConnectError(
      { authenticationFailed: true, message: `login failed for pw-secret-123` },
      base,
    );
    expect(auth).toBeInstanceOf(ImapAuthFailed);
    expect(auth.message).not.toContain(base.password);
    const net = describeConnectError(
      Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      base,
    );
    expect(net).toBeInstanceOf(ImapOffline);
    expect(net.message).toBe('Cannot connect to imap.org-a.test:143 (ECONNREFUSED).');
  });
});
