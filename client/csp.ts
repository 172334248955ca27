/**
 * The renderer's Content-Security-Policy, sent as a header by both the Electron shell and the
 * loopback bridge (the meta tag in renderer/index.html repeats it as a fallback; browsers apply
 * the intersection). Only the app's own scripts and styles run: no inline script, no eval, no
 * remote anything. `connectSrc` is the bridge's WebSocket origin, empty under Electron (IPC).
 */
export function rendererCsp(connectSrc: readonly string[] = []): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    // Remote images only for the mail frame: an `<iframe sandbox srcdoc>` inherits this policy, so
    // the user's per-message "load remote content" needs http(s) here; the frame's own CSP (meta,
    // renderer/mail/ReadingPane.tsx) narrows it back to `data: cid:` unless the user chose to load,
    // and the main process strips remote URLs anyway unless asked (under Electron the session's
    // network gate also passes only those exact URLs: electron/security.ts). The app renders no <img>.
    "img-src 'self' data: https: http:",
    "font-src 'self'",
    `connect-src ${connectSrc.length > 0 ? connectSrc.join(' ') : "'none'"}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    "object-src 'none'",
  ].join('; ');
}

/** Headers for every response that carries the renderer. */
export function rendererSecurityHeaders(connectSrc: readonly string[] = []): Record<string, string> {
  return {
    'Content-Security-Policy': rendererCsp(connectSrc),
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'Cache-Control': 'no-store',
  };
}

/** Media types of the files Vite emits; anything else is served as bytes. */
export const STATIC_MEDIA_TYPES: Readonly<Record<string, string>> = Object.freeze({
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
});
