import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initSoftHsmToken, type SoftHsmHandle } from './softhsm';

const run = promisify(execFile);

describe('SoftHSM2 token in a private temp dir', () => {
  let token: SoftHsmHandle;
  let failed = false;

  beforeAll(async () => {
    token = await initSoftHsmToken({ label: 'ssmax-org-keys' });
  });

  afterAll(async () => {
    await token?.stop({ keepDir: failed });
  });

  /** pkcs11-tool against the SoftHSM module, with this token's private configuration. */
  async function pkcs11Tool(handle: SoftHsmHandle, args: string[]): Promise<string> {
    const { stdout } = await run('pkcs11-tool', ['--module', handle.modulePath, ...args], {
      env: { ...process.env, ...handle.env },
      timeout: 30_000,
    });
    return stdout;
  }

  const track = <T>(p: Promise<T>): Promise<T> =>
    p.catch((err: unknown) => {
      failed = true;
      throw err;
    });

  it('softhsm2-util --show-slots lists the token label at the reported slot', async () => {
    const out = await track(token.util(['--show-slots']));
    const block = out.split(/^Slot /m).find((b) => b.startsWith(`${token.slot}\n`));
    expect(block, out).toBeDefined();
    expect(block).toMatch(/Label:\s+ssmax-org-keys\s*$/m);
    expect(block).toMatch(/Initialized:\s+yes/);
    expect(block).toMatch(/User PIN init\.:\s+yes/);
  });

  it('pkcs11-tool -L sees the token through the SoftHSM module', async () => {
    const out = await track(pkcs11Tool(token, ['-L']));
    expect(out).toMatch(/token label\s*:\s*ssmax-org-keys/);
    expect(out).toContain(`serial num         : ${token.serial}`);
  });

  it('the user PIN logs in and a wrong PIN is refused', async () => {
    const slotArgs = ['--slot', String(token.slot), '--login'];
    await track(pkcs11Tool(token, [...slotArgs, '--pin', token.pin, '--list-objects']));
    await expect(
      pkcs11Tool(token, [...slotArgs, '--pin', `${token.pin}9`, '--list-objects']),
    ).rejects.toThrow(/CKR_PIN_INCORRECT/);
  });

  it('a second token lives in its own temp dir and is not visible to the first', async () => {
    const other = await track(initSoftHsmToken({ label: 'ssmax-other' }));
    try {
      expect(other.confPath).not.toBe(token.confPath);
      expect(await pkcs11Tool(other, ['-L'])).toMatch(/token label\s*:\s*ssmax-other/);
      expect(await pkcs11Tool(token, ['-L'])).not.toMatch(/ssmax-other/);
    } finally {
      await other.stop();
    }
  });
});
