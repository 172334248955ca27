import { get } from 'node:https';
import { get as httpGet } from 'node:http';
import { OrgNodeError } from '../errors';
import type { BundleFetcher } from '../../smime/bundle/client';

/** A bundle could not be fetched (network, status, size). Its content is never trusted anyway. */
export class BundleFetchError extends OrgNodeError {}

const MAX_BUNDLE = 1024 * 1024;

/**
 * Fetches bundles over HTTPS (plain HTTP only when `allowHttp`, for tests and a TLS-terminating
 * proxy on loopback). TLS is for privacy and availability only: trust comes from verification.
 */
export function httpsBundleFetcher(options: { ca?: string | Buffer; timeoutMs?: number; allowHttp?: boolean; /** What is fetched, for error messages (default 'bundle'). */ label?: string } = {}): BundleFetcher {
  const what = options.label ?? 'bundle';
  const What = what.charAt(0).toUpperCase() + what.slice(1);
  return {
    fetch(url: string): Promise<Uint8Array> {
      return new Promise((resolve, reject) => {
        const parsed = new URL(url);
        if (parsed.protocol !== 'https:' && !(options.allowHttp && parsed.protocol === 'http:')) {
          reject(new BundleFetchError(`${What}s are fetched over HTTPS only (${url}).`));
          return;
        }
        const request = (parsed.protocol === 'https:' ? get : httpGet)(url, { ...(options.ca ? { ca: options.ca } : {}), timeout: options.timeoutMs ?? 15_000 }, (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            reject(new BundleFetchError(`The ${what} at ${url} could not be fetched (HTTP ${res.statusCode}).`));
            return;
          }
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_BUNDLE) {
              request.destroy();
              reject(new BundleFetchError(`The ${what} at ${url} is larger than ${MAX_BUNDLE} bytes.`));
            } else chunks.push(c);
          });
          res.on('end', () => resolve(new Uint8Array(Buffer.concat(chunks))));
          res.on('error', (cause) => reject(new BundleFetchError(`The ${what} at ${url} could not be read.`, { cause })));
        });
        request.on('timeout', () => request.destroy(new Error('timeout')));
        request.on('error', (cause) => reject(new BundleFetchError(`The ${what} at ${url} could not be fetched (${cause.message}).`, { cause })));
      });
    },
  };
}
