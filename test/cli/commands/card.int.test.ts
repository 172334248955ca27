import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPcscd, type PcscdHandle } from '../../harness/pcsc';
import { Daemon, tailOf, waitFor } from '../../harness/process';
import {
  opensslCmsVerify,
  opensslTestCaArgs,
  opensslVerifyWithCertKey,
  pkcs11SignArgs,
} from '../../support/card-test-setup';
import { openssl, workdir, type Workdir } from '../../support/openssl';

/**
 * `ssmax card …` end to end: a virtual card run by the CLI, initialised, enrolled (keys, CSRs,
 * certificates from an OpenSSL CA, org CA) and used to sign by the CLI; then OpenSC uses the same
 * card, as Thunderbird would.
 */
const repo = resolve(import.meta.dirname, '../../..');
const PKCS11 = '/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so';
const NEW_PIN = '24681357';

describe('ssmax card', () => {
  let pcscd: PcscdHandle;
  let virtual: Daemon;
  let wd: Workdir;
  let mgmtKey = '';

  const run = (cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    new Promise((done) => {
      execFile(
        cmd,
        args,
        { cwd: wd.dir, env: { ...process.env, ...pcscd.env }, timeout: 60_000 },
        (err, stdout, stderr) =>
          done({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr }),
      );
    });
  const ssmax = (...args: string[]) =>
    run(process.execPath, [join(repo, 'cli/bin/ssmax.mjs'), 'card', ...args]);
  const ok = async (...args: string[]): Promise<string> => {
    const r = await ssmax(...args);
    if (r.code !== 0)
      throw new Error(
        `ssmax card ${args.join(' ')} → ${r.code}: ${r.stderr}\n--- card ---\n${tailOf(join(wd.dir, 'card.log'), 30)}`,
      );
    return r.stdout;
  };

  beforeAll(async () => {
    pcscd = await startPcscd();
    wd = await workdir('ssmax-cli-card-');
    virtual = new Daemon({
      name: 'ssmax-card-virtual',
      command: process.execPath,
      args: [
        join(repo, 'cli/bin/ssmax.mjs'),
        'card',
        'virtual',
        '--state',
        join(wd.dir, 'card.json'),
        '--host',
        pcscd.vpcd.host,
        '--port',
        String(pcscd.vpcd.port),
      ],
      logFile: join(wd.dir, 'card.log'),
      cwd: repo,
    });
    await waitFor(
      'virtual card seen by pcscd',
      () => (/control power-on/.test(tailOf(join(wd.dir, 'card.log'), 50)) ? true : undefined),
      { daemon: virtual, timeoutMs: 30_000 },
    );
    await openssl(opensslTestCaArgs(wd.path('ca.key'), wd.path('ca.pem'), 'CLI Corp SSMAX CA'));
    await wd.file(
      'ext.cnf',
      '[sig]\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=emailProtection\nsubjectAltName=email:ken@cli.example.jp\n[km]\nkeyUsage=critical,keyEncipherment\nextendedKeyUsage=emailProtection\nsubjectAltName=email:ken@cli.example.jp\n',
    );
  });
  afterAll(async () => {
    await virtual?.stop();
    await pcscd?.stop();
    await wd?.remove();
  });

  it('status shows the reader, an empty card and 3 PIN tries', async () => {
    const out = await ok('status');
    expect(out).toMatch(new RegExp(`Reader:\\s+${pcscd.readerName}`));
    expect(out).toMatch(/PIN tries left:\s+3/);
    expect(out).toMatch(/9C signature\s+\(empty\)/);
  });

  it('init sets PIN, PUK and a generated AES-256 management key', async () => {
    const out = await ok('init', '--pin', NEW_PIN, '--puk', '97531864');
    mgmtKey = /management key: ([0-9a-f]{64})/.exec(out)?.[1] ?? '';
    expect(mgmtKey).toHaveLength(64);
    // The factory management key no longer works.
    const r = await ssmax(
      'generate',
      '--slot',
      '9c',
      '--alg',
      'p256',
      '--mgmt-key',
      '010203040506070801020304050607080102030405060708',
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/management key|card refused/i);
  });

  it('generate + csr + import-cert enrol 9C (P-256) and 9D (RSA-2048) and the org CA', async () => {
    const pub = await ok(
      'generate',
      '--slot',
      '9c',
      '--alg',
      'p256',
      '--mgmt-key',
      mgmtKey,
      '--subject',
      'CN=Ken CLI, O=CLI Corp',
      '--pin',
      NEW_PIN,
      '--csr',
      'req9c.pem',
    );
    expect(pub).toContain('BEGIN PUBLIC KEY');
    await ok('generate', '--slot', '9d', '--alg', 'rsa2048', '--mgmt-key', mgmtKey);
    await ok(
      'csr',
      '--slot',
      '9d',
      '--subject',
      'CN=Ken CLI, O=CLI Corp',
      '--out',
      'req9d.pem',
      '--pin',
      NEW_PIN,
    );
    for (const [slot, ext] of [
      ['9c', 'sig'],
      ['9d', 'km'],
    ]) {
      const v = await openssl(['req', '-verify', '-in', wd.path(`req${slot}.pem`), '-noout']);
      expect(v.code).toBe(0);
      await openssl([
        'x509',
        '-req',
        '-in',
        wd.path(`req${slot}.pem`),
        '-CA',
        wd.path('ca.pem'),
        '-CAkey',
        wd.path('ca.key'),
        '-days',
        '30',
        '-extfile',
        wd.path('ext.cnf'),
        '-extensions',
        ext as string,
        '-out',
        wd.path(`cert${slot}.pem`),
      ]);
      await ok('import-cert', '--slot', slot as string, '--cert', `cert${slot}.pem`, '--mgmt-key', mgmtKey);
    }
    // A certificate for another key is refused before anything is written.
    const wrong = await ssmax('import-cert', '--slot', '9c', '--cert', 'cert9d.pem', '--mgmt-key', mgmtKey);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('does not belong');
    await ok('import-cert', '--slot', 'org-ca', '--cert', 'ca.pem', '--mgmt-key', mgmtKey);
    const status = await ok('status');
    expect(status).toMatch(/9C signature\s+CN=Ken CLI, O=CLI Corp \| P-256/);
    expect(status).toMatch(/9D key management\s+CN=Ken CLI, O=CLI Corp \| RSA-2048/);
    expect(status).toMatch(/Org CA \(slot 95\)\s+CN=CLI Corp SSMAX CA/);
  });

  it('sign makes a CMS signature OpenSSL verifies; a wrong PIN says "wrong PIN, N tries left" and exits 1', async () => {
    await wd.file('mail.eml', 'Content-Type: text/plain\r\n\r\nsigned by ssmax card sign\r\n');
    const out = await ok('sign', '--in', 'mail.eml', '--out', 'mail.p7s', '--pin', NEW_PIN);
    console.log(`[cli] ${out.trim()}`);
    const v = await opensslCmsVerify(wd, {
      signature: 'mail.p7s',
      content: 'mail.eml',
      caFile: 'ca.pem',
      out: 'out.eml',
    });
    expect(v.stderr).toContain('Verification successful');
    const bad = await ssmax('sign', '--in', 'mail.eml', '--out', 'bad.p7s', '--pin', '000000');
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim()).toBe('ssmax: wrong PIN, 2 tries left');
    const status = await ok('status');
    expect(status).toMatch(/PIN tries left:\s+2/);
  });

  it('the CLI-enrolled card is usable by OpenSC (pkcs11-tool signs, OpenSSL verifies)', async () => {
    await wd.file('data.txt', 'OpenSC on a card enrolled by ssmax\n');
    const s = await run(
      'pkcs11-tool',
      pkcs11SignArgs(PKCS11, {
        pin: NEW_PIN,
        id: '02',
        mechanism: 'ECDSA-SHA256',
        opensslFormat: true,
        input: 'data.txt',
        output: 'sig.der',
      }),
    );
    expect(s.code).toBe(0);
    const v = await opensslVerifyWithCertKey(wd, {
      certFile: 'cert9c.pem',
      pubFile: 'pub9c.pem',
      signatureFile: 'sig.der',
      dataFile: 'data.txt',
    });
    expect(v.stdout.toString()).toContain('Verified OK');
  });
});
