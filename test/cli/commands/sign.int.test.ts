/**
 * `ssmax sign | countersign | encrypt | decrypt` as child processes, chained into a full SSMAX
 * chain that `ssmax verify` accepts, and checked both ways with the real `openssl cms`.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toCanonicalCrlf } from '../../../smime/mime';
import { pem, type TestKey } from '../../support/ssmax-pki';
import { openssl, workdir, type Workdir } from '../../support/openssl';
import { fixturesDir, repoRoot } from '../../smime/mime/helpers';
import { T, buildWorld, type World } from '../../smime/chain/world';

let w: World;
let dir: Workdir;
const f: Record<string, string> = {};
const rfc9216 = (n: string) => path.join(fixturesDir, 'rfc9216', n);

function ssmax(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'cli/bin/ssmax.mjs'), ...args], { encoding: 'utf8', timeout: 60_000, cwd: repoRoot });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok(r: { status: number | null; stderr: string }): void {
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
}

async function keyFiles(name: string, k: TestKey): Promise<void> {
  f[`${name}.key`] = await dir.file(`${name}.key`, pem(k.pkcs8, 'PRIVATE KEY'));
  f[`${name}.crt`] = await dir.file(`${name}.crt`, pem(k.der));
}

beforeAll(async () => {
  w = await buildWorld();
  dir = await workdir('ssmax-cms-cli-');
  f.root = await dir.file('root.pem', w.rootPem);
  f.caA = await dir.file('a-ca.pem', pem(w.a.ca.certificate.rawData));
  f.caB = await dir.file('b-ca.pem', pem(w.b.ca.certificate.rawData));
  await keyFiles('a9c', w.a.employee.signature);
  await keyFiles('aorg', w.a.signing);
  await keyFiles('borg', w.b.signing);
  await keyFiles('b9d', w.b.employee.keyManagement);
  f.entity = await dir.file(
    'entity.eml',
    `From: Hanako Yamada <${w.a.employee.email}>\nTo: ${w.b.employee.email}\nSubject: quote\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n見積書を送ります。\n`,
  );
}, 180_000);

afterAll(async () => {
  await dir?.remove();
});

const verifyArgs = () => ['--trust', f.root!, '--at', T.at.toISOString(), '--own-domain', 'b.example', '--recipient', w.b.employee.email];

describe('ssmax sign | countersign | encrypt | decrypt', () => {
  it('builds ① ② ③ that ssmax verify accepts, while OpenSSL still verifies the sender', async () => {
    ok(ssmax('sign', f.entity!, '--key', f['a9c.key']!, '--cert', f['a9c.crt']!, '--ca', f.caA!, '--at', T.signed.toISOString(), '--out', dir.path('1.eml')));
    const signedOnly = ssmax('verify', dir.path('1.eml'), ...verifyArgs());
    expect(signedOnly.status).toBe(0);
    expect(signedOnly.stdout).toContain('state: signed');
    ok(ssmax('countersign', dir.path('1.eml'), '--key', f['aorg.key']!, '--cert', f['aorg.crt']!, '--ca', f.caA!, '--hop', 'sending-org', '--mail-from', w.a.employee.email, '--rcpt-to', w.b.employee.email, '--at', T.sendingOrg.toISOString(), '--out', dir.path('2.eml')));
    ok(ssmax('countersign', dir.path('2.eml'), '--key', f['borg.key']!, '--cert', f['borg.crt']!, '--ca', f.caB!, '--hop', 'receiving-org', '--mail-from', w.a.employee.email, '--rcpt-to', w.b.employee.email, '--at', T.receivingOrg.toISOString(), '--out', dir.path('3.eml')));
    const r = ssmax('verify', dir.path('3.eml'), ...verifyArgs(), '--json');
    expect(r.status).toBe(0);
    const json = JSON.parse(r.stdout) as { state: string; links: Array<{ role: string; status: string }> };
    expect(json.state).toBe('verified');
    expect(json.links.map((l) => l.role)).toEqual(['sender', 'sending-org', 'receiving-org']);
    // Only the signature part changed: the signed part is byte-identical.
    const before = readFileSync(dir.path('1.eml'));
    const after = readFileSync(dir.path('3.eml'));
    const cut = (b: Buffer) => b.subarray(0, b.indexOf('Content-Type: application/pkcs7-signature'));
    expect(cut(after).equals(cut(before))).toBe(true);
    const o = await openssl(['cms', '-verify', '-noverify', '-in', dir.path('3.eml'), '-out', dir.path('3.out')]);
    expect(o.code, o.stderr).toBe(0);
  });

  it('encrypts to the recipient’s 9D (P-256 ECDH): ssmax verify and openssl cms -decrypt both read it', async () => {
    ok(ssmax('encrypt', dir.path('3.eml'), '--to', f['b9d.crt']!, '--out', dir.path('3.enc.eml')));
    const r = ssmax('verify', dir.path('3.enc.eml'), ...verifyArgs(), '--key', f['b9d.key']!, '--cert', f['b9d.crt']!);
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('state: verified');
    ok(ssmax('decrypt', dir.path('3.enc.eml'), '--key', f['b9d.key']!, '--cert', f['b9d.crt']!, '--out', dir.path('3.dec.eml')));
    const canonical = toCanonicalCrlf(readFileSync(dir.path('3.eml')));
    expect(readFileSync(dir.path('3.dec.eml')).equals(canonical)).toBe(true);
    const o = await openssl(['cms', '-decrypt', '-in', dir.path('3.enc.eml'), '-recip', f['b9d.crt']!, '-inkey', f['b9d.key']!, '-out', dir.path('3.ossl.eml')]);
    expect(o.code, o.stderr).toBe(0);
    expect(readFileSync(dir.path('3.ossl.eml')).equals(canonical)).toBe(true);
  });

  it('decrypts what openssl cms -encrypt made (RFC 9216 Bob, RSA, AES-256-CBC)', async () => {
    const content = await dir.file('plain.eml', 'Content-Type: text/plain\r\n\r\nfrom openssl\r\n');
    const o = await openssl(['cms', '-encrypt', '-aes-256-cbc', '-in', content, '-out', dir.path('ossl.enc.eml'), rfc9216('bob.enc.crt')]);
    expect(o.code, o.stderr).toBe(0);
    ok(ssmax('decrypt', dir.path('ossl.enc.eml'), '--key', rfc9216('bob.enc.key'), '--cert', rfc9216('bob.enc.crt'), '--out', dir.path('ossl.dec.eml')));
    expect(readFileSync(dir.path('ossl.dec.eml'), 'latin1')).toContain('from openssl');
  });

  it('signs (RSA-PSS, opaque too) what openssl cms -verify accepts with the LAMPS CA', async () => {
    const content = await dir.file('alice.eml', 'From: alice@smime.example\r\nContent-Type: text/plain\r\n\r\nhello\r\n');
    ok(ssmax('sign', content, '--key', rfc9216('alice.sign.key'), '--cert', rfc9216('alice.sign.crt'), '--pss', '--out', dir.path('alice.signed.eml')));
    let o = await openssl(['cms', '-verify', '-CAfile', rfc9216('ca.rsa.crt'), '-purpose', 'any', '-in', dir.path('alice.signed.eml'), '-out', dir.path('alice.out')]);
    expect(o.code, o.stderr).toBe(0);
    ok(ssmax('sign', content, '--key', rfc9216('alice.sign.key'), '--cert', rfc9216('alice.sign.crt'), '--opaque', '--out', dir.path('alice.opaque.eml')));
    o = await openssl(['cms', '-verify', '-CAfile', rfc9216('ca.rsa.crt'), '-purpose', 'any', '-in', dir.path('alice.opaque.eml'), '-out', dir.path('alice.out2')]);
    expect(o.code, o.stderr).toBe(0);
    const v = ssmax('verify', dir.path('alice.opaque.eml'), '--trust', rfc9216('ca.rsa.crt'), '--at', '2040-01-01T00:00:00Z');
    expect(v.status).toBe(0);
    expect(v.stdout).toContain('state: signed');
  });

  it('errors are one line: not signed → exit 1; key/cert mismatch or missing option → exit 2', () => {
    const r = ssmax('countersign', f.entity!, '--key', f['aorg.key']!, '--cert', f['aorg.crt']!);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    const mismatch = ssmax('sign', f.entity!, '--key', f['aorg.key']!, '--cert', f['a9c.crt']!);
    expect(mismatch.status).toBe(2);
    expect(mismatch.stderr.trim().split('\n')).toHaveLength(1);
    expect(ssmax('encrypt', f.entity!).status).toBe(2);
    expect(ssmax('decrypt', f.entity!, '--key', f['b9d.key']!, '--cert', f['b9d.crt']!).status).toBe(1);
  });
});
