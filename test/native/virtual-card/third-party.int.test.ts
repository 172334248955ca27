import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPcscd, type PcscdHandle } from '../../harness/pcsc';
import { makeWorkDir, disposeWorkDir } from '../../harness/process';
import { startVirtualCard, type VirtualCardHandle } from '../../harness/virtual-card';
import { opensslTestCaArgs, pkcs11SignArgs } from '../../support/card-test-setup';

/**
 * The virtual PIV card judged by tools nobody here wrote: yubico-piv-tool (libykpiv) and OpenSC's
 * PIV driver through its PKCS#11 module, with OpenSSL checking the signatures.
 * Note: yubico-piv-tool 2.2.0's selfsign-certificate fails host-side under OpenSSL 3 (upstream
 * issue Yubico/yubico-piv-tool#388) before talking to any card, so certificates come from an
 * OpenSSL test CA and are written with import-certificate.
 */
const execp = promisify(execFile);
const PKCS11 = '/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so';

describe('virtual PIV card through third-party tools', () => {
  let pcscd: PcscdHandle;
  let card: VirtualCardHandle;
  let dir: string;

  const tool = async (cmd: string, args: string[]): Promise<{ ok: boolean; out: string }> => {
    try {
      const { stdout, stderr } = await execp(cmd, args, {
        env: { ...process.env, ...pcscd.env },
        cwd: dir,
        timeout: 60_000,
      });
      return { ok: true, out: stdout + stderr };
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string };
      return { ok: false, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
    }
  };
  const piv = (...args: string[]) => tool('yubico-piv-tool', ['-r', 'Virtual PCD', ...args]);
  const must = async (p: Promise<{ ok: boolean; out: string }>): Promise<string> => {
    const r = await p;
    if (!r.ok) throw new Error(`${r.out}\n--- card log ---\n${card.logTail(40)}`);
    return r.out;
  };
  const openssl = (...args: string[]) => must(tool('openssl', args));

  beforeAll(async () => {
    dir = await makeWorkDir('third-party');
    pcscd = await startPcscd();
    card = await startVirtualCard(pcscd);
    await openssl(...opensslTestCaArgs('ca.key', 'ca.pem', 'SSMAX test CA'));
  });
  afterAll(async () => {
    await card?.stop();
    await pcscd?.stop();
    if (dir) await disposeWorkDir('third-party', dir);
  });

  it('yubico-piv-tool -a status reads version, serial, CHUID and PIN tries', async () => {
    const out = await must(piv('-a', 'status'));
    const state = JSON.parse(readFileSync(card.stateFile, 'utf8')) as { serial: number };
    expect(out).toMatch(/Version:\s+5\.4\.3/);
    expect(out).toContain(`Serial Number:\t${state.serial}`);
    expect(out).toMatch(/CHUID:\s+3019/);
    expect(out).toMatch(/PIN tries left:\s+3/);
  });

  for (const { slot, alg, id, mech } of [
    { slot: '9c', alg: 'ECCP256', id: '02', mech: 'ECDSA-SHA256' },
    { slot: '9a', alg: 'RSA2048', id: '01', mech: 'SHA256-RSA-PKCS' },
  ]) {
    it(`generates ${alg} in ${slot}, imports a CA-issued cert, reads it back, signs (yubico-piv-tool and OpenSC), OpenSSL verifies`, async () => {
      await must(piv('-a', 'generate', '-s', slot, '-A', alg, '-o', `pub${slot}.pem`));
      await openssl(
        'x509',
        '-new',
        '-CA',
        'ca.pem',
        '-CAkey',
        'ca.key',
        '-force_pubkey',
        `pub${slot}.pem`,
        '-subj',
        `/CN=Card ${slot}`,
        '-days',
        '30',
        '-out',
        `cert${slot}.pem`,
      );
      await must(piv('-a', 'import-certificate', '-s', slot, '-i', `cert${slot}.pem`));

      const read = await must(piv('-a', 'read-certificate', '-s', slot));
      const norm = (pem: string) => pem.replace(/\s+/g, '');
      expect(norm(read)).toContain(norm(readFileSync(join(dir, `cert${slot}.pem`), 'utf8')));

      const test = await must(
        piv('-a', 'verify-pin', '-P', '123456', '-a', 'test-signature', '-s', slot, '-i', `cert${slot}.pem`),
      );
      expect(test).toMatch(
        alg === 'RSA2048' ? /Successful RSA verification/ : /Successful ECDSA verification/,
      );

      writeFileSync(join(dir, 'data.txt'), `mail body signed in slot ${slot}\n`);
      await must(
        tool(
          'pkcs11-tool',
          pkcs11SignArgs(PKCS11, {
            pin: '123456',
            id,
            mechanism: mech,
            opensslFormat: alg === 'ECCP256',
            input: 'data.txt',
            output: `sig${slot}.bin`,
          }),
        ),
      );
      await openssl('x509', '-in', `cert${slot}.pem`, '-pubkey', '-noout', '-out', `pk${slot}.pem`);
      expect(
        await openssl(
          'dgst',
          '-sha256',
          '-verify',
          `pk${slot}.pem`,
          '-signature',
          `sig${slot}.bin`,
          'data.txt',
        ),
      ).toContain('Verified OK');
      // The signature must not verify over other data: the check above can fail.
      writeFileSync(join(dir, 'other.txt'), 'something else\n');
      expect(
        (
          await tool('openssl', [
            'dgst',
            '-sha256',
            '-verify',
            `pk${slot}.pem`,
            '-signature',
            `sig${slot}.bin`,
            'other.txt',
          ])
        ).ok,
      ).toBe(false);
    });
  }

  it('refuses a 9C signature without the PIN (policy "always")', async () => {
    const r = await piv('-a', 'test-signature', '-s', '9c', '-i', 'cert9c.pem');
    expect(r.ok).toBe(false);
    expect(r.out).toContain('Failed signing test data');
  });

  it('blocks the PIN after three wrong tries and unblocks it with the PUK', async () => {
    for (const left of [2, 1]) {
      const r = await piv('-a', 'verify-pin', '-P', '000000');
      expect(r.ok).toBe(false);
      expect(r.out).toContain(`${left} tries left`);
    }
    const third = await piv('-a', 'verify-pin', '-P', '000000');
    expect(third.out).toMatch(/blocked/i);
    const blocked = await piv('-a', 'verify-pin', '-P', '123456');
    expect(blocked.ok).toBe(false);
    expect(blocked.out).toMatch(/blocked/i);
    await must(piv('-a', 'unblock-pin', '-P', '12345678', '-N', '654321'));
    expect(await must(piv('-a', 'verify-pin', '-P', '654321'))).toContain('Successfully verified PIN');
    expect(await must(piv('-a', 'status'))).toMatch(/PIN tries left:\s+3/);
  });
});
