import type { IpcMain, IpcMainInvokeEvent, IpcRenderer, IpcRendererEvent } from 'electron';
import {
  ApiError,
  EVENT_NAMES,
  METHOD_PATHS,
  createOutcomeProxy,
  dispatch,
  ipcChannel,
  ipcEventChannel,
  isEventName,
  type CallOutcome,
  type PreloadBridge,
  type SsmaxClient,
  type SsmaxEventName,
  type Unsubscribe,
} from '../api';

/**
 * Both ends of the Electron IPC, derived from the channel table in `api/channels.ts` — the main
 * process registers exactly one `ipcMain.handle` per method, the preload exposes exactly one
 * function per method — so no channel name is written by hand here or anywhere else. Kept apart
 * from main.ts/preload.ts (which only wire these to Electron's objects) so that they can be
 * exercised in plain Node: the Electron binary is not available to the tests.
 */

export type TrustedSenderCheck = (event: IpcMainInvokeEvent) => boolean;

/**
 * Registers one handler per method. Each call is checked for its sender frame (Electron security
 * checklist #17: a subframe — e.g. a mail's HTML view — or a navigated-away page must not reach the
 * API) and then goes through `dispatch`: allow-list, zod validation, typed errors.
 * Returns a function that removes the handlers again.
 */
export function registerIpcHandlers(
  ipcMain: Pick<IpcMain, 'handle' | 'removeHandler'>,
  host: SsmaxClient,
  isTrustedSender: TrustedSenderCheck,
  log: (message: string) => void = console.error,
): () => void {
  for (const method of METHOD_PATHS) {
    ipcMain.handle(ipcChannel(method), async (event, ...args: unknown[]): Promise<CallOutcome> => {
      if (!isTrustedSender(event)) {
        log(`ipc: refused ${method} from ${event.senderFrame?.url ?? 'a destroyed frame'}`);
        return {
          ok: false,
          error: new ApiError('Refused', 'this page may not use the SSMAX API', { method }).toValue(),
        };
      }
      return dispatch(host, method, args, {
        onInternalError: (m, err) => log(`ipc: ${m} failed: ${(err as Error)?.stack ?? String(err)}`),
      });
    });
  }
  return () => {
    for (const method of METHOD_PATHS) ipcMain.removeHandler(ipcChannel(method));
  };
}

/** Forwards every event of the service host to one window (`webContents.send`). */
export function forwardEvents(
  host: SsmaxClient,
  send: (channel: string, payload: unknown) => void,
): Unsubscribe {
  const unsubscribes = EVENT_NAMES.map((name) =>
    host.events.on(name, (payload) => send(ipcEventChannel(name), payload)),
  );
  return () => unsubscribes.forEach((u) => u());
}

/**
 * The object the preload exposes as `window.ssmax`. Only the allow-listed channels are reachable:
 * the renderer never gets `ipcRenderer` itself, nor a way to name a channel.
 */
export function buildPreloadBridge(
  ipcRenderer: Pick<IpcRenderer, 'invoke' | 'on' | 'removeListener'>,
): PreloadBridge {
  return {
    methods: createOutcomeProxy(
      (method, args) => ipcRenderer.invoke(ipcChannel(method), ...args) as Promise<CallOutcome>,
    ),
    on(event: SsmaxEventName, listener: (payload: unknown) => void): Unsubscribe {
      if (!isEventName(event)) throw new Error(`unknown SSMAX event: ${String(event)}`);
      const channel = ipcEventChannel(event);
      // The Electron event object is not passed on: it would hand the renderer `sender` (ipcRenderer).
      const handler = (_event: IpcRendererEvent, payload: unknown): void => listener(payload);
      ipcRenderer.on(channel, handler);
      return () => void ipcRenderer.removeListener(channel, handler);
    },
  };
}
