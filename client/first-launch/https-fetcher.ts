import { get } from 'node:https';
import type { BundleFetcher } from '../../smime/bundle';
import { BundleUnreachable } from './errors';

const MAX_BUNDLE = 1024 * 1024;

/**
 * Fetches the org bundle over HTTPS only (1 MiB limit, timeout). `ca` trusts a private CA for the
 * TLS connection; TLS only keeps the fetch private and available — the bundle is trusted only when
 * it verifies to the SSMAX root. Every failure is a `BundleUnreachable` (the caller reports offline).
 */
export function httpsBundleFetcher(options: { ca?: string; timeoutMs?: number } = {}): BundleFetcher {
  return {
    fetch(url: string): Promise<Uint8Array> {
      return new Promise((resolve, reject) => {
        let parsed: URL;
        try {
          parsed = new URL(url);
        } catch (cause) {
          reject(new BundleUnreachable(`"${url}" is not a URL.`, { cause }));
          return;
        }
        if (parsed.protocol !== 'https:') {
          reject(new BundleUnreachable(`The org bundle is fetched over HTTPS only (${url}).`));
          return;
        }
        const request = get(url, { ...(options.ca ? { ca: options.ca } : {}), timeout: options.timeoutMs ?? 15_000 }, (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            reject(new BundleUnreachable(`The org bundle at ${url} could not be fetched (HTTP ${res.statusCode}).`));
            return;
          }
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_BUNDLE) {
              request.destroy();
              reject(new BundleUnreachable(`The org bundle at ${url} is larger than ${MAX_BUNDLE} bytes.`));
            } else chunks.push(c);
          });
          res.on('end', () => resolve(new Uint8Array(Buffer.concat(chunks))));
          res.on('error', (cause) => reject(new BundleUnreachable(`The org bundle at ${url} could not be read.`, { cause })));
        });
        request.on('timeout', () => request.destroy(new Error('timeout')));
        request.on('error', (cause) => reject(new BundleUnreachable(`The org bundle host ${parsed.host} cannot be reached (${cause.message}).`, { cause })));
      });
    },
  };
}
