import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CardWatcher, type CardInsertEvent } from '../../../native/pcsc/card-watcher';
import { CardErrorCode, type CardError } from '../../../native/pcsc/errors';
import { PivSession, PivSlot } from '../../../native/piv/piv-session';
import { DEFAULT_MGMT_KEY } from '../../../native/virtual-card/state';
import { startPcscd, type PcscdHandle } from '../../harness/pcsc';
import { startVirtualCard, type VirtualCardHandle } from '../../harness/virtual-card';

/**
 * The PC/SC layer against real pcscd + vpcd + the virtual card process. libpcsclite reads
 * PCSCLITE_CSOCK_NAME once per process, so this file sets it before the first PC/SC context and
 * uses one private pcscd throughout (vitest runs each file in its own worker process).
 */
function once<T>(
  emitter: CardWatcher,
  event: 'insert' | 'remove' | 'service-lost' | 'service-restored',
  timeoutMs = 15_000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no ${event} within ${timeoutMs} ms`)), timeoutMs);
    emitter.once(event, (arg: unknown) => {
      clearTimeout(t);
      resolve(arg as T);
    });
  });
}

describe('CardWatcher with real pcscd and the virtual card', () => {
  const waitRemoved = async (): Promise<void> => {
    for (let i = 0; i < 100 && watcher.readers().some((r) => r.present); i++)
      await new Promise((r) => setTimeout(r, 100));
  };
  let pcscd: PcscdHandle;
  let watcher: CardWatcher;
  const cards: VirtualCardHandle[] = [];

  beforeAll(async () => {
    pcscd = await startPcscd();
    process.env.PCSCLITE_CSOCK_NAME = pcscd.env.PCSCLITE_CSOCK_NAME;
    watcher = new CardWatcher({ apduTimeoutMs: 3_000 });
    watcher.on('error', (e) => console.log(`[watcher] error ${e.code}: ${e.message}`));
    await watcher.start();
  });
  afterAll(async () => {
    watcher?.stop();
    for (const c of cards) await c.stop();
    await pcscd?.stop();
  });

  it('reports insert with the ATR and remove, and refuses a transaction without a card', async () => {
    await expect(watcher.transaction(async () => 1, { reader: pcscd.readerName })).rejects.toMatchObject({
      code: CardErrorCode.CARD_ABSENT,
    });
    const inserted = once<CardInsertEvent>(watcher, 'insert');
    const card = await startVirtualCard(pcscd);
    const ev = await inserted;
    expect(ev.reader).toBe(pcscd.readerName);
    expect(Buffer.from(ev.atr).subarray(-11, -1).toString('ascii')).toBe('SSMAX-vPIV');
    const removed = once<{ reader: string }>(watcher, 'remove');
    await card.stop();
    expect((await removed).reader).toBe(pcscd.readerName);
    expect(watcher.readers().find((r) => r.name === pcscd.readerName)?.present).toBe(false);
  });

  it('runs PIV in an exclusive transaction and prints per-APDU host-side timing', async () => {
    const card = await startVirtualCard(pcscd);
    cards.push(card);
    await watcher.waitForCard({ reader: pcscd.readerName });
    const t0 = performance.now();
    const { status, stats } = await watcher.transaction(async (channel) => {
      const piv = new PivSession(channel);
      await piv.select();
      for (let i = 0; i < 20; i++) await piv.pinStatus();
      return { status: await piv.pinStatus(), stats: piv.stats };
    });
    const total = performance.now() - t0;
    expect(status).toEqual({ verified: false, triesLeft: 3, blocked: false });
    expect(stats.apdus).toBe(22);
    console.log(
      `[pcsc] ${stats.apdus} APDUs: ${(stats.transmitMs / stats.apdus).toFixed(2)} ms per APDU round trip (quickack=${pcscd.quickAck}), transaction incl. connect/reset ${total.toFixed(1)} ms`,
    );
  });

  it('prints what the same exchange costs when the card dials 127.0.0.1 (no quickack route)', async () => {
    for (const c of cards.splice(0)) await c.stop();
    for (let i = 0; i < 50 && watcher.readers().some((r) => r.present); i++)
      await new Promise((r) => setTimeout(r, 100));
    const plain = await startVirtualCard(pcscd, { host: '127.0.0.1' });
    try {
      await watcher.waitForCard({ reader: pcscd.readerName });
      const stats = await watcher.transaction(async (channel) => {
        const piv = new PivSession(channel);
        await piv.select();
        for (let i = 0; i < 20; i++) await piv.pinStatus();
        return piv.stats;
      });
      expect(stats.apdus).toBe(21);
      console.log(
        `[pcsc] without quickack: ${(stats.transmitMs / stats.apdus).toFixed(2)} ms per APDU round trip`,
      );
    } finally {
      await plain.stop();
      for (let i = 0; i < 50 && watcher.readers().some((r) => r.present); i++)
        await new Promise((r) => setTimeout(r, 100));
    }
  });

  it('fails with a clear error, without hanging, when the card is pulled in the middle of a signature; the card state survives', async () => {
    for (const c of cards.splice(0)) await c.stop();
    // Enrol a P-256 key on a normal card, then re-insert the same card (state file) as a slow one.
    const setup = await startVirtualCard(pcscd);
    await watcher.waitForCard({ reader: pcscd.readerName });
    await watcher.transaction(async (channel) => {
      const piv = new PivSession(channel);
      await piv.select();
      await piv.authenticateManagementKey(Buffer.from(DEFAULT_MGMT_KEY, 'hex'));
      await piv.generateKey(PivSlot.SIGNATURE, 'p256');
    });
    await setup.stop({ keepDir: true });
    await waitRemoved();
    const slow = await startVirtualCard(pcscd, {
      stateFile: setup.stateFile,
      delayIns: 0x87,
      delayMs: 2_500,
    });
    await watcher.waitForCard({ reader: pcscd.readerName });
    const before = readFileSync(slow.stateFile, 'utf8');
    const signing = watcher.transaction(async (channel) => {
      const piv = new PivSession(channel);
      await piv.select();
      await piv.verifyPin('123456');
      return piv.ecdsaSign(PivSlot.SIGNATURE, new Uint8Array(32));
    });
    setTimeout(() => void slow.yank(), 1_000);
    const err = (await signing.catch((e: unknown) => e)) as CardError;
    if (err?.code === undefined) throw err;
    expect([CardErrorCode.CARD_REMOVED, CardErrorCode.CARD_COMMUNICATION]).toContain(err.code);
    expect(err.userMessage.length).toBeGreaterThan(10);
    console.log(`[pcsc] card pulled mid-signature → ${err.code}: ${err.userMessage}`);
    // The state file is whole (written atomically) and unchanged by the aborted operation.
    expect(readFileSync(slow.stateFile, 'utf8')).toBe(before);
    await slow.stop();
    await waitRemoved();
  });

  it('turns a silent card into a timeout error, never a hang', async () => {
    const silent = await startVirtualCard(pcscd, { silentIns: 0xcb });
    await watcher.waitForCard({ reader: pcscd.readerName });
    const t0 = performance.now();
    const err = (await watcher
      .transaction(async (channel) => {
        const piv = new PivSession(channel);
        await piv.select();
        return piv.readCertificate(PivSlot.SIGNATURE);
      })
      .catch((e: unknown) => e)) as CardError;
    expect(err.code).toBe(CardErrorCode.CARD_TIMEOUT);
    console.log(
      `[pcsc] silent card → ${err.code} after ${(performance.now() - t0).toFixed(0)} ms: ${err.userMessage}`,
    );
    // Pulling the silent card frees pcscd's reader thread again, and the next card works.
    await silent.yank();
    await waitRemoved();
    const next = await startVirtualCard(pcscd);
    try {
      await watcher.waitForCard({ reader: pcscd.readerName });
      const status = await watcher.transaction(async (channel) => {
        const piv = new PivSession(channel);
        await piv.select();
        return piv.pinStatus();
      });
      expect(status.triesLeft).toBe(3);
    } finally {
      await next.stop();
      await waitRemoved();
    }
  });

  it('recovers when pcscd restarts: service-lost, service-restored, the card comes back and works', async () => {
    const card = await startVirtualCard(pcscd);
    cards.push(card);
    await watcher.waitForCard({ reader: pcscd.readerName });
    const lost = once<CardError>(watcher, 'service-lost');
    const restored = once<void>(watcher, 'service-restored', 30_000);
    await pcscd.restart();
    const lostErr = await lost;
    expect(lostErr.code).toBe(CardErrorCode.PCSC_UNAVAILABLE);
    await restored;
    await watcher.waitForCard({ reader: pcscd.readerName, timeoutMs: 20_000 });
    const status = await watcher.transaction(async (channel) => {
      const piv = new PivSession(channel);
      await piv.select();
      return piv.pinStatus();
    });
    expect(status.triesLeft).toBe(3);
  });
});
