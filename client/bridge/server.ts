import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { extname, join, resolve, sep } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  BRIDGE_CLOSE,
  BRIDGE_PATH,
  EVENT_NAMES,
  TOKEN_FRAGMENT_KEY,
  callFrameSchema,
  dispatch,
  helloFrameSchema,
  type ServerFrame,
  type SsmaxClient,
  type Unsubscribe,
} from '../../api';
import { STATIC_MEDIA_TYPES, rendererSecurityHeaders } from '../csp';

/**
 * The loopback bridge: serves the built renderer and the typed API to a browser, for the e2e tests
 * and for machines without the Electron binary. It is a door into the user's mail and card, so:
 *  - it listens on 127.0.0.1 only, on a random port;
 *  - every request must name a loopback Host with that port (defeats DNS rebinding);
 *  - the WebSocket must come from the bridge's own Origin (defeats other local web pages);
 *  - the first frame must carry the per-run random token (defeats other local processes' browsers),
 *    compared in constant time;
 *  - every call goes through `dispatch`, i.e. the same method allow-list and zod schemas as IPC.
 */
export interface BridgeOptions {
  host: SsmaxClient;
  /** The built renderer (dist/renderer). */
  staticDir: string;
  /** Default 0: a random free port. */
  port?: number;
  /** Largest accepted WebSocket frame. Default 16 MiB (compose with attachments goes by path, not bytes). */
  maxFrameBytes?: number;
  log?: (message: string) => void;
}

export interface Bridge {
  /** Open this in a browser: `http://127.0.0.1:PORT/#token=…`. */
  readonly url: string;
  /** `http://127.0.0.1:PORT` */
  readonly origin: string;
  readonly port: number;
  readonly token: string;
  /** The WebSocket endpoint (without token). */
  readonly socketUrl: string;
  /** Number of authenticated WebSocket sessions right now. */
  sessions(): number;
  close(): Promise<void>;
}

export class BridgeStartFailed extends Error {
  override readonly name = 'BridgeStartFailed';
}

const LOOPBACK_NAMES = ['127.0.0.1', 'localhost'];
const HELLO_TIMEOUT_MS = 10_000;

export async function startBridge(opts: BridgeOptions): Promise<Bridge> {
  const log = opts.log ?? (() => undefined);
  const token = randomBytes(32).toString('base64url');
  const tokenDigest = sha256(token);
  const staticRoot = resolve(opts.staticDir);
  let port = 0;
  const allowedHosts = (): string[] => LOOPBACK_NAMES.map((n) => `${n}:${port}`);
  const allowedOrigins = (): string[] => allowedHosts().map((h) => `http://${h}`);

  const server = createServer((req, res) => {
    void serveStatic(req, res).catch((err: unknown) => {
      log(`bridge: static ${req.url ?? ''} failed: ${(err as Error).message}`);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('internal error');
    });
  });

  async function serveStatic(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!allowedHosts().includes(req.headers.host ?? '')) {
      res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' }).end('refused: not a loopback host');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const pathname = new URL(req.url ?? '/', 'http://loopback').pathname;
    let relative: string;
    try {
      relative = decodeURIComponent(pathname === '/' ? '/index.html' : pathname);
    } catch {
      res.writeHead(400).end();
      return;
    }
    const file = resolve(join(staticRoot, relative));
    if (!file.startsWith(staticRoot + sep) || relative.includes('\0')) {
      res.writeHead(404).end();
      return;
    }
    const info = await stat(file).catch(() => null);
    if (info === null || !info.isFile()) {
      if (relative === '/index.html') {
        res
          .writeHead(503, { 'content-type': 'text/plain; charset=utf-8' })
          .end('The renderer is not built: run `npm run build:renderer`.');
      } else {
        res.writeHead(404).end();
      }
      return;
    }
    const body = await readFile(file);
    res.writeHead(200, {
      ...rendererSecurityHeaders(LOOPBACK_NAMES.map((n) => `ws://${n}:${port}`)),
      'content-type': STATIC_MEDIA_TYPES[extname(file)] ?? 'application/octet-stream',
      'content-length': String(body.length),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  const wss = new WebSocketServer({ noServer: true, maxPayload: opts.maxFrameBytes ?? 16 * 1024 * 1024 });
  let authenticated = 0;

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const refuse = (status: string, why: string): void => {
      log(`bridge: refused WebSocket: ${why}`);
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    const path = new URL(req.url ?? '/', 'http://loopback').pathname;
    if (path !== BRIDGE_PATH) return refuse('404 Not Found', `path ${path}`);
    if (!allowedHosts().includes(req.headers.host ?? ''))
      return refuse('403 Forbidden', `host ${req.headers.host ?? '(none)'}`);
    const origin = req.headers.origin;
    if (origin === undefined || !allowedOrigins().includes(origin))
      return refuse('403 Forbidden', `origin ${origin ?? '(none)'}`);
    wss.handleUpgrade(req, socket, head, (ws) => session(ws));
  });

  function session(ws: WebSocket): void {
    let ready = false;
    const unsubscribes: Unsubscribe[] = [];
    const send = (frame: ServerFrame): void => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(frame));
    };
    const refuse = (reason: string): void => {
      log(`bridge: refused session: ${reason}`);
      send({ type: 'refused', reason });
      ws.close(BRIDGE_CLOSE.refused, reason);
    };

    // A socket that never says hello is dropped, so idle unauthenticated sockets cannot pile up.
    const helloTimer = setTimeout(() => {
      if (!ready) refuse('no hello with the token in time');
    }, HELLO_TIMEOUT_MS);
    helloTimer.unref();

    ws.on('message', (data, isBinary) => {
      let frame: unknown;
      try {
        if (isBinary) throw new Error('binary frame');
        frame = JSON.parse(String(data));
      } catch {
        if (!ready) return refuse('the first frame must be a JSON hello with the token');
        ws.close(BRIDGE_CLOSE.protocol, 'not JSON');
        return;
      }
      if (!ready) {
        const hello = helloFrameSchema.safeParse(frame);
        if (!hello.success) return refuse('the first frame must be a hello with the token');
        if (!timingSafeEqual(sha256(hello.data.token), tokenDigest)) return refuse('wrong token');
        ready = true;
        clearTimeout(helloTimer);
        authenticated++;
        for (const name of EVENT_NAMES) {
          unsubscribes.push(opts.host.events.on(name, (payload) => send({ type: 'event', name, payload })));
        }
        send({ type: 'ready' });
        return;
      }
      const call = callFrameSchema.safeParse(frame);
      if (!call.success) {
        ws.close(BRIDGE_CLOSE.protocol, 'malformed call frame');
        return;
      }
      const { id, method, args } = call.data;
      void dispatch(opts.host, method, args, {
        onInternalError: (m, err) => log(`bridge: ${m} failed: ${(err as Error)?.stack ?? String(err)}`),
      }).then((outcome) =>
        send(
          outcome.ok
            ? { type: 'result', id, ok: true, value: outcome.value }
            : { type: 'result', id, ok: false, error: outcome.error },
        ),
      );
    });
    ws.on('close', () => {
      clearTimeout(helloTimer);
      if (ready) authenticated--;
      for (const u of unsubscribes.splice(0)) u();
    });
    ws.on('error', (err) => log(`bridge: socket error: ${err.message}`));
  }

  await new Promise<void>((resolveListen, reject) => {
    server.once('error', (err) =>
      reject(
        new BridgeStartFailed(`the bridge could not listen on 127.0.0.1: ${err.message}`, { cause: err }),
      ),
    );
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolveListen());
  });
  const address = server.address();
  if (address === null || typeof address === 'string')
    throw new BridgeStartFailed('the bridge has no TCP address');
  port = address.port;
  const origin = `http://127.0.0.1:${port}`;

  return {
    url: `${origin}/#${TOKEN_FRAGMENT_KEY}=${token}`,
    origin,
    port,
    token,
    socketUrl: `ws://127.0.0.1:${port}${BRIDGE_PATH}`,
    sessions: () => authenticated,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
      // Keep-alive HTTP connections would hold close() open; the bridge owns all of them.
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      await closed;
    },
  };
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
