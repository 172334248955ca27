import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadNodeConfig, NodeConfigError } from '../../../org-node/smtp/config';

/** The node configuration's inspection policy: "danger": "hold" is accepted, anything that would deliver Danger is refused. */
let dir: string;
const base = { org: 'org', name: 'node.a.example', spool: 'spool', lmtp: '127.0.0.1:24', clamd: '127.0.0.1:3310' };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ssmax-node-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function load(json: unknown): ReturnType<typeof loadNodeConfig> {
  const file = join(dir, `node-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(file, JSON.stringify(json));
  return loadNodeConfig(file);
}

it('takes the inspection policy (Danger held for the administrator, Unsupported held)', async () => {
  const { config } = await load({ ...base, inspection: { danger: 'hold', unsupported: 'hold' } });
  expect(config.inspection).toEqual({ danger: 'hold', unsupported: 'hold' });
  expect((await load(base)).config.inspection).toBeUndefined();
});

it('refuses a policy that would deliver Danger, with the field named', async () => {
  await expect(load({ ...base, inspection: { danger: 'deliver' } })).rejects.toThrow(NodeConfigError);
  await expect(load({ ...base, inspection: { danger: 'deliver' } })).rejects.toThrow(/inspection\.danger/);
});

const submission = { listen: '127.0.0.1:587', tlsCert: 'tls.pem', tlsKey: 'tls.key' };

it('takes the outside-SSMAX policy, peers routed by MX, and submission passwords from Dovecot (all optional)', async () => {
  const { config } = await load({ ...base, nonMember: 'deliver-signed', peers: { 'b.example': '127.0.0.1:25', 'c.example': 'mx' }, mx: { port: 2525, servers: ['127.0.0.1:5353'] }, submission: { ...submission, dovecotAuth: '/run/dovecot/auth-ssmax' } });
  expect(config.nonMember).toBe('deliver-signed');
  expect(config.peers).toEqual({ 'b.example': '127.0.0.1:25', 'c.example': 'mx' });
  expect(config.submission?.dovecotAuth).toBe('/run/dovecot/auth-ssmax');
  // A configuration of before these options still loads unchanged (the demo world's).
  const old = (await load({ ...base, submission: { ...submission, credentials: 'credentials.json' }, peers: { 'b.example': '127.0.0.1:25' } })).config;
  expect(old.nonMember).toBeUndefined();
  expect(old.submission?.credentials).toBe('credentials.json');
});

it('refuses an unknown outside-SSMAX policy, and submission with both or neither of credentials and dovecotAuth', async () => {
  await expect(load({ ...base, nonMember: 'deliver-plain' })).rejects.toThrow(/nonMember/);
  await expect(load({ ...base, submission: { ...submission, credentials: 'c.json', dovecotAuth: '/x' } })).rejects.toThrow(/exactly one of credentials or dovecotAuth/);
  await expect(load({ ...base, submission })).rejects.toThrow(/exactly one of credentials or dovecotAuth/);
});
