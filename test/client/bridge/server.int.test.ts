import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, BRIDGE_CLOSE, connectBridge } from '../../../api';
import { startBridge, type Bridge } from '../../../client/bridge/server';
import { ServiceHost } from '../../../client/service-host';
import { apiContract } from '../../support/api-contract';
import { wsSocketFactory } from '../../support/ws-socket';

/**
 * The loopback bridge over real sockets: a real service host on a temp data dir, the real HTTP and
 * WebSocket server, and a Node WebSocket client standing in for the browser (the Chromium run is
 * test/renderer/app.e2e.test.ts).
 */
const INDEX = '<!doctype html><title>SSMAX</title><p>renderer</p>';

async function makeStaticDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ssmax-static-'));
  await writeFile(join(dir, 'index.html'), INDEX);
  await mkdir(join(dir, 'assets'));
  await writeFile(join(dir, 'assets', 'app.js'), 'console.log(1)');
  return dir;
}

const makeDataDir = (): Promise<string> => mkdtemp(join(tmpdir(), 'ssmax-bridge-'));
const removeDataDir = (dir: string): Promise<void> => rm(dir, { recursive: true, force: true });

let staticDir: string;
beforeAll(async () => {
  staticDir = await makeStaticDir();
});
afterAll(async () => {
  await rm(staticDir, { recursive: true, force: true });
});

apiContract('the loopback bridge (WebSocket)', {
  runtime: 'bridge',
  makeDataDir,
  removeDataDir,
  connect: async (dataDir) => {
    const host = await ServiceHost.open({ dataDir, runtime: 'bridge' });
    const bridge = await startBridge({ host, staticDir });
    const conn = await connectBridge(bridge.socketUrl, bridge.token, wsSocketFactory(bridge.origin));
    return {
      client: conn.client,
      close: async () => {
        conn.close();
        await bridge.close();
      },
    };
  },
});

interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, headers: { host: `127.0.0.1:${port}`, ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Opens a raw WebSocket and reports how the bridge answered: HTTP refusal, or frames and close code. */
function rawSocket(
  bridge: Bridge,
  opts: { origin?: string; host?: string; frames?: string[] },
): Promise<{ httpStatus?: number; frames: unknown[]; closeCode?: number }> {
  return new Promise((resolve) => {
    const headers: Record<string, string> = opts.host === undefined ? {} : { host: opts.host };
    const ws = new WebSocket(bridge.socketUrl, {
      ...(opts.origin === undefined ? {} : { origin: opts.origin }),
      headers,
    });
    const frames: unknown[] = [];
    ws.on('unexpected-response', (_req, res) => {
      ws.terminate();
      resolve({ httpStatus: res.statusCode ?? 0, frames });
    });
    ws.on('error', () => undefined);
    ws.on('open', () => {
      // An upgrade that should have been refused was accepted: report it at once instead of hanging.
      if (opts.frames === undefined) {
        ws.terminate();
        resolve({ frames, httpStatus: 101 });
      }
      for (const f of opts.frames ?? []) ws.send(f);
    });
    ws.on('message', (data) => frames.push(JSON.parse(String(data))));
    ws.on('close', (code) => resolve({ frames, closeCode: code }));
  });
}

describe('loopback bridge security', () => {
  let dataDir: string;
  let host: ServiceHost;
  let bridge: Bridge;
  beforeAll(async () => {
    dataDir = await makeDataDir();
    host = await ServiceHost.open({ dataDir, runtime: 'bridge' });
    bridge = await startBridge({ host, staticDir });
  });
  afterAll(async () => {
    await bridge.close();
    await removeDataDir(dataDir);
  });

  it('listens on 127.0.0.1 and puts the token in the URL fragment only', () => {
    const url = new URL(bridge.url);
    expect(url.hostname).toBe('127.0.0.1');
    expect(url.pathname).toBe('/');
    expect(url.search).toBe('');
    expect(url.hash).toBe(`#token=${bridge.token}`);
    expect(bridge.token.length).toBeGreaterThanOrEqual(43); // 32 random bytes, base64url
  });

  it('serves the renderer with a strict CSP and refuses a non-loopback Host (DNS rebinding)', async () => {
    const ok = await get(bridge.port, '/');
    expect(ok.status).toBe(200);
    expect(ok.body).toBe(INDEX);
    const csp = String(ok.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain(`connect-src ws://127.0.0.1:${bridge.port}`);
    expect(ok.headers['x-content-type-options']).toBe('nosniff');
    expect((await get(bridge.port, '/assets/app.js')).headers['content-type']).toMatch(/^text\/javascript/);

    expect((await get(bridge.port, '/', { host: `attacker.example:${bridge.port}` })).status).toBe(403);
    expect((await get(bridge.port, '/', { host: '127.0.0.1:1' })).status).toBe(403);
  });

  it('serves nothing outside the renderer directory', async () => {
    for (const path of ['/%2e%2e/%2e%2e/etc/passwd', '/..%2fpackage.json', '/nothing-here.js']) {
      expect((await get(bridge.port, path)).status).toBe(404);
    }
  });

  it('refuses a WebSocket from a foreign Origin, without an Origin, or to a non-loopback Host', async () => {
    expect((await rawSocket(bridge, { origin: 'http://attacker.example' })).httpStatus).toBe(403);
    expect((await rawSocket(bridge, { origin: `http://127.0.0.1:${bridge.port + 1}` })).httpStatus).toBe(403);
    expect((await rawSocket(bridge, {})).httpStatus).toBe(403);
    expect(
      (await rawSocket(bridge, { origin: bridge.origin, host: `attacker.example:${bridge.port}` }))
        .httpStatus,
    ).toBe(403);
    expect(bridge.sessions()).toBe(0);
  });

  it('refuses a wrong token, and any call before the token, closing with 4401', async () => {
    const wrong = await connectBridge(
      bridge.socketUrl,
      `${bridge.token.slice(0, -2)}xx`,
      wsSocketFactory(bridge.origin),
    ).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(ApiError);
    expect((wrong as ApiError).code).toBe('Refused');
    expect((wrong as ApiError).message).toMatch(/wrong token/);

    const early = await rawSocket(bridge, {
      origin: bridge.origin,
      frames: [JSON.stringify({ type: 'call', id: 1, method: 'settings.get', args: [] })],
    });
    expect(early.closeCode).toBe(BRIDGE_CLOSE.refused);
    expect(early.frames).toEqual([
      { type: 'refused', reason: 'the first frame must be a hello with the token' },
    ]);
    expect(bridge.sessions()).toBe(0);
  });

  it('with the right token: answers unknown methods and malformed arguments with typed errors', async () => {
    const calls = [
      { type: 'call', id: 1, method: 'shell.openExternal', args: ['https://x'] },
      { type: 'call', id: 2, method: 'settings.update', args: ['ja'] },
      { type: 'call', id: 3, method: 'app.info', args: [] },
    ].map((c) => JSON.stringify(c));
    const answer = await new Promise<unknown[]>((resolve) => {
      const ws = new WebSocket(bridge.socketUrl, { origin: bridge.origin });
      const frames: unknown[] = [];
      ws.on('open', () => ws.send(JSON.stringify({ type: 'hello', token: bridge.token })));
      ws.on('message', (data) => {
        const frame = JSON.parse(String(data)) as { type: string };
        frames.push(frame);
        if (frame.type === 'ready') for (const c of calls) ws.send(c);
        if (frames.length === 4) ws.close();
      });
      ws.on('close', () => resolve(frames));
    });
    expect(answer[0]).toEqual({ type: 'ready' });
    const byId = new Map(
      answer.slice(1).map((f) => [(f as { id: number }).id, f as { ok: boolean; error?: { code: string } }]),
    );
    expect(byId.get(1)?.error?.code).toBe('UnknownMethod');
    expect(byId.get(2)?.error?.code).toBe('InvalidArguments');
    expect(byId.get(3)?.ok).toBe(true);
  });

  it('pushes events to authenticated sessions only, and stops when the session closes', async () => {
    const conn = await connectBridge(bridge.socketUrl, bridge.token, wsSocketFactory(bridge.origin));
    expect(bridge.sessions()).toBe(1);
    const changed = new Promise((resolve) => conn.client.events.on('settings.changed', resolve));
    await host.settings.update({ language: 'ja' });
    expect(await changed).toEqual({ language: 'ja' });
    conn.close();
    await conn.closed;
    // The server's close handler runs after the client sees the close: wait for it by polling state, not time.
    await expect.poll(() => host.events.listenerCount('settings.changed')).toBe(0);
    expect(bridge.sessions()).toBe(0);
  });
});

describe('loopback bridge without a built renderer', () => {
  let dataDir: string;
  let bridge: Bridge | undefined;
  afterEach(async () => {
    await bridge?.close();
    await removeDataDir(dataDir);
  });
  it('says how to build it instead of serving an empty page', async () => {
    dataDir = await makeDataDir();
    const host = await ServiceHost.open({ dataDir, runtime: 'bridge' });
    bridge = await startBridge({ host, staticDir: join(dataDir, 'no-such-dir') });
    const answer = await get(bridge.port, '/');
    expect(answer.status).toBe(503);
    expect(answer.body).toMatch(/npm run build:renderer/);
  });
});
