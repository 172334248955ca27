import type { SocketFactory } from '../../api';

/** `connectBridge`'s socket factory for the browser's own WebSocket. */
export const browserSocket: SocketFactory = (url, handlers) => {
  const ws = new WebSocket(url);
  ws.addEventListener('open', () => handlers.onOpen());
  ws.addEventListener('message', (ev: MessageEvent) => {
    if (typeof ev.data === 'string') handlers.onMessage(ev.data);
  });
  ws.addEventListener('close', (ev: CloseEvent) => handlers.onClose(ev.code, ev.reason));
  return { send: (data) => ws.send(data), close: () => ws.close() };
};
