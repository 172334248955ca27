import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CrlCache, httpCrlFetch } from '../../../client/open/revocation';
import { buildWorld, T } from '../../smime/chain/world';

/**
 * The client's CRL fetch and cache against a real HTTP server on loopback: what is fetched, when it
 * is fetched again, and that every failure comes back as a reason (never as "checked").
 */
describe('CrlCache + httpCrlFetch', () => {
  let crl: Uint8Array;
  let server: Server;
  let base: string;
  let dir: string;
  let handler: (req: IncomingMessage, res: ServerResponse) => void;
  const hits: string[] = [];

  beforeAll(async () => {
    crl = (await buildWorld()).crlA; // thisUpdate 2026-05-15, nextUpdate 2026-07-01
    server = createServer((req, res) => {
      hits.push(req.url ?? '');
      handler(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    dir = await mkdtemp(join(tmpdir(), 'ssmax-crl-'));
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });
  afterEach(() => {
    hits.length = 0;
    handler = serve(crl);
  });

  const serve =
    (body: Uint8Array, status = 200) =>
    (_req: IncomingMessage, res: ServerResponse): void => {
      res.writeHead(status, { 'content-type': 'application/pkix-crl' });
      res.end(Buffer.from(body));
    };

  it('fetches a CRL once and answers from the cache until maxAge; then asks again', async () => {
    handler = serve(crl);
    let now = T.at.getTime();
    const cache = new CrlCache({ fetch: httpCrlFetch(), now: () => new Date(now), maxAgeMs: 600_000 });
    const url = `${base}/a.crl`;
    const first = await cache.forUrls([url]);
    expect(first.problems).toEqual([]);
    expect(Buffer.from(first.crls[0] ?? []).equals(Buffer.from(crl))).toBe(true);
    await cache.forUrls([url]);
    expect(hits).toEqual(['/a.crl']);
    now += 11 * 60_000;
    await cache.forUrls([url]);
    expect(hits).toEqual(['/a.crl', '/a.crl']);
  });

  it('never uses a copy past its nextUpdate without asking; when the server then fails, the old copy comes with the reason', async () => {
    handler = serve(crl);
    let now = T.at.getTime();
    const cache = new CrlCache({ fetch: httpCrlFetch(), now: () => new Date(now), maxAgeMs: 365 * 86_400_000 });
    const url = `${base}/next.crl`;
    await cache.forUrls([url]);
    now = new Date('2026-07-02T00:00:00Z').getTime();
    handler = serve(new Uint8Array(), 503);
    const answer = await cache.forUrls([url]);
    expect(hits).toEqual(['/next.crl', '/next.crl']);
    expect(answer.crls).toHaveLength(1);
    expect(answer.problems).toEqual([`the revocation list at ${url} could not be fetched (HTTP 503)`]);
  });

  it('says why for: unreachable, HTTP error, not a CRL, too large, no answer, not HTTP(S)', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/x.crl`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));

    const cache = new CrlCache({ fetch: httpCrlFetch({ timeoutMs: 300, maxBytes: 64 * 1024 }), now: () => T.at });
    const problemOf = async (url: string): Promise<string> => {
      const a = await cache.forUrls([url]);
      expect(a.crls).toEqual([]);
      expect(a.problems).toHaveLength(1);
      return a.problems[0] ?? '';
    };
    expect(await problemOf(deadUrl)).toMatch(/could not be reached \(connect ECONNREFUSED/);

    handler = serve(new Uint8Array(), 404);
    expect(await problemOf(`${base}/missing.crl`)).toMatch(/could not be fetched \(HTTP 404\)/);

    handler = serve(new Uint8Array(Buffer.from('<html>hello</html>')));
    expect(await problemOf(`${base}/html.crl`)).toMatch(/is not a CRL/);

    handler = serve(new Uint8Array(100 * 1024));
    expect(await problemOf(`${base}/big.crl`)).toMatch(/is larger than 65536 bytes/);

    handler = (_req, res) => {
      // Headers, then silence: only the deadline ends it.
      res.writeHead(200);
      res.write('0');
    };
    expect(await problemOf(`${base}/slow.crl`)).toMatch(/did not answer within 300 ms/);

    hits.length = 0;
    expect(await problemOf('ldap://127.0.0.1/cn=A%20Corp?certificateRevocationList')).toMatch(/not on HTTP\(S\) and was not fetched/);
    expect(await problemOf('file:///etc/passwd')).toMatch(/not on HTTP\(S\)/);
    expect(hits).toEqual([]);
  });

  it('the first distribution point that answers is enough; a failed one before it leaves no problem', async () => {
    handler = (req, res) => (req.url === '/good.crl' ? serve(crl)(req, res) : serve(new Uint8Array(), 500)(req, res));
    const cache = new CrlCache({ fetch: httpCrlFetch(), now: () => T.at });
    const a = await cache.forUrls([`${base}/bad.crl`, `${base}/good.crl`]);
    expect(a.crls).toHaveLength(1);
    expect(a.problems).toEqual([]);
  });

  it('keeps CRLs in the data dir: a restarted client answers from disk while the server is down', async () => {
    handler = serve(crl);
    const url = `${base}/disk.crl`;
    await new CrlCache({ fetch: httpCrlFetch(), dir, now: () => T.at }).forUrls([url]);
    expect(await readdir(dir)).toHaveLength(1);
    handler = serve(new Uint8Array(), 500);
    hits.length = 0;
    const again = await new CrlCache({ fetch: httpCrlFetch(), dir, now: () => T.at }).forUrls([url]);
    expect(hits).toEqual([]);
    expect(again.problems).toEqual([]);
    expect(Buffer.from(again.crls[0] ?? []).equals(Buffer.from(crl))).toBe(true);
  });

  it('concurrent opens share one fetch per URL', async () => {
    handler = serve(crl);
    const cache = new CrlCache({ fetch: httpCrlFetch(), now: () => T.at });
    const url = `${base}/shared.crl`;
    await Promise.all([cache.forUrls([url]), cache.forUrls([url]), cache.forUrls([url])]);
    expect(hits).toEqual(['/shared.crl']);
  });
});
