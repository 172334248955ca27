import type { MethodPath, SsmaxClient, SsmaxEventName, Unsubscribe } from './api';
import { BRIDGE_CLOSE, type ServerFrame } from './bridge-protocol';
import type { CallOutcome } from './dispatch';
import { ApiError } from './errors';
import { createClient } from './proxy';

/**
 * The browser side of the loopback bridge: an `SsmaxClient` over one WebSocket. The socket itself
 * is injected (the browser's WebSocket in the renderer, the `ws` package in Node tests), so this
 * file needs neither DOM nor Node types and runs unchanged in both.
 */
export interface SocketHandlers {
  onOpen(): void;
  onMessage(data: string): void;
  onClose(code: number, reason: string): void;
}

export interface BridgeSocket {
  send(data: string): void;
  close(): void;
}

export type SocketFactory = (url: string, handlers: SocketHandlers) => BridgeSocket;

export interface BridgeConnection {
  client: SsmaxClient;
  close(): void;
  /** Resolves when the socket has closed, with the close code. */
  closed: Promise<{ code: number; reason: string }>;
}

/**
 * Connects, sends the token, and resolves once the main process answered `ready`; rejects with an
 * `ApiError('Refused')` when the token or origin is refused.
 */
export function connectBridge(
  url: string,
  token: string,
  createSocket: SocketFactory,
): Promise<BridgeConnection> {
  let nextId = 1;
  let ready = false;
  const pending = new Map<number, (outcome: CallOutcome) => void>();
  const listeners = new Map<SsmaxEventName, Set<(payload: unknown) => void>>();
  let resolveClosed!: (v: { code: number; reason: string }) => void;
  const closed = new Promise<{ code: number; reason: string }>((r) => (resolveClosed = r));
  let refusedReason: string | null = null;

  return new Promise<BridgeConnection>((resolve, reject) => {
    const call = (method: MethodPath, args: unknown[]): Promise<CallOutcome> => {
      if (!ready) return Promise.resolve(disconnected(method));
      const id = nextId++;
      return new Promise<CallOutcome>((done) => {
        pending.set(id, done);
        socket.send(JSON.stringify({ type: 'call', id, method, args }));
      });
    };
    const subscribe = (event: SsmaxEventName, listener: (payload: unknown) => void): Unsubscribe => {
      let set = listeners.get(event);
      if (set === undefined) listeners.set(event, (set = new Set()));
      set.add(listener);
      return () => void set.delete(listener);
    };

    const socket = createSocket(url, {
      onOpen: () => socket.send(JSON.stringify({ type: 'hello', token })),
      onMessage: (data) => {
        let frame: ServerFrame;
        try {
          frame = JSON.parse(data) as ServerFrame;
        } catch {
          return; // the main process only sends JSON; anything else is ignored rather than trusted
        }
        switch (frame.type) {
          case 'ready':
            ready = true;
            resolve({ client: createClient(call, subscribe), close: () => socket.close(), closed });
            break;
          case 'refused':
            refusedReason = frame.reason;
            break;
          case 'result': {
            const done = pending.get(frame.id);
            pending.delete(frame.id);
            done?.(frame.ok ? { ok: true, value: frame.value } : { ok: false, error: frame.error });
            break;
          }
          case 'event':
            for (const l of listeners.get(frame.name) ?? []) l(frame.payload);
            break;
        }
      },
      onClose: (code, reason) => {
        ready = false;
        for (const [id, done] of pending) {
          pending.delete(id);
          done(disconnected());
        }
        resolveClosed({ code, reason });
        if (refusedReason !== null || code === BRIDGE_CLOSE.refused) {
          reject(
            new ApiError(
              'Refused',
              `the SSMAX bridge refused the connection: ${refusedReason ?? (reason || 'refused')}`,
            ),
          );
        } else {
          reject(new ApiError('Disconnected', `the connection to SSMAX closed (code ${code})`));
        }
      },
    });
  });
}

function disconnected(method?: string): CallOutcome {
  const error = new ApiError(
    'Disconnected',
    'the connection to the SSMAX main process is closed',
    method === undefined ? {} : { method },
  );
  return { ok: false, error: error.toValue() };
}
