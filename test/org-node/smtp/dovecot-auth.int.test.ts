import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dovecotAuthenticator } from '../../../org-node/smtp/dovecot-auth';
import { mapRoutes } from '../../../org-node/smtp/handoff';
import { startOrgNode, type OrgNodeHandle } from '../../../org-node/smtp/node';
import { startDovecot, type DovecotHandle } from '../../harness/dovecot';
import { safeInspector } from '../relay/relay-world';

/**
 * Submission passwords checked by the org's Dovecot (auth-client socket of the harness Dovecot):
 * the member's IMAP password logs in to submission, a wrong one is 535, a Dovecot that is gone is
 * 454 (temporary: the client keeps the message).
 */
let work: string;
let dovecot: DovecotHandle;
let node: OrgNodeHandle;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'ssmax-dovecot-auth-'));
  dovecot = await startDovecot({ users: [{ address: 'yuki@auth.example', password: 'imap-pw' }] });
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(work, 'tls.key'), '-out', join(work, 'tls.pem'), '-days', '2', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
  node = await startOrgNode({
    name: 'node.auth.example',
    // Only the login is under test here: the relay never runs (MAIL FROM needs a login first).
    relay: { org: { domains: ['auth.example'], caCertificate: new Uint8Array(), signer: undefined as never, decryptors: [] }, trustAnchors: [], directory: { getMember: async () => undefined, certificates: async () => [] }, resolveOrg: async () => undefined, inspect: safeInspector, now: () => new Date() },
    spoolDir: join(work, 'spool'),
    submission: { port: 0, tls: { key: readFileSync(join(work, 'tls.key')), cert: readFileSync(join(work, 'tls.pem')) }, authenticate: dovecotAuthenticator({ path: dovecot.authSocket }) },
    routes: mapRoutes({}),
    lmtp: dovecot.lmtp,
  });
}, 60_000);

afterAll(async () => {
  await node?.stop();
  await dovecot?.stop().catch(() => undefined);
  if (work) rmSync(work, { recursive: true, force: true });
});

async function login(user: string, pass: string): Promise<{ ok: boolean; code?: number; response?: string }> {
  const t = nodemailer.createTransport({ host: '127.0.0.1', port: node.submissionPort ?? 0, secure: false, requireTLS: true, tls: { rejectUnauthorized: false }, auth: { user, pass } });
  try {
    await t.verify();
    return { ok: true };
  } catch (err) {
    const e = err as { responseCode?: number; response?: string };
    return { ok: false, ...(e.responseCode !== undefined ? { code: e.responseCode } : {}), ...(e.response ? { response: e.response } : {}) };
  } finally {
    t.close();
  }
}

describe('submission credentials delegated to Dovecot auth', () => {
  it('the authenticator answers the member\'s canonical address for the right password, undefined for a wrong one or an unknown user', async () => {
    const auth = dovecotAuthenticator({ path: dovecot.authSocket });
    expect(await auth('Yuki@Auth.Example', 'imap-pw')).toBe('yuki@auth.example');
    expect(await auth('yuki@auth.example', 'wrong')).toBeUndefined();
    expect(await auth('nobody@auth.example', 'imap-pw')).toBeUndefined();
    expect(await auth('yuki@auth.example\tuser=x', 'imap-pw')).toBeUndefined();
  });

  it('the submission server logs in with the IMAP password (235) and refuses a wrong one (535)', async () => {
    expect(await login('yuki@auth.example', 'imap-pw')).toEqual({ ok: true });
    const bad = await login('yuki@auth.example', 'nope');
    expect(bad.code).toBe(535);
    // A user added to Dovecot later can submit at once: nothing is copied into the node.
    await dovecot.addUser('ren@auth.example', 'ren-pw');
    expect(await login('ren@auth.example', 'ren-pw')).toEqual({ ok: true });
  });

  it('Dovecot gone: 454, a temporary failure (the client retries), not a wrong password', async () => {
    const auth = dovecotAuthenticator({ path: join(work, 'no-such-socket') });
    await expect(auth('yuki@auth.example', 'imap-pw')).rejects.toThrow(/cannot be reached/);
    await dovecot.stop();
    const r = await login('yuki@auth.example', 'imap-pw');
    expect(r.code).toBe(454);
  });
});
