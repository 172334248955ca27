import { readFile, stat } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import type { IpcMainInvokeEvent } from 'electron';
import { STATIC_MEDIA_TYPES, rendererSecurityHeaders } from '../client/csp';

/**
 * The renderer is loaded from a private, privileged scheme rather than file:// (Electron security
 * checklist #18): file:// pages share one origin with every file on disk, while `ssmax://app` is an
 * origin of its own that the CSP's 'self' and the sender check below can name exactly.
 */
export const APP_SCHEME = 'ssmax';
export const APP_HOST = 'app';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const APP_ENTRY = `${APP_ORIGIN}/index.html`;

/** Frame data the sender check needs (a subset of Electron's WebFrameMain). */
export interface SenderFrame {
  url: string;
  parent: unknown;
}

/**
 * True only for the top frame of one of our windows showing our own origin. A mail's HTML view (a
 * subframe), a page that navigated elsewhere, or a destroyed frame is refused.
 */
export function isTrustedFrame(frame: SenderFrame | null | undefined): boolean {
  if (frame === null || frame === undefined) return false;
  if (frame.parent !== null) return false;
  return isAppUrl(frame.url);
}

/**
 * Compares scheme and host, not `URL.origin`: Node's URL parser does not know that Chromium treats
 * `ssmax:` as a standard scheme and gives every non-special URL the origin "null".
 */
export function isAppUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === `${APP_SCHEME}:` && u.host === APP_HOST && u.username === '' && u.password === '';
  } catch {
    return false;
  }
}

export function isTrustedIpcEvent(event: IpcMainInvokeEvent, windowIds: ReadonlySet<number>): boolean {
  return windowIds.has(event.sender.id) && isTrustedFrame(event.senderFrame);
}

/**
 * Answers `ssmax://app/<path>` from the built renderer directory, with the CSP and other security
 * headers. Only files inside `rendererDir`; anything else is 404.
 */
export async function serveRendererFile(rendererDir: string, requestUrl: string): Promise<Response> {
  if (!isAppUrl(requestUrl)) return new Response(null, { status: 404 });
  const url = new URL(requestUrl);
  const root = resolve(rendererDir);
  let relative: string;
  try {
    relative = decodeURIComponent(url.pathname === '/' ? '/index.html' : url.pathname);
  } catch {
    return new Response(null, { status: 400 });
  }
  const file = resolve(join(root, relative));
  if (!file.startsWith(root + sep)) return new Response(null, { status: 404 });
  const info = await stat(file).catch(() => null);
  if (info === null || !info.isFile()) return new Response(null, { status: 404 });
  return new Response(await readFile(file), {
    status: 200,
    headers: {
      ...rendererSecurityHeaders(),
      'content-type': STATIC_MEDIA_TYPES[extname(file)] ?? 'application/octet-stream',
    },
  });
}

/** What the network gate needs of a request (a subset of Electron's OnBeforeRequestListenerDetails). */
export interface OutgoingRequest {
  url: string;
  method: string;
  resourceType: string;
}

/**
 * The window's network gate. Pages load nothing from the network, except the remote images and CSS
 * backgrounds of a mail whose remote content the user chose to load: the main process names their
 * exact URLs (`onRemoteContentAllowed` of the open service) and only GETs of those, as sub-resources,
 * pass. Documents, frames, scripts, fetch/XHR and WebSockets never do. Bounded: the oldest permissions
 * go first.
 */
export class RemoteLoadGate {
  readonly #allowed = new Set<string>();

  constructor(private readonly limit = 500) {}

  allow(urls: readonly string[]): void {
    for (const url of urls) {
      if (!/^https?:\/\//i.test(url)) continue;
      this.#allowed.delete(url);
      this.#allowed.add(url);
    }
    while (this.#allowed.size > this.limit) {
      const oldest = this.#allowed.values().next().value;
      if (oldest === undefined) break;
      this.#allowed.delete(oldest);
    }
  }

  /** True when the request must be cancelled. */
  refuses(request: OutgoingRequest): boolean {
    if (request.method !== 'GET') return true;
    if (request.resourceType !== 'image') return true;
    return !this.#allowed.has(request.url);
  }
}
