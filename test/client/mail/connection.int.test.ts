import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ImapConnection,
  checkLogin,
  type ConnectionState,
  type ImapSettings,
} from '../../../client/mail/connection';
import { startDovecot, type DovecotHandle, type MailUser } from '../../harness/dovecot';
import { eventually } from './support';

/** Login modes against a real Dovecot offering STARTTLS with a self-signed certificate. */

const alice: MailUser = { address: 'alice@org-a.test', password: 'alice-imap-secret-7' };
let dovecot: DovecotHandle;

beforeAll(async () => {
  dovecot = await startDovecot({ users: [alice], starttls: true });
});
afterAll(async () => {
  await dovecot?.stop();
});

const settings = (over: Partial<ImapSettings> = {}): ImapSettings => ({
  host: dovecot.imap.host,
  port: dovecot.imap.port,
  security: 'starttls',
  username: alice.address,
  password: alice.password,
  ...over,
});

describe('IMAP connection', () => {
  it('logs in over STARTTLS trusting only the pinned server certificate, and closes cleanly', async () => {
    const conn = new ImapConnection(settings({ caCertPem: dovecot.tls!.certPem }));
    conn.start();
    try {
      await conn.waitOnline(20_000);
      const secure = await conn.run(async (c) => {
        await c.mailboxOpen('INBOX');
        return c.secureConnection;
      });
      expect(secure).toBe(true);
      expect(conn.condstore).toBe(true);
    } finally {
      await conn.stop();
    }
    expect(conn.state).toEqual({ state: 'closed' });
  });

  it('refuses a server certificate that is not pinned (no fallback to plaintext), and keeps retrying with backoff', async () => {
    await expect(checkLogin(settings())).rejects.toThrow(/Cannot connect/);
    const states: ConnectionState[] = [];
    const conn = new ImapConnection(settings(), { backoff: { baseMs: 50, maxMs: 200 } });
    conn.onState((s) => states.push(s));
    conn.start();
    try {
      await eventually('two failed attempts', () =>
        states.filter((s) => s.state === 'offline').length >= 2 ? true : undefined,
      );
    } finally {
      await conn.stop();
    }
    expect(conn.connects).toBe(0);
    const offline = states.find((s) => s.state === 'offline');
    console.log(`untrusted certificate: ${offline?.state === 'offline' ? offline.error : ''}`);
  });

  it('stops on a wrong password (auth-failed, no retry), without the password in any state', async () => {
    const wrong = settings({ caCertPem: dovecot.tls!.certPem, password: 'wrong-password-xyz' });
    await expect(checkLogin(wrong)).rejects.toMatchObject({ name: 'ImapAuthFailed' });
    const states: ConnectionState[] = [];
    const conn = new ImapConnection(wrong, { backoff: { baseMs: 50, maxMs: 200 } });
    conn.onState((s) => states.push(s));
    conn.start();
    await expect(conn.waitOnline(20_000)).rejects.toMatchObject({ name: 'ImapAuthFailed' });
    await conn.stop();
    expect(states.filter((s) => s.state === 'connecting')).toHaveLength(1);
    expect(states.some((s) => s.state === 'auth-failed')).toBe(true);
    expect(JSON.stringify(states)).not.toContain('wrong-password-xyz');
  });
});
