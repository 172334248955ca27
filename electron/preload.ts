import { contextBridge, ipcRenderer } from 'electron';
import { EXPOSED_GLOBAL } from '../api';
import { buildPreloadBridge } from './ipc';

/**
 * Runs in the sandboxed renderer before the page, with contextIsolation: the page sees only
 * `window.ssmax` — one function per allow-listed channel and `on` for events (see ./ipc.ts).
 * A sandboxed preload cannot require app modules at run time, so it is shipped bundled into one
 * file (see electron/README.md).
 */
contextBridge.exposeInMainWorld(EXPOSED_GLOBAL, buildPreloadBridge(ipcRenderer));
