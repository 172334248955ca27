import { z } from 'zod';
import type { SsmaxEventName } from './api';
import type { ApiErrorValue } from './errors';

/**
 * Frames of the loopback bridge's WebSocket protocol (JSON text frames).
 *
 *   browser → main:  hello {token}  first, then  call {id, method, args}
 *   main → browser:  ready  |  refused {reason}  |  result {id, ok, value | error}  |  event {name, payload}
 *
 * The token is the per-run secret from the URL fragment (never sent in an HTTP request line, so it
 * does not appear in logs or Referer); it must be the first frame, or the socket is closed.
 */
export const BRIDGE_PATH = '/bridge';

/** The URL fragment key that carries the token: `http://127.0.0.1:PORT/#token=…`. */
export const TOKEN_FRAGMENT_KEY = 'token';

/** Close codes in the private range 4000–4999. */
export const BRIDGE_CLOSE = Object.freeze({ refused: 4401, protocol: 4400 });

export const helloFrameSchema = z
  .object({ type: z.literal('hello'), token: z.string().min(1).max(200) })
  .strict();

export const callFrameSchema = z
  .object({
    type: z.literal('call'),
    id: z.number().int().nonnegative(),
    method: z.string().min(1).max(100),
    args: z.array(z.unknown()).max(16),
  })
  .strict();
export type CallFrame = z.infer<typeof callFrameSchema>;

export type ServerFrame =
  | { type: 'ready' }
  | { type: 'refused'; reason: string }
  | { type: 'result'; id: number; ok: true; value: unknown }
  | { type: 'result'; id: number; ok: false; error: ApiErrorValue }
  | { type: 'event'; name: SsmaxEventName; payload: unknown };

/** Reads the token from a location hash like `#token=abc`. */
export function tokenFromFragment(hash: string): string | null {
  const params = new URLSearchParams(hash.startsWith('#') ? hash.slice(1) : hash);
  const token = params.get(TOKEN_FRAGMENT_KEY);
  return token !== null && token.length > 0 ? token : null;
}
