/**
 * `ssmax verify` as a child process: generated SSMAX mail (encrypted two-org chain, revoked sender,
 * garbage), and ordinary S/MIME signed by the real `openssl cms` with the RFC 9216 keys.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pem } from '../../support/ssmax-pki';
import { openssl, workdir, type Workdir } from '../../support/openssl';
import { fixturesDir, repoRoot } from '../../smime/mime/helpers';
import { T, buildMail, buildWorld, caDer, headersFor, receivingOrg, sendingOrg, signerOf, type World } from '../../smime/chain/world';

let w: World;
let dir: Workdir;
const files: Record<string, string> = {};

function ssmax(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'cli/bin/ssmax.mjs'), ...args], { encoding: 'utf8', timeout: 60_000, cwd: repoRoot });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  w = await buildWorld();
  dir = await workdir('ssmax-verify-cli-');
  const B = w.b.employee.email;
  const A = w.a.employee.email;
  files.root = await dir.file('root.pem', w.rootPem);
  files.key = await dir.file('b-9d.key', pem(w.b.employee.keyManagement.pkcs8, 'PRIVATE KEY'));
  files.cert = await dir.file('b-9d.pem', pem(w.b.employee.keyManagement.der));
  files.crl = await dir.file('a.crl', pem(w.crlA, 'X509 CRL'));
  const mail = (signer = w.a.employee.signature, from = A) =>
    buildMail({ headers: headersFor(from, B), signer: signerOf(signer), signerCaDer: caDer(w.a), links: [sendingOrg(w.a), receivingOrg(w.b, B)], encryptTo: w.b.employee.keyManagement.der });
  files.verified = await dir.file('verified.eml', (await mail()).wire);
  files.revoked = await dir.file('revoked.eml', (await mail(w.revoked, 'jiro@a.example')).wire);
  files.garbage = await dir.file('garbage.eml', new Uint8Array(4000).map((_, i) => (i * 197 + 11) & 0xff));
  files.truncated = await dir.file('truncated.eml', (await mail()).wire.subarray(0, 900));
  files.content = await dir.file('content.txt', 'Content-Type: text/plain; charset=us-ascii\r\n\r\nHello Bob, this is ordinary S/MIME.\r\n');
  const rfc9216 = (n: string) => path.join(fixturesDir, 'rfc9216', n);
  const signed = await openssl(['cms', '-sign', '-in', files.content, '-signer', rfc9216('alice.sign.crt'), '-inkey', rfc9216('alice.sign.key'), '-md', 'sha256', '-from', 'alice@smime.example', '-to', 'bob@smime.example', '-subject', 'hello', '-out', dir.path('openssl-signed.eml')]);
  expect(signed.code, signed.stderr).toBe(0);
  files.opensslSigned = dir.path('openssl-signed.eml');
  files.lamps = rfc9216('ca.rsa.crt');
}, 180_000);

afterAll(async () => {
  await dir?.remove();
});

const at = T.at.toISOString();

describe('ssmax verify', () => {
  it('decrypts and verifies a two-org chain: exit 0, one line per link', () => {
    const r = ssmax('verify', files.verified!, '--trust', files.root!, '--key', files.key!, '--cert', files.cert!, '--crl', files.crl!, '--at', at, '--own-domain', 'b.example', '--recipient', w.b.employee.email);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('state: verified');
    expect(lines.filter((l) => /^[①②③] /.test(l)).map((l) => l.split(/\s+/).slice(1, 3).join(' '))).toEqual(['sender valid', 'sending-org valid', 'receiving-org valid']);
    expect(r.stdout).toContain('hanako@a.example');
    expect(r.stdout).toContain('inspection Safe');
  });

  it('--json prints the result model', () => {
    const r = ssmax('verify', files.verified!, '--trust', files.root!, '--key', files.key!, '--cert', files.cert!, '--at', at, '--own-domain', 'b.example', '--json');
    expect(r.status).toBe(0);
    const json = JSON.parse(r.stdout) as { state: string; reasons: unknown[]; links: Array<{ role: string; status: string; subject: string; email?: string; reasons: unknown[] }>; content: { size: number } };
    expect(json.state).toBe('verified');
    expect(json.reasons).toEqual([]);
    expect(json.links.map((l) => [l.role, l.status])).toEqual([
      ['sender', 'valid'],
      ['sending-org', 'valid'],
      ['receiving-org', 'valid'],
    ]);
    expect(json.links[0]?.email).toBe('hanako@a.example');
    expect(json.links[0]?.subject).toContain('Hanako Yamada');
    expect(json.content.size).toBeGreaterThan(0);
  });

  it('--own-ca: ③ judged by the pinned org CA instead of domains', async () => {
    const caB = await dir.file('b-ca.pem', pem(w.b.ca.certificate.rawData));
    const caA = await dir.file('a-ca.pem', pem(w.a.ca.certificate.rawData));
    const base = [files.verified!, '--trust', files.root!, '--key', files.key!, '--cert', files.cert!, '--at', at];
    expect(ssmax('verify', ...base, '--own-ca', caB).status).toBe(0);
    const wrong = ssmax('verify', ...base, '--own-ca', caA);
    expect(wrong.status).toBe(1);
    expect(wrong.stdout).toContain('not-own-org');
  });

  it('a sender revoked at signing time: failed, exit 1, reason printed on the link', () => {
    const r = ssmax('verify', files.revoked!, '--trust', files.root!, '--key', files.key!, '--cert', files.cert!, '--crl', files.crl!, '--at', at, '--own-domain', 'b.example');
    expect(r.status).toBe(1);
    expect(r.stdout.split('\n')[0]).toBe('state: failed');
    expect(r.stdout).toMatch(/① sender\s+revoked/);
    expect(r.stdout).toContain('✗ revoked:');
  });

  it('without the key the message is not decrypted: one line, exit 1', () => {
    const r = ssmax('verify', files.verified!, '--trust', files.root!, '--at', at);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('not-decrypted');
  });

  it('OpenSSL-signed ordinary S/MIME with the LAMPS CA as anchor: signed, exit 0', () => {
    const r = ssmax('verify', files.opensslSigned!, '--trust', files.lamps!, '--at', '2040-01-01T00:00:00Z', '--json');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const json = JSON.parse(r.stdout) as { state: string; reasons: Array<{ code: string }>; links: Array<{ role: string; status: string; email?: string }> };
    expect(json.state).toBe('signed');
    expect(json.reasons.map((x) => x.code)).toContain('generic-pki');
    expect(json.links[0]).toMatchObject({ role: 'sender', status: 'valid', email: 'alice@smime.example' });
  });

  it('the OpenSSL-signed message against the SSMAX root only: untrusted, exit 1', () => {
    const r = ssmax('verify', files.opensslSigned!, '--trust', files.root!, '--at', '2040-01-01T00:00:00Z');
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/① sender\s+untrusted/);
  });

  it('garbage and truncated input: one-line error, exit 1, no stack trace', () => {
    for (const f of [files.garbage!, files.truncated!]) {
      const r = ssmax('verify', f, '--trust', files.root!, '--key', files.key!, '--cert', files.cert!, '--at', at);
      expect(r.status).toBe(1);
      const out = (r.stdout + r.stderr).trim();
      expect(out.split('\n').length).toBeLessThanOrEqual(8);
      expect(out).not.toMatch(/\n\s+at /);
    }
  });

  it('usage and I/O errors exit 2', () => {
    expect(ssmax('verify', files.verified!).status).toBe(2); // no --trust
    expect(ssmax('verify', '/nonexistent.eml', '--trust', files.root!).status).toBe(2);
    expect(ssmax('verify', files.verified!, '--trust', files.garbage!).status).toBe(2);
    expect(ssmax('verify', files.verified!, '--trust', files.root!, '--at', 'yesterday').status).toBe(2);
    expect(ssmax('verify', files.verified!, '--trust', files.root!, '--key', files.key!).status).toBe(2);
    const r = ssmax('verify', '/nonexistent.eml', '--trust', files.root!);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
