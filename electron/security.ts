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
