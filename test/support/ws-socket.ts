import WebSocket from 'ws';
import type { SocketFactory } from '../../api';

/**
 * `connectBridge`'s socket factory for Node: the `ws` client, sending the Origin a browser would
 * send (a Node client sends none by default, and the bridge refuses a missing Origin).
 */
export function wsSocketFactory(
  origin: string | undefined,
  extraHeaders: Record<string, string> = {},
): SocketFactory {
  return (url, handlers) => {
    const ws = new WebSocket(url, { ...(origin === undefined ? {} : { origin }), headers: extraHeaders });
    ws.on('open', () => handlers.onOpen());
    ws.on('message', (data) => handlers.onMessage(String(data)));
    ws.on('close', (code, reason) => handlers.onClose(code, reason.toString()));
    // A refused upgrade ends in 'unexpected-response' then 'close' (1006); 'error' alone is not the end.
    ws.on('unexpected-response', (_req, res) => {
      ws.terminate();
      handlers.onClose(1006, `HTTP ${res.statusCode ?? 0}`);
    });
    ws.on('error', () => undefined);
    return { send: (data) => ws.send(data), close: () => ws.close() };
  };
}
