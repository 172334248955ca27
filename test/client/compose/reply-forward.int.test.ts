import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Draft, MessageRef } from '../../../api';
import type { ServiceHost } from '../../../client/service-host';
import type { RelayWorld } from '../../org-node/relay/relay-world';
import { HOLDER, PIN, startKaoriClient, type KaoriClient } from './kaori-client';

/**
 * Replies and forwards through the service host, the card and A's org node (SPEC §4): Kaori sends
 * herself a mail (internal, one hop: the node counter-signs and delivers it by LMTP to Dovecot,
 * encrypted to her 9D); she replies to it and forwards it. The reply carries In-Reply-To and
 * References of the original and "Re: " once; the forward, delivered by the node, opens as
 * verified (④ + the node's link) with the original inside verified on its own (① + its link).
 * Set-up: ./kaori-client.ts (the same client as host.int.test.ts, with the node delivering to Dovecot).
 */
let client: KaoriClient;
let rw: RelayWorld;
let host: ServiceHost;

function draft(extra: Partial<Draft> = {}): Draft {
  return { accountId: 'acct-1', to: [rw.carol.email], cc: [], subject: 'カードで署名', text: 'signed on the card', attachments: [], ...extra };
}

beforeAll(async () => {
  client = await startKaoriClient({ name: 'reply', deliver: true });
  ({ rw, host } = client);
  answerEveryPin();
}, 180_000);

afterAll(async () => {
  await client?.stop();
});

/** The user types the right PIN at every prompt (pinTtlMs 0: the decrypt of the original and the signature prompt separately). */
function answerEveryPin(): void {
  host.events.on('pin.requested', (req) => void host.pin.answer(req.requestId, PIN));
}

/** Sends `d` and waits until the outbox is empty again (250 from the node, Sent copy stored). */
async function sendAndWait(d: Draft): Promise<void> {
  const done = new Promise<void>((resolve) => {
    const stop = host.events.on('outbox.changed', (e) => {
      if (e.length === 0) {
        stop();
        resolve();
      }
    });
  });
  await host.compose.send(d);
  await done;
}

/** Waits for the INBOX message with this subject (delivered by the node over LMTP) and returns its ref. */
async function inboxMessage(subject: string): Promise<MessageRef> {
  for (let i = 0; i < 200; i++) {
    const uids = await host.mail.account('acct-1')!.connection.run(async (c) => {
      const lock = await c.getMailboxLock('INBOX');
      try {
        return (await c.search({ all: true }, { uid: true })) || [];
      } finally {
        lock.release();
      }
    });
    for (const uid of uids) {
      const m = await host.messages.open({ accountId: 'acct-1', path: 'INBOX', uid }, { loadRemoteContent: false });
      if (m.headers.subject === subject) return m.ref;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`no INBOX message "${subject}"`);
}

describe('replies and forwards through the card and the org node', () => {
  let original: MessageRef;
  let originalId: string;

  it('the original: Kaori → Kaori, one hop, verified in her INBOX', async () => {
    await sendAndWait(draft({ to: [HOLDER], subject: '見積書', text: '見積書を送ります。' }));
    original = await inboxMessage('見積書');
    const opened = await host.messages.open(original, { loadRemoteContent: false });
    expect(opened.chain.state).toBe('verified');
    originalId = opened.headers.messageId;
    expect(originalId).toMatch(/^<.+@a\.example>$/);
  });

  it('reply: In-Reply-To and References name the original, subject "Re: " once (also when the UI already wrote it)', async () => {
    await sendAndWait(draft({ to: [HOLDER], subject: 'Re: 見積書', text: 'ありがとうございます。\n\n> 見積書を送ります。', inReplyTo: original }));
    const ref = await inboxMessage('Re: 見積書');
    const raw = await host.mail.account('acct-1')!.connection.run(async (c) => {
      const lock = await c.getMailboxLock('INBOX');
      try {
        const m = await c.fetchOne(String(ref.uid), { source: true }, { uid: true });
        if (!m || !m.source) throw new Error('no source');
        return m.source;
      } finally {
        lock.release();
      }
    });
    // Inside the encryption: decrypt through the API's open, which verified the protected headers.
    const opened = await host.messages.open(ref, { loadRemoteContent: false });
    expect(opened.chain.state).toBe('verified');
    expect(opened.text).toContain('> 見積書を送ります。');
    // In-Reply-To / References are protected (inside): the outer header shows them too (RFC 9788 keeps them).
    const outer = raw.toString('latin1');
    expect(outer).toMatch(new RegExp(`In-Reply-To: ${originalId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    expect(outer).toMatch(new RegExp(`References: ${originalId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  });

  it('forward: the node accepts it, and it opens verified with the original inside verified on its own chain', async () => {
    await sendAndWait(draft({ to: [HOLDER], subject: '', text: 'FYI', forwardOf: original }));
    const ref = await inboxMessage('Fwd: 見積書');
    const opened = await host.messages.open(ref, { loadRemoteContent: false });
    expect(opened.chain.reasons).toEqual([]);
    expect(opened.chain.state).toBe('verified');
    expect(opened.chain.links.map((l) => [l.role, l.status])).toEqual([
      ['forwarder', 'valid'],
      ['single-org', 'valid'],
    ]);
    expect(opened.chain.forwards).toHaveLength(1);
    const inner = opened.chain.forwards[0]!;
    expect(inner.state).toBe('verified');
    expect(inner.links.map((l) => [l.role, l.email ?? l.domains.join()])).toEqual([
      ['sender', HOLDER],
      ['single-org', 'a.example'],
    ]);
  });

  it('a reply to a message that is gone → NotFound before any PIN prompt; nothing queued', async () => {
    await expect(host.compose.send(draft({ inReplyTo: { ...original, uid: 99_999 } }))).rejects.toMatchObject({ code: 'NotFound' });
    expect(await host.outbox.list()).toEqual([]);
  });
});
