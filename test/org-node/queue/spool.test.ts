import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Spool, spoolIdFor } from '../../../org-node/queue/spool';
import { DeliveryWorker, type HandOffResult, type WorkerEvent } from '../../../org-node/queue/worker';
import type { SpoolEntry } from '../../../org-node/queue/spool';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ssmax-spool-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const entry = (key: string, body = 'Subject: x\r\n\r\nhello\r\n') => ({ key, kind: 'deliver' as const, mailFrom: 'a@a.example', rcptTo: ['b@a.example'], messageId: '<m@x>', message: Buffer.from(body) });

function waitFor(events: WorkerEvent[], pred: (e: WorkerEvent) => boolean): Promise<WorkerEvent> {
  return new Promise((resolve) => {
    const t = setInterval(() => {
      const e = events.find(pred);
      if (e) {
        clearInterval(t);
        resolve(e);
      }
    }, 5);
  });
}

describe('spool', () => {
  it('queues durably, skips a duplicate key, keeps the bytes exactly, and moves to done', async () => {
    const s = await Spool.open(dir);
    const body = 'Subject: ü\r\n\r\n\u0000binary\r\n';
    const r1 = await s.enqueue([entry('k1', body), entry('k2')]);
    expect(r1.queued).toHaveLength(2);
    expect((await s.enqueue([entry('k1')])).duplicates).toEqual([spoolIdFor('k1')]);
    const e = await s.read(spoolIdFor('k1'));
    expect(e.message.toString()).toBe(body);
    expect(e).toMatchObject({ kind: 'deliver', rcptTo: ['b@a.example'], messageId: '<m@x>' });
    await s.complete(spoolIdFor('k1'));
    expect(await s.queued()).toEqual([spoolIdFor('k2')]);
    expect(await s.has('k1')).toBe(true);
    expect((await s.enqueue([entry('k1')])).queued).toEqual([]);
  });

  it('drops half-written files at open (never acknowledged) and keeps queued ones', async () => {
    const s = await Spool.open(dir);
    await s.enqueue([entry('k')]);
    writeFileSync(join(dir, 'tmp', 'partial.123'), '{"v":1');
    await Spool.open(dir);
    expect(readdirSync(join(dir, 'tmp'))).toEqual([]);
    expect(readdirSync(join(dir, 'queue'))).toEqual([spoolIdFor('k')]);
  });

  it('purges tombstones older than the dedupe window only', async () => {
    const s = await Spool.open(dir);
    await s.enqueue([entry('old')]);
    await s.complete(spoolIdFor('old'));
    expect(await s.purgeDone(60_000, new Date(Date.now() + 1_000))).toBe(0);
    expect(await s.purgeDone(60_000, new Date(Date.now() + 120_000))).toBe(1);
    expect(await s.has('old')).toBe(false);
  });

  it('a bounce keeps the copy with its reason', async () => {
    const s = await Spool.open(dir);
    await s.enqueue([entry('k')]);
    await s.bounce(spoolIdFor('k'), '550 no such user');
    expect(readFileSync(join(dir, 'bounced', `${spoolIdFor('k')}.reason`), 'utf8')).toBe('550 no such user\n');
    expect(await s.queued()).toEqual([]);
  });
});

describe('held copies', () => {
  it('wait in held/ with their reason, are not handed on, and are released to the queue or discarded', async () => {
    const s = await Spool.open(dir);
    await s.enqueue([{ ...entry('h1'), held: 'PPAP' }, { ...entry('h2'), held: 'PPAP' }]);
    expect(await s.queued()).toEqual([]);
    expect((await s.heldEntries()).sort((a, b) => a.id.localeCompare(b.id))).toEqual([spoolIdFor('h1'), spoolIdFor('h2')].sort().map((id) => ({ id, reason: 'PPAP' })));
    expect((await s.enqueue([entry('h1')])).duplicates).toEqual([spoolIdFor('h1')]);
    await s.release(spoolIdFor('h1'));
    await s.discard(spoolIdFor('h2'), 'refused by the administrator');
    expect(await s.queued()).toEqual([spoolIdFor('h1')]);
    expect(await s.heldEntries()).toEqual([]);
    expect(readFileSync(join(dir, 'bounced', `${spoolIdFor('h2')}.reason`), 'utf8')).toBe('refused by the administrator\n');
  });
});

describe('delivery worker', () => {
  it('retries a deferred copy, completes it on 250, and bounces a 5xx', async () => {
    const s = await Spool.open(dir);
    await s.enqueue([entry('ok'), entry('bad')]);
    const answers: Record<string, HandOffResult[]> = {
      [spoolIdFor('ok')]: [{ status: 'deferred', reason: '421 try later' }, { status: 'accepted' }],
      [spoolIdFor('bad')]: [{ status: 'rejected', reason: '550 no' }],
    };
    const events: WorkerEvent[] = [];
    const bounced: string[] = [];
    const w = new DeliveryWorker(s, {
      handOff: (e: SpoolEntry) => Promise.resolve(answers[e.id]?.shift() ?? { status: 'deferred', reason: 'unexpected' }),
      onEvent: (e) => events.push(e),
      onBounce: (e, reason) => {
        bounced.push(`${e.id}:${reason}`);
        return Promise.resolve();
      },
      retryDelaysMs: [0],
      pollMs: 10,
    });
    w.start();
    await waitFor(events, (e) => e.type === 'delivered');
    await waitFor(events, (e) => e.type === 'bounced');
    await w.stop();
    expect(events.filter((e) => e.type === 'deferred')).toHaveLength(1);
    expect(bounced).toEqual([`${spoolIdFor('bad')}:550 no`]);
    expect(await s.queued()).toEqual([]);
  });

  it('a crash after the hand-off leaves the copy queued: the next worker sends it again (at-least-once edge)', async () => {
    const s = await Spool.open(dir);
    await s.enqueue([entry('k')]);
    const sent: string[] = [];
    const events: WorkerEvent[] = [];
    const crashing = new DeliveryWorker(s, {
      handOff: (e) => {
        sent.push(e.id);
        return Promise.resolve({ status: 'accepted' });
      },
      faultHook: () => {
        void crashing.stop(); // a dead process scans no more
        throw new Error('crash');
      },
      onEvent: (e) => events.push(e),
      pollMs: 10,
    });
    crashing.start();
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (sent.length >= 1) {
          clearInterval(t);
          resolve();
        }
      }, 5);
    });
    await crashing.stop();
    expect(await s.queued()).toEqual([spoolIdFor('k')]);

    const again = new DeliveryWorker(await Spool.open(dir), {
      handOff: (e) => {
        sent.push(e.id);
        return Promise.resolve({ status: 'accepted' });
      },
      onEvent: (e) => events.push(e),
      pollMs: 10,
    });
    again.start();
    await waitFor(events, (e) => e.type === 'delivered');
    await again.stop();
    expect(sent).toEqual([spoolIdFor('k'), spoolIdFor('k')]);
    expect(await s.queued()).toEqual([]);
  });
});
