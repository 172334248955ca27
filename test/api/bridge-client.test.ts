import { describe, expect, it } from 'vitest';
import { ApiError, BRIDGE_CLOSE, connectBridge, type SocketHandlers } from '../../api';

/**
 * The bridge client's side of the protocol, frame by frame. The real server is exercised in
 * test/client/bridge/server.int.test.ts; here a scripted peer plays the main process so that the
 * client's handling of each frame and of a dropped connection can be checked one at a time.
 */
function scriptedPeer(): {
  factory: Parameters<typeof connectBridge>[2];
  sent: unknown[];
  peer: () => SocketHandlers;
  closedByClient: () => boolean;
} {
  const sent: unknown[] = [];
  let handlers: SocketHandlers | undefined;
  let closed = false;
  return {
    factory: (_url, h) => {
      handlers = h;
      return { send: (data) => sent.push(JSON.parse(data)), close: () => void (closed = true) };
    },
    sent,
    peer: () => {
      if (handlers === undefined) throw new Error('not connected');
      return handlers;
    },
    closedByClient: () => closed,
  };
}

describe('connectBridge', () => {
  it('sends the token first, resolves on ready, matches results to calls by id, and rethrows typed errors', async () => {
    const p = scriptedPeer();
    const connecting = connectBridge('ws://127.0.0.1:1/bridge', 'secret', p.factory);
    p.peer().onOpen();
    expect(p.sent).toEqual([{ type: 'hello', token: 'secret' }]);
    p.peer().onMessage(JSON.stringify({ type: 'ready' }));
    const { client } = await connecting;

    const first = client.settings.get();
    const second = client.accounts.list();
    expect(p.sent.slice(1)).toEqual([
      { type: 'call', id: 1, method: 'settings.get', args: [] },
      { type: 'call', id: 2, method: 'accounts.list', args: [] },
    ]);
    // Answered out of order: each result goes to its own call.
    p.peer().onMessage(
      JSON.stringify({
        type: 'result',
        id: 2,
        ok: false,
        error: {
          code: 'NotAvailableYet',
          message: 'accounts.list is not available',
          method: 'accounts.list',
        },
      }),
    );
    p.peer().onMessage(JSON.stringify({ type: 'result', id: 1, ok: true, value: { language: 'ja' } }));
    expect(await first).toEqual({ language: 'ja' });
    const err = await second.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ code: 'NotAvailableYet', method: 'accounts.list' });
  });

  it('delivers events to subscribers until they unsubscribe, and ignores non-JSON frames', async () => {
    const p = scriptedPeer();
    const connecting = connectBridge('ws://x/bridge', 't', p.factory);
    p.peer().onOpen();
    p.peer().onMessage(JSON.stringify({ type: 'ready' }));
    const { client } = await connecting;
    const seen: unknown[] = [];
    const stop = client.events.on('settings.changed', (s) => seen.push(s));
    p.peer().onMessage('not json');
    p.peer().onMessage(
      JSON.stringify({ type: 'event', name: 'settings.changed', payload: { language: 'en' } }),
    );
    stop();
    p.peer().onMessage(
      JSON.stringify({ type: 'event', name: 'settings.changed', payload: { language: 'ja' } }),
    );
    expect(seen).toEqual([{ language: 'en' }]);
  });

  it('fails calls still in flight with Disconnected when the connection drops', async () => {
    const p = scriptedPeer();
    const connecting = connectBridge('ws://x/bridge', 't', p.factory);
    p.peer().onOpen();
    p.peer().onMessage(JSON.stringify({ type: 'ready' }));
    const { client, closed } = await connecting;
    const inFlight = client.settings.get().catch((e: unknown) => e);
    p.peer().onClose(1006, '');
    expect(await inFlight).toMatchObject({ code: 'Disconnected' });
    expect(await closed).toEqual({ code: 1006, reason: '' });
    expect(await client.app.info().catch((e: unknown) => e)).toMatchObject({ code: 'Disconnected' });
  });

  it('rejects with Refused and the reason when the bridge refuses the token', async () => {
    const p = scriptedPeer();
    const connecting = connectBridge('ws://x/bridge', 'wrong', p.factory);
    p.peer().onOpen();
    p.peer().onMessage(JSON.stringify({ type: 'refused', reason: 'wrong token' }));
    p.peer().onClose(BRIDGE_CLOSE.refused, 'wrong token');
    const err = await connecting.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ code: 'Refused', message: expect.stringContaining('wrong token') });
  });
});
