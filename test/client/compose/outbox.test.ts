import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { OutboxEntry } from '../../../api';
import { Outbox, type SubmitResult, type Submitter } from '../../../client/compose/outbox';
import type { SealedMessage } from '../../../client/compose/seal';
import { classifySmtpError } from '../../../client/compose/smtp';

let dataDir: string;
let clock: number;
const now = (): Date => new Date(clock);

function sealed(n: number): SealedMessage {
  return {
    messageId: `<m${n}@a.example>`,
    envelope: { from: 'hanako@a.example', to: [`r${n}@b.example`] },
    subject: `subject ${n}`,
    to: [`r${n}@b.example`],
    wire: Buffer.from(`wire ${n}\r\n`),
    sentCopy: Buffer.from(`sent ${n}\r\n`),
  };
}

/** A scripted SMTP server: answers in order, records what it got. */
function scripted(answers: SubmitResult[]): Submitter & { got: { raw: string; messageId: string; accountId: string }[] } {
  const got: { raw: string; messageId: string; accountId: string }[] = [];
  const fn = (async (_env, raw, meta) => {
    got.push({ raw: raw.toString(), ...meta });
    return answers.shift() ?? { kind: 'temporary', reason: 'no more answers' };
  }) as Submitter & { got: typeof got };
  fn.got = got;
  return fn;
}

const files = (): string[] => readdirSync(join(dataDir, 'outbox')).sort();

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'ssmax-outbox-'));
  clock = Date.parse('2026-06-01T09:00:00Z');
});
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

describe('Outbox', () => {
  it('enqueue is durable before it returns; 250 → Sent copy stored → entry removed', async () => {
    const submit = scripted([{ kind: 'accepted', response: '250 Queued as x' }]);
    const stored: string[] = [];
    const events: OutboxEntry[][] = [];
    const box = await Outbox.open({ dataDir, submit, now, storeSent: async (copy) => void stored.push(copy.toString()), onChanged: (e) => events.push(e) });
    const entry = await box.enqueue(sealed(1), 'acc1');
    // On disk already (a fresh instance sees it), without the loop having run.
    const other = await Outbox.open({ dataDir, submit: scripted([]), now });
    expect(other.list()).toEqual([expect.objectContaining({ id: entry.id, state: 'queued', subject: 'subject 1', to: ['r1@b.example'] })]);
    await box.kick();
    expect(submit.got).toEqual([{ raw: 'wire 1\r\n', messageId: '<m1@a.example>', accountId: 'acc1' }]);
    expect(stored).toEqual(['sent 1\r\n']);
    expect(box.list()).toEqual([]);
    expect(files()).toEqual([]);
    expect(events.map((e) => e.map((x) => x.state).join(','))).toEqual(['queued', 'submitting', 'sent', '']);
    await box.close();
  });

  it('a crash between writing and the commit rename leaves no half entry (cleaned at the next start)', async () => {
    const box = await Outbox.open({
      dataDir,
      submit: scripted([]),
      now,
      faultHook: (p) => {
        if (p === 'before-commit') throw new Error('killed');
      },
    });
    await expect(box.enqueue(sealed(1), 'acc1')).rejects.toThrow('killed');
    expect(files().length).toBeGreaterThan(0); // .msg, .sent and the record's temp file are there
    expect(files().some((f) => f.endsWith('.json'))).toBe(false);
    const reopened = await Outbox.open({ dataDir, submit: scripted([]), now });
    expect(reopened.list()).toEqual([]);
    expect(files()).toEqual([]);
  });

  it('4xx / no connection → retrying with backoff and the reason; sent when due and the server answers 250', async () => {
    const submit = scripted([
      { kind: 'temporary', reason: '451 4.3.0 try later' },
      { kind: 'temporary', reason: 'connect ECONNREFUSED 127.0.0.1:587' },
      { kind: 'accepted', response: '250 ok' },
    ]);
    const box = await Outbox.open({ dataDir, submit, now, retryDelayMs: (n) => n * 60_000 });
    const { id } = await box.enqueue(sealed(1), 'acc1');
    await box.kick();
    expect(box.entry(id)).toEqual(expect.objectContaining({ state: 'retrying', attempts: 1, lastError: '451 4.3.0 try later', nextAttemptAt: '2026-06-01T09:01:00.000Z' }));
    await box.kick(); // not due yet: nothing submitted
    expect(submit.got).toHaveLength(1);
    clock += 60_000;
    await box.kick();
    expect(box.entry(id)).toEqual(expect.objectContaining({ state: 'retrying', attempts: 2, lastError: 'connect ECONNREFUSED 127.0.0.1:587', nextAttemptAt: '2026-06-01T09:03:00.000Z' }));
    // The state survives a restart.
    await box.close();
    const again = await Outbox.open({ dataDir, submit, now, retryDelayMs: (n) => n * 60_000 });
    expect(again.entry(id)).toEqual(expect.objectContaining({ state: 'retrying', attempts: 2 }));
    clock += 120_000;
    await again.kick();
    expect(again.list()).toEqual([]);
    expect(submit.got).toHaveLength(3);
    await again.close();
  });

  it('5xx → failed with the server reason, kept across restarts, never resubmitted until retry', async () => {
    const submit = scripted([
      { kind: 'permanent', reason: '550 5.7.1 the From address is not the signer' },
      { kind: 'accepted', response: '250 ok' },
    ]);
    const box = await Outbox.open({ dataDir, submit, now });
    const { id } = await box.enqueue(sealed(1), 'acc1');
    await box.kick();
    expect(box.entry(id)).toEqual({ id, subject: 'subject 1', to: ['r1@b.example'], state: 'failed', attempts: 1, lastError: '550 5.7.1 the From address is not the signer' });
    clock += 24 * 3600_000;
    await box.kick();
    expect(submit.got).toHaveLength(1);
    await box.close();
    const again = await Outbox.open({ dataDir, submit, now });
    expect(again.entry(id)?.state).toBe('failed');
    await again.retry(id);
    await again.kick();
    expect(again.list()).toEqual([]);
    expect(submit.got).toHaveLength(2);
    await again.close();
  });

  it('killed after the 250 but before the record said sent → resubmitted once with the same Message-ID (the documented duplicate edge)', async () => {
    const submit = scripted([{ kind: 'accepted', response: '250 ok' }, { kind: 'accepted', response: '250 ok' }]);
    const box: Outbox = await Outbox.open({
      dataDir,
      submit,
      now,
      faultHook: (p) => {
        if (p !== 'after-accept') return;
        void box.close(); // the process is gone: it does nothing more
        throw new Error('killed');
      },
    });
    await box.enqueue(sealed(1), 'acc1');
    await box.kick();
    expect(submit.got).toHaveLength(1);
    expect(box.list().map((e) => e.state)).toEqual(['queued']);
    const again = await Outbox.open({ dataDir, submit, now });
    await again.kick();
    expect(again.list()).toEqual([]);
    expect(submit.got.map((g) => g.messageId)).toEqual(['<m1@a.example>', '<m1@a.example>']);
  });

  it('after the 250 the Sent copy store failing keeps the entry as sent (not resubmitted) until it succeeds', async () => {
    const submit = scripted([{ kind: 'accepted', response: '250 ok' }]);
    let fail = true;
    const stored: string[] = [];
    const opts = {
      dataDir,
      submit,
      now,
      retryDelayMs: () => 1000,
      storeSent: async (copy: Buffer) => {
        if (fail) throw new Error('IMAP offline');
        stored.push(copy.toString());
      },
    };
    const box = await Outbox.open(opts);
    const { id } = await box.enqueue(sealed(2), 'acc1');
    await box.kick();
    expect(box.entry(id)).toEqual(expect.objectContaining({ state: 'sent', lastError: expect.stringContaining('IMAP offline') }));
    await box.close();
    const again = await Outbox.open(opts);
    expect(again.entry(id)?.state).toBe('sent');
    fail = false;
    clock += 1000;
    await again.kick();
    expect(stored).toEqual(['sent 2\r\n']);
    expect(again.list()).toEqual([]);
    expect(submit.got).toHaveLength(1);
    await again.close();
  });

  it('an unreadable record is kept aside as .corrupt and reported, not dropped silently', async () => {
    const box = await Outbox.open({ dataDir, submit: scripted([]), now });
    await box.close();
    writeFileSync(join(dataDir, 'outbox', '6f1c2a3e-1111-4222-8333-944455556666.json'), '{broken');
    writeFileSync(join(dataDir, 'outbox', '6f1c2a3e-1111-4222-8333-944455556666.msg'), 'x');
    const again = await Outbox.open({ dataDir, submit: scripted([]), now });
    expect(again.list()).toEqual([]);
    expect(again.problems[0]).toMatch(/unreadable.*\.corrupt/);
    expect(files()).toContain('6f1c2a3e-1111-4222-8333-944455556666.json.corrupt');
    expect(files()).toContain('6f1c2a3e-1111-4222-8333-944455556666.msg');
  });
});

describe('classifySmtpError', () => {
  it('5xx permanent with the reason; 4xx, network and login trouble temporary', () => {
    expect(classifySmtpError({ responseCode: 550, response: '550 5.7.1 spoofed\r\n' })).toEqual({ kind: 'permanent', reason: '550 5.7.1 spoofed ' });
    expect(classifySmtpError({ responseCode: 451, response: '451 4.3.0 later' }).kind).toBe('temporary');
    expect(classifySmtpError({ code: 'ECONNECTION', message: 'connect ECONNREFUSED' }).kind).toBe('temporary');
    expect(classifySmtpError({ code: 'EAUTH', responseCode: 535, response: '535 bad' }).kind).toBe('temporary');
  });
});
