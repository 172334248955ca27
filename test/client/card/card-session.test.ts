import { describe, expect, it } from 'vitest';
import { ApiError, type CardStatus, type PinRequest } from '../../../api';
import { CardSession, toCardStatus } from '../../../client/card/card-session';
import { EventHub } from '../../../client/events';
import type { ServiceChannel } from '../../../native/card-service/client';
import { serializeError, type FromService, type ToService } from '../../../native/card-service/protocol';
import { PinEntryCancelledError, WrongPinError } from '../../../native/piv/errors';
import { buildTestPki } from '../../support/ssmax-pki';

/**
 * CardSession against a scripted card service (same messages as the real process, no PC/SC):
 * PIN prompts become events, answers and cancels settle exactly the request named, removal
 * withdraws open prompts, and card errors come back typed. The real card: test/client/open/*.int.
 */
function fakeService(onRequest: (msg: Extract<ToService, { type: 'request' }>, reply: (m: FromService) => void) => void) {
  const sent: ToService[] = [];
  let listener: (m: FromService) => void = () => undefined;
  const reply = (m: FromService): void => queueMicrotask(() => listener(m));
  const channel: ServiceChannel = {
    send: (m) => {
      sent.push(m);
      if (m.type === 'request') onRequest(m, reply);
    },
    onMessage: (l) => {
      listener = l;
      reply({ type: 'ready' });
    },
    onExit: () => undefined,
    kill: () => undefined,
  };
  return { launcher: () => channel, sent, emit: reply };
}

/** Lets queued messages flow (the client answers the service after its prompt promise settles). */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 1));
}

const status = { state: 'no-card', reader: 'Virtual PCD 00 00' } as const;

describe('CardSession', () => {
  it('turns a PIN prompt into pin.requested, sends exactly the answer, closes the request, and refuses a second answer', async () => {
    const events = new EventHub();
    const requests: PinRequest[] = [];
    const closed: string[] = [];
    events.on('pin.requested', (r) => requests.push(r));
    events.on('pin.closed', (r) => closed.push(r.requestId));
    const svc = fakeService((msg, reply) => {
      if (msg.request.op === 'status') reply({ type: 'response', id: msg.id, ok: true, value: status });
      if (msg.request.op === 'clear-pin') reply({ type: 'response', id: msg.id, ok: true, value: true });
      if (msg.request.op === 'readers')
        reply({ type: 'pin-request', id: 7, request: { reader: 'r', cardId: 'c', purpose: 'decrypt', triesLeft: 2 } });
    });
    const session = new CardSession(events, { launcher: svc.launcher });
    const op = session.run('messages.open', 'Open the message in INBOX', (card) => card.readers());
    await until(() => requests.length > 0);
    expect(requests[0]).toMatchObject({ purpose: 'decrypt', triesLeft: 2, description: 'Open the message in INBOX' });
    const id = requests[0]?.requestId ?? '';
    await session.answer(id, '123456');
    await until(() => svc.sent.some((m) => m.type === 'pin-response'));
    expect(svc.sent).toContainEqual({ type: 'pin-response', id: 7, pin: '123456' });
    expect(closed).toEqual([id]);
    await expect(session.answer(id, '123456')).rejects.toMatchObject({ code: 'NotFound' });
    // The operation itself is still waiting for the service's answer: a wrong PIN comes back typed.
    const readersId = svc.sent.find((m) => m.type === 'request' && m.request.op === 'readers');
    svc.emit({ type: 'response', id: (readersId as { id: number }).id, ok: false, error: serializeError(new WrongPinError(1)) });
    const err = await op.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ code: 'WrongPin', triesLeft: 1, message: 'Wrong PIN, 1 try left.', method: 'messages.open' });
    session.stop();
  });

  it('withdraws an open prompt when the card is removed and reports the operation as card removed', async () => {
    const events = new EventHub();
    const requests: PinRequest[] = [];
    const closed: string[] = [];
    events.on('pin.requested', (r) => requests.push(r));
    events.on('pin.closed', (r) => closed.push(r.requestId));
    let opId = 0;
    const svc = fakeService((msg, reply) => {
      if (msg.request.op === 'status') reply({ type: 'response', id: msg.id, ok: true, value: status });
      if (msg.request.op === 'readers') {
        opId = msg.id;
        reply({ type: 'pin-request', id: 1, request: { reader: 'r', cardId: 'c', purpose: 'sign', triesLeft: 3 } });
      }
    });
    const session = new CardSession(events, { launcher: svc.launcher });
    const op = session.run('compose.send', 'Sign the mail', (card) => card.readers());
    await until(() => requests.length > 0);
    const changed = new Promise<CardStatus>((resolve) => events.on('card.changed', resolve));
    svc.emit({ type: 'event', event: 'remove', reader: 'r' });
    await changed;
    await until(() => svc.sent.some((m) => m.type === 'pin-response'));
    expect(closed).toEqual([requests[0]?.requestId]);
    expect(svc.sent).toContainEqual({ type: 'pin-response', id: 1, pin: null });
    svc.emit({ type: 'response', id: opId, ok: false, error: serializeError(new PinEntryCancelledError()) });
    const err = await op.catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CardUnavailable' });
    expect((err as Error).message).toMatch(/removed/);
    session.stop();
  });

  it('a cancelled prompt is PinCancelled', async () => {
    const events = new EventHub();
    const requests: PinRequest[] = [];
    events.on('pin.requested', (r) => requests.push(r));
    let opId = 0;
    const svc = fakeService((msg, reply) => {
      if (msg.request.op === 'status') reply({ type: 'response', id: msg.id, ok: true, value: status });
      if (msg.request.op === 'readers') {
        opId = msg.id;
        reply({ type: 'pin-request', id: 3, request: { reader: 'r', cardId: 'c', purpose: 'decrypt', triesLeft: 3 } });
      }
    });
    const session = new CardSession(events, { launcher: svc.launcher });
    const op = session.run('messages.open', 'Open', (card) => card.readers());
    await until(() => requests.length > 0);
    await session.cancel(requests[0]?.requestId ?? '');
    await until(() => svc.sent.some((m) => m.type === 'pin-response'));
    expect(svc.sent).toContainEqual({ type: 'pin-response', id: 3, pin: null });
    svc.emit({ type: 'response', id: opId, ok: false, error: serializeError(new PinEntryCancelledError()) });
    expect(await op.catch((e: unknown) => e)).toMatchObject({ code: 'PinCancelled', method: 'messages.open' });
    session.stop();
  });

  it('maps the service status onto the API states', async () => {
    const { org } = await buildTestPki('P-256');
    const cert = org.employee.signature.der;
    const present = { state: 'present', reader: 'R', cardId: 'c', signatureCertificate: cert, triesLeft: 3, blocked: false, pinCached: false } as const;
    expect(toCardStatus({ state: 'no-reader' })).toEqual({ state: 'no-reader' });
    expect(toCardStatus({ state: 'no-card', reader: 'R' })).toEqual({ state: 'no-card', reader: 'R' });
    expect(toCardStatus(present)).toEqual({
      state: 'locked',
      reader: 'R',
      holder: { name: 'Hanako Yamada', staffId: 'S-0042', email: org.employee.email },
      pinTriesLeft: 3,
    });
    expect(toCardStatus({ ...present, pinCached: true }).state).toBe('ready');
    expect(toCardStatus({ ...present, blocked: true, triesLeft: 0 })).toMatchObject({ state: 'blocked', pinTriesLeft: 0 });
    expect(toCardStatus({ ...present, signatureCertificate: undefined }).state).toBe('unknown-card');
  });
});
