import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { readCrl, type CrlAnswer, type CrlSource } from '../../smime/chain';

/**
 * Revocation at read time (SPEC §3: every member certificate names its org CA's CRL; a lost card
 * is revoked within minutes). The core asks for the CRLs at a certificate's distribution points
 * (`CrlSource`); this module fetches them over HTTP(S) and keeps them per URL. A CRL is trusted only
 * because the core checks its signature against the issuing CA — the transport adds nothing — so
 * plain HTTP is allowed; any other scheme is never fetched.
 */

/** GETs one URL; rejects with a `CrlUnavailable` (tests inject their own, always against a real server). */
export type CrlFetch = (url: string) => Promise<Uint8Array>;

/** Why a CRL could not be had, in plain words (it ends up in the note the reader sees). */
export class CrlUnavailable extends Error {
  override readonly name = 'CrlUnavailable';
}

export const CRL_MAX_BYTES = 4 * 1024 * 1024;
export const CRL_TIMEOUT_MS = 5_000;

export interface HttpCrlFetchOptions {
  /** PEM of a private CA for the org nodes' TLS (IT's provisioning `tlsCaPem`), added to the system CAs. */
  tlsCaPem?: () => string | undefined;
  timeoutMs?: number;
  maxBytes?: number;
}

/** GET over http: or https: only, no redirects, a size cap and one deadline for the whole fetch. */
export function httpCrlFetch(options: HttpCrlFetchOptions = {}): CrlFetch {
  const timeoutMs = options.timeoutMs ?? CRL_TIMEOUT_MS;
  const maxBytes = options.maxBytes ?? CRL_MAX_BYTES;
  return (url) =>
    new Promise<Uint8Array>((resolve, reject) => {
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        reject(new CrlUnavailable(`"${url}" is not a URL`));
        return;
      }
      if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
        reject(new CrlUnavailable(`the revocation list at ${url} is not on HTTP(S) and was not fetched`));
        return;
      }
      const fail = (why: string): void => {
        clearTimeout(timer);
        request.destroy();
        reject(new CrlUnavailable(`the revocation list at ${url} ${why}`));
      };
      const onResponse = (res: IncomingMessage): void => {
        if (res.statusCode !== 200) {
          res.resume();
          fail(`could not be fetched (HTTP ${res.statusCode ?? '?'})`);
          return;
        }
        const declared = Number(res.headers['content-length'] ?? '0');
        if (declared > maxBytes) {
          fail(`is larger than ${maxBytes} bytes`);
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > maxBytes) fail(`is larger than ${maxBytes} bytes`);
          else chunks.push(c);
        });
        res.on('end', () => {
          clearTimeout(timer);
          resolve(new Uint8Array(Buffer.concat(chunks)));
        });
        res.on('error', (err) => fail(`could not be read (${err.message})`));
      };
      const extraCa = options.tlsCaPem?.();
      const request =
        parsed.protocol === 'https:'
          ? httpsGet(url, extraCa ? { ca: [...rootCertificates, extraCa] } : {}, onResponse)
          : httpGet(url, onResponse);
      request.on('error', (err) => fail(`could not be reached (${err.message})`));
      const timer = setTimeout(() => fail(`did not answer within ${timeoutMs} ms`), timeoutMs);
    });
}

interface Cached {
  der: Uint8Array;
  /** When it was fetched (ms, by the cache's clock). */
  fetchedAt: number;
  /** Its nextUpdate (ms); undefined when it has none. */
  nextUpdate: number | undefined;
}

export interface CrlCacheOptions {
  fetch: CrlFetch;
  /** Keeps CRLs across restarts (the client's data dir); memory only without it. */
  dir?: string;
  /** The verification clock (tests with generated worlds); default now. */
  now?: () => Date;
  /**
   * A cached CRL is used without asking again for at most this long (default 10 minutes, so a
   * card revoked a moment ago shows up soon), and never beyond its nextUpdate.
   */
  maxAgeMs?: number;
}

/**
 * The client's CRLs by distribution point URL. A fresh copy (younger than `maxAgeMs`, before its
 * nextUpdate) is answered from memory/disk; otherwise it is fetched. When a fetch fails the last
 * copy is still handed over (an old CRL still revokes what it lists; the core notes it stale when
 * past nextUpdate) together with the reason, so a failure never makes a message look better.
 */
export class CrlCache {
  private readonly memory = new Map<string, Cached>();
  private readonly inflight = new Map<string, Promise<Cached>>();

  constructor(private readonly opts: CrlCacheOptions) {}

  /** The `CrlSource` the core asks (verifyMessage's `crlSource`). */
  readonly source: CrlSource = (urls) => this.forUrls(urls);

  async forUrls(urls: readonly string[]): Promise<CrlAnswer> {
    const crls: Uint8Array[] = [];
    const problems: string[] = [];
    for (const url of urls) {
      try {
        crls.push((await this.get(url)).der);
        // The first distribution point that answers is enough; later ones are alternatives.
        return { crls, problems: [] };
      } catch (err) {
        problems.push(err instanceof CrlUnavailable ? err.message : `the revocation list at ${url} could not be fetched`);
        const old = await this.cached(url);
        if (old) crls.push(old.der);
      }
    }
    return { crls, problems };
  }

  private now(): number {
    return (this.opts.now?.() ?? new Date()).getTime();
  }

  private fresh(c: Cached): boolean {
    const now = this.now();
    return now - c.fetchedAt < (this.opts.maxAgeMs ?? 600_000) && now >= c.fetchedAt && (c.nextUpdate === undefined || now <= c.nextUpdate);
  }

  private async get(url: string): Promise<Cached> {
    const hit = await this.cached(url);
    if (hit && this.fresh(hit)) return hit;
    let pending = this.inflight.get(url);
    if (!pending) {
      pending = this.fetchAndKeep(url).finally(() => this.inflight.delete(url));
      this.inflight.set(url, pending);
    }
    return pending;
  }

  private async fetchAndKeep(url: string): Promise<Cached> {
    const der = await this.opts.fetch(url);
    let nextUpdate: number | undefined;
    try {
      nextUpdate = readCrl(der).crl.nextUpdate?.getTime();
    } catch {
      throw new CrlUnavailable(`the revocation list at ${url} is not a CRL`);
    }
    const entry: Cached = { der, fetchedAt: this.now(), nextUpdate };
    this.memory.set(url, entry);
    await this.store(url, entry);
    return entry;
  }

  private fileOf(url: string): string | undefined {
    return this.opts.dir ? join(this.opts.dir, `${createHash('sha256').update(url).digest('hex')}.json`) : undefined;
  }

  private async cached(url: string): Promise<Cached | undefined> {
    const inMemory = this.memory.get(url);
    if (inMemory) return inMemory;
    const file = this.fileOf(url);
    if (!file) return undefined;
    try {
      const j = JSON.parse(await readFile(file, 'utf8')) as { url?: unknown; fetchedAt?: unknown; der?: unknown };
      if (j.url !== url || typeof j.fetchedAt !== 'number' || typeof j.der !== 'string') return undefined;
      const der = new Uint8Array(Buffer.from(j.der, 'base64'));
      const entry: Cached = { der, fetchedAt: j.fetchedAt, nextUpdate: readCrl(der).crl.nextUpdate?.getTime() };
      this.memory.set(url, entry);
      return entry;
    } catch {
      // Missing or damaged: as if never fetched (the CRL is fetched again).
      return undefined;
    }
  }

  private async store(url: string, entry: Cached): Promise<void> {
    const file = this.fileOf(url);
    if (!file || !this.opts.dir) return;
    try {
      await mkdir(this.opts.dir, { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      await writeFile(tmp, JSON.stringify({ url, fetchedAt: entry.fetchedAt, der: Buffer.from(entry.der).toString('base64') }));
      await rename(tmp, file);
    } catch {
      // The disk copy only saves a fetch after a restart; the memory copy is used meanwhile.
    }
  }
}
