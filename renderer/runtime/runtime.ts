import {
  ApiError,
  BRIDGE_PATH,
  EXPOSED_GLOBAL,
  clientFromPreload,
  connectBridge,
  tokenFromFragment,
  type PreloadBridge,
  type SsmaxClient,
} from '../../api';
import { browserSocket } from './browser-socket';

/**
 * Where the UI gets its `SsmaxClient` from (the deltachat-desktop "Runtime" idea): inside Electron
 * the preload has put `window.ssmax` there; in a plain browser the page was served by the loopback
 * bridge and talks to it over a WebSocket. Components never know which: they get an `SsmaxClient`.
 */
export interface Runtime {
  kind: 'electron' | 'browser';
  client: SsmaxClient;
  /** Resolves when the connection to the main process is gone (never, under Electron). */
  lost: Promise<void>;
  /** Drops the connection (the bridge's WebSocket); nothing to do under Electron. */
  close(): void;
}

/** The page was opened without `#token=…`: the user needs the full address the bridge printed. */
export class MissingToken extends ApiError {
  override readonly name = 'MissingToken';
  constructor() {
    super('Refused', 'this page was opened without its access token');
  }
}

declare global {
  interface Window {
    [EXPOSED_GLOBAL]?: PreloadBridge;
  }
}

export async function startRuntime(win: Window): Promise<Runtime> {
  const preload = win[EXPOSED_GLOBAL];
  if (preload !== undefined) {
    return {
      kind: 'electron',
      client: clientFromPreload(preload),
      lost: new Promise<void>(() => undefined),
      close: () => undefined,
    };
  }
  const token = tokenFromFragment(win.location.hash);
  if (token === null) throw new MissingToken();
  const scheme = win.location.protocol === 'https:' ? 'wss:' : 'ws:';
  const conn = await connectBridge(`${scheme}//${win.location.host}${BRIDGE_PATH}`, token, browserSocket);
  return {
    kind: 'browser',
    client: conn.client,
    lost: conn.closed.then(() => undefined),
    close: () => conn.close(),
  };
}
