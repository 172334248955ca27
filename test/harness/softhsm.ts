import { execFile } from 'node:child_process';
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  HarnessError,
  disposeWorkDir,
  makeWorkDir,
  tailOf,
  type ServiceHandle,
  type StopOptions,
} from './process';

/**
 * A SoftHSM2 token in a temp dir, for org keys over PKCS#11. SoftHSM is a library, not a daemon:
 * "the instance" is a private softhsm2.conf pointing at a private token directory. Anything that
 * loads the module (softhsm2-util, pkcs11-tool, a Node PKCS#11 binding) must see SOFTHSM2_CONF
 * from `env`, otherwise it would use the system-wide /etc/softhsm/softhsm2.conf.
 */

export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

export interface SoftHsmOptions {
  /** Token label (at most 32 characters). Default `ssmax-test`. */
  label?: string;
  /** User PIN. Default `123456`: a test token, never a secret. */
  pin?: string;
  /** Security Officer PIN. Default `12345678`. */
  soPin?: string;
}

export interface SoftHsmHandle extends ServiceHandle {
  readonly modulePath: string;
  readonly confPath: string;
  readonly tokenDir: string;
  /** Environment additions for every process that loads the module: `{ SOFTHSM2_CONF }`. */
  readonly env: { readonly SOFTHSM2_CONF: string };
  readonly label: string;
  readonly pin: string;
  readonly soPin: string;
  /** PKCS#11 slot ID of the token. SoftHSM moves an initialised token to a new, random-looking slot ID. */
  readonly slot: number;
  readonly serial: string;
  /** Runs softhsm2-util with this token's configuration; returns stdout. */
  util(args: readonly string[]): Promise<string>;
}

const NAME = 'softhsm';
const UTIL = 'softhsm2-util';
const run = promisify(execFile);

export async function initSoftHsmToken(opts: SoftHsmOptions = {}): Promise<SoftHsmHandle> {
  const label = opts.label ?? 'ssmax-test';
  const pin = opts.pin ?? '123456';
  const soPin = opts.soPin ?? '12345678';
  if (label.length === 0 || label.length > 32)
    throw new HarnessError(`token label must be 1..32 characters, got ${JSON.stringify(label)}`, NAME);

  const dir = await makeWorkDir(NAME);
  const tokenDir = join(dir, 'tokens');
  const confPath = join(dir, 'softhsm2.conf');
  const logFile = join(dir, 'softhsm.log');
  await mkdir(tokenDir);
  // Keys in files (not sqlite) so that a kept temp dir can be inspected; fixed slots because
  // tests, not hot-plugging, decide which tokens exist.
  await writeFile(
    confPath,
    [
      `directories.tokendir = ${tokenDir}`,
      'objectstore.backend = file',
      'log.level = INFO',
      'slots.removable = false',
      '',
    ].join('\n'),
  );
  const env = { SOFTHSM2_CONF: confPath };

  const util = async (args: readonly string[]): Promise<string> => {
    await appendFile(logFile, `$ ${UTIL} ${args.join(' ')}\n`);
    try {
      const { stdout, stderr } = await run(UTIL, [...args], {
        env: { ...process.env, ...env },
        timeout: 30_000,
      });
      await appendFile(logFile, stdout + stderr);
      return stdout;
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      await appendFile(logFile, `${e.stdout ?? ''}${e.stderr ?? ''}\n${e.message}\n`);
      throw new HarnessError(`${UTIL} ${args[0] ?? ''} failed:\n${tailOf(logFile)}`, NAME, { cause: err });
    }
  };

  const stop = async (stopOpts?: StopOptions): Promise<void> => {
    await disposeWorkDir(NAME, dir, stopOpts);
  };

  try {
    const out = await util(['--init-token', '--free', '--label', label, '--so-pin', soPin, '--pin', pin]);
    // "The token has been initialized and is reassigned to slot 1727970352"
    const slotMatch = /reassigned to slot (\d+)/.exec(out);
    if (!slotMatch) throw new HarnessError(`could not find the new slot in:\n${out}`, NAME);
    const slot = Number(slotMatch[1]);
    const serial = tokenSerial(await util(['--show-slots']), slot);
    return {
      name: NAME,
      dir,
      modulePath: SOFTHSM_MODULE,
      confPath,
      tokenDir,
      env,
      label,
      pin,
      soPin,
      slot,
      serial,
      util,
      logTail: (lines) => tailOf(logFile, lines),
      stop,
    };
  } catch (err) {
    await stop({ keepDir: true });
    throw err;
  }
}

/** Reads the token serial of `slot` from `softhsm2-util --show-slots`. */
function tokenSerial(showSlots: string, slot: number): string {
  const blocks = showSlots.split(/^Slot /m);
  const block = blocks.find((b) => b.startsWith(`${slot}\n`));
  const serial = block ? /Serial number:\s*(\S+)/.exec(block)?.[1] : undefined;
  if (!serial)
    throw new HarnessError(`slot ${slot} has no serial number in --show-slots:\n${showSlots}`, NAME);
  return serial;
}
