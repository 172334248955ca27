import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Draft, OutboxEntry } from '../../../api';
import type { ServiceHost } from '../../../client/service-host';
import type { RelayWorld } from '../../org-node/relay/relay-world';
import { HOLDER, PIN, startKaoriClient, type KaoriClient } from './kaori-client';

/**
 * compose.send through the service host with the real card path: pcscd + the virtual card
 * (9C/9D enrolled under A Corp's CA), the org bundle pinned by first launch (served over HTTPS,
 * signed by A's org signing key), the org node's submission server. Wrong PIN → WrongPin, nothing
 * queued; right PIN → signed on the card, 250 from the node (which verified the card's signature
 * and that it is the submitting user's), outbox.changed events, the Sent copy APPENDed to Dovecot's
 * Sent folder and only then the entry removed; the Sent copy opens with the card's 9D key.
 */
let client: KaoriClient;
let rw: RelayWorld;
let host: ServiceHost;
const logs: Record<string, unknown>[] = [];
const events: OutboxEntry[][] = [];

function draft(extra: Partial<Draft> = {}): Draft {
  return { accountId: 'acct-1', to: [rw.carol.email], cc: [], subject: 'カードで署名', text: 'signed on the card', attachments: [], ...extra };
}

beforeAll(async () => {
  // The node keeps what it accepts queued (no LMTP): the test follows the client's outbox only.
  client = await startKaoriClient({ name: 'host', deliver: false, log: (e) => logs.push(e) });
  ({ rw, host } = client);
  host.events.on('outbox.changed', (e) => events.push(e));
}, 180_000);

afterAll(async () => {
  await client?.stop();
});

/** Answers the next PIN prompt with `pin`. */
function answerNextPin(pin: string): void {
  const stop = host.events.on('pin.requested', (req) => {
    stop();
    void host.pin.answer(req.requestId, pin);
  });
}

describe('compose.send through the service host and the card', () => {
  it('wrong PIN → WrongPin with the tries left; nothing queued', async () => {
    answerNextPin('654321');
    await expect(host.compose.send(draft())).rejects.toMatchObject({ code: 'WrongPin', message: expect.stringMatching(/2 tries left/) });
    expect(await host.outbox.list()).toEqual([]);
  });

  it('right PIN → signed on the card, 250 from the org node, Sent copy APPENDed, removed; the Sent copy opens with the card', async () => {
    answerNextPin(PIN);
    const done = new Promise<void>((resolve) => {
      let sawSent = false;
      const stop = host.events.on('outbox.changed', (e) => {
        if (e.some((x) => x.state === 'sent')) sawSent = true;
        if (sawSent && e.length === 0) {
          stop();
          resolve();
        }
      });
    });
    const receipt = await host.compose.send(draft());
    expect(receipt.state).toBe('queued');
    await done;
    expect(await host.outbox.list()).toEqual([]);
    expect(events.flat().map((e) => e.state)).toEqual(expect.arrayContaining(['queued', 'submitting', 'sent']));
    const sub = logs.find((e) => e.event === 'submission' && e.submitter === HOLDER);
    expect(sub?.chain).toEqual([expect.objectContaining({ status: 'valid' })]);
    expect(sub?.outcomes).toEqual([expect.objectContaining({ kind: 'deliver' })]);

    // The Sent copy: encrypted to the card's 9D certificate, in Dovecot's Sent folder as UID 1.
    answerNextPin(PIN);
    const opened = await host.messages.open({ accountId: 'acct-1', path: 'Sent', uid: 1 }, { loadRemoteContent: false });
    expect(opened.headers.subject).toBe('カードで署名');
    expect(opened.text).toContain('signed on the card');
    expect(opened.chain.links[0]).toEqual(expect.objectContaining({ status: 'valid', email: HOLDER }));
  });
});
