import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ClamdConnectionError,
  ClamdReplyError,
  ClamdTimeoutError,
  ping,
  scanBuffer,
} from '../../../org-node/inspection/clamd-client';
import { freePort } from '../../harness/process';

// The failure paths of the clamd client, against small fake servers on loopback. The happy paths
// run against a real clamd in test/harness/clamd.int.test.ts.

describe('clamd client failure paths', () => {
  const servers: Server[] = [];
  const sockets = new Set<Socket>();

  afterEach(async () => {
    for (const s of sockets) s.destroy();
    sockets.clear();
    await Promise.all(
      servers.splice(0).map((srv) => new Promise<void>((resolve) => srv.close(() => resolve()))),
    );
  });

  async function fakeClamd(
    onData: (sock: Socket, data: Buffer) => void,
  ): Promise<{ host: string; port: number }> {
    const srv = createServer((sock) => {
      sockets.add(sock);
      sock.on('data', (d: Buffer) => onData(sock, d));
      sock.on('error', () => undefined);
    });
    servers.push(srv);
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', () => resolve()));
    const addr = srv.address();
    if (addr === null || typeof addr === 'string') throw new Error('no address');
    return { host: '127.0.0.1', port: addr.port };
  }

  it('nothing listening: ClamdConnectionError with a user message', async () => {
    const port = await freePort();
    const err = await scanBuffer({ host: '127.0.0.1', port }, Buffer.from('x')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClamdConnectionError);
    expect((err as ClamdConnectionError).userMessage).toBe(
      'The virus scanner could not be reached; the content was not scanned.',
    );
    expect((err as ClamdConnectionError).message).toContain(`127.0.0.1:${port}`);
  });

  it('a server that never answers: ClamdTimeoutError after the idle timeout, not a hang', async () => {
    const address = await fakeClamd(() => undefined);
    await expect(scanBuffer(address, Buffer.from('x'), { idleTimeoutMs: 300 })).rejects.toBeInstanceOf(
      ClamdTimeoutError,
    );
  });

  it('an ERROR reply: ClamdReplyError carrying the reply', async () => {
    const address = await fakeClamd((sock, data) => {
      // Answer once the terminating zero-length chunk has arrived.
      if (data.subarray(-4).equals(Buffer.alloc(4))) sock.end("stream: Can't allocate memory ERROR\0");
    });
    const err = await scanBuffer(address, Buffer.from('x')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClamdReplyError);
    expect((err as ClamdReplyError).reply).toBe("stream: Can't allocate memory ERROR");
  });

  it('PING answered with something other than PONG: ClamdReplyError', async () => {
    const address = await fakeClamd((sock) => sock.end('UNKNOWN COMMAND\0'));
    await expect(ping(address)).rejects.toBeInstanceOf(ClamdReplyError);
  });
});
