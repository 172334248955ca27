import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertMinimalCard } from './minimal-card';
import { startPcscd, type PcscdHandle } from './pcsc';

const run = promisify(execFile);
const probeScript = join(import.meta.dirname, 'pcsc-probe.ts');
const tsx = join(import.meta.dirname, '../../node_modules/.bin/tsx');

/** Runs the PC/SC probe in a child with the private instance's PCSCLITE_CSOCK_NAME. */
async function probe(pcscd: PcscdHandle, ...args: string[]): Promise<Record<string, unknown>> {
  try {
    const { stdout } = await run(tsx, [probeScript, ...args], {
      env: { ...process.env, ...pcscd.env },
      timeout: 60_000,
    });
    return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    throw new Error(
      `probe ${args.join(' ')} failed: ${e.stdout ?? ''} ${e.stderr ?? ''}\n--- pcscd log ---\n${pcscd.logTail()}`,
      { cause: err },
    );
  }
}

// An ATR of our own (T=1, historical bytes "SSMAX"), so a match cannot come from anywhere else.
const ATR = Buffer.from('3b8880015353' + '4d4158' + '0000' + '00', 'hex');
const atrWithChecksum = (() => {
  const body = ATR.subarray(1, ATR.length - 1);
  let tck = 0;
  for (const b of body) tck ^= b;
  const out = Buffer.from(ATR);
  out[out.length - 1] = tck;
  return out;
})();

describe('private pcscd with the vpcd reader', () => {
  let pcscd: PcscdHandle;
  let other: PcscdHandle;

  beforeAll(async () => {
    pcscd = await startPcscd();
    other = await startPcscd();
  });
  afterAll(async () => {
    await pcscd?.stop();
    await other?.stop();
  });

  it('lists the vpcd reader with no card present when no card is connected', async () => {
    const res = await probe(pcscd, 'status', pcscd.readerName, 'empty');
    expect(res.readers).toContain(pcscd.readerName);
    expect(res.present).toBe(false);
    expect(res.atr).toBeNull();
  });

  it('reports the ATR of the minimal card once it connects, and no card again after removal', async () => {
    const { link, card } = await insertMinimalCard(pcscd.vpcd, atrWithChecksum);
    try {
      const res = await probe(pcscd, 'status', pcscd.readerName, 'present');
      expect(res.present).toBe(true);
      expect(res.atr).toBe(atrWithChecksum.toString('hex'));
      expect(card.controls).toContain('power-on');
    } finally {
      await link.close();
    }
    const after = await probe(pcscd, 'status', pcscd.readerName, 'empty');
    expect(after.present).toBe(false);
  });

  it('keeps two instances apart: a card in one is not seen by the other', async () => {
    expect(other.socketPath).not.toBe(pcscd.socketPath);
    const { link } = await insertMinimalCard(other.vpcd, atrWithChecksum);
    try {
      expect((await probe(other, 'status', other.readerName, 'present')).present).toBe(true);
      expect((await probe(pcscd, 'status', pcscd.readerName, 'empty')).present).toBe(false);
    } finally {
      await link.close();
    }
  });

  it('measures the per-APDU round trip with and without the quickack route', async () => {
    const count = 40;
    const results: Record<string, unknown> = {};
    const hosts = pcscd.quickAck
      ? { 'quickack (127.0.0.2)': pcscd.vpcd.host, 'plain (127.0.0.1)': '127.0.0.1' }
      : { 'plain (127.0.0.1)': '127.0.0.1' };
    for (const [label, host] of Object.entries(hosts)) {
      const { link, card } = await insertMinimalCard({ host, port: pcscd.vpcd.port }, atrWithChecksum);
      try {
        const res = await probe(pcscd, 'bench', pcscd.readerName, String(count), '00a4040000');
        expect(res.count).toBe(count);
        expect(res.lastResponse).toBe('9000');
        expect(card.apduCount).toBe(count + 1);
        results[label] = {
          meanMs: Number(res.meanMs).toFixed(2),
          medianMs: Number(res.medianMs).toFixed(2),
          maxMs: Number(res.maxMs).toFixed(2),
        };
      } finally {
        await link.close();
      }
      await probe(pcscd, 'status', pcscd.readerName, 'empty');
    }
    console.log(
      `[pcsc] per-APDU round trip over vpcd, ${count} APDUs (printed, not asserted):`,
      JSON.stringify(results),
    );
  });
});
