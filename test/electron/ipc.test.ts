import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IpcMain, IpcMainInvokeEvent, IpcRenderer, IpcRendererEvent } from 'electron';
import { afterEach, describe, expect, it } from 'vitest';
import type { ApiError } from '../../api';
import { EXPOSED_GLOBAL, clientFromPreload, ipcChannel, type SsmaxClient } from '../../api';
import { ServiceHost } from '../../client/service-host';
import { buildPreloadBridge, forwardEvents, registerIpcHandlers } from '../../electron/ipc';
import { APP_ENTRY, isTrustedFrame } from '../../electron/security';
import { apiContract } from '../support/api-contract';

/**
 * The Electron transport end to end minus Electron: the Electron binary cannot run here, so an
 * in-memory IPC pair stands in for ipcMain/ipcRenderer (same method shapes, structured clone for
 * the copy that real IPC makes). Everything above it is the real code: preload bridge, main-side
 * handlers with sender checks, dispatch and the real service host on a temp data dir.
 */
interface Frame {
  url: string;
  parent: unknown;
}

class InMemoryIpc {
  private readonly handlers = new Map<string, (event: IpcMainInvokeEvent, ...args: unknown[]) => unknown>();
  private readonly rendererListeners = new Map<
    string,
    Set<(event: IpcRendererEvent, payload: unknown) => void>
  >();
  /** The frame the next invoke comes from; tests switch it to simulate subframes or foreign pages. */
  senderFrame: Frame | null = { url: APP_ENTRY, parent: null };
  readonly senderId = 1;

  readonly ipcMain: Pick<IpcMain, 'handle' | 'removeHandler'> = {
    handle: (channel, listener) => {
      if (this.handlers.has(channel)) throw new Error(`second handler for ${channel}`);
      this.handlers.set(channel, listener as never);
    },
    removeHandler: (channel) => void this.handlers.delete(channel),
  };

  readonly ipcRenderer: Pick<IpcRenderer, 'invoke' | 'on' | 'removeListener'> = {
    invoke: async (channel: string, ...args: unknown[]) => {
      const handler = this.handlers.get(channel);
      if (handler === undefined) throw new Error(`No handler registered for '${channel}'`);
      const event = {
        sender: { id: this.senderId },
        senderFrame: this.senderFrame,
      } as unknown as IpcMainInvokeEvent;
      return structuredClone(await handler(event, ...structuredClone(args)));
    },
    on: (channel: string, listener: (event: IpcRendererEvent, payload: unknown) => void) => {
      let set = this.rendererListeners.get(channel);
      if (set === undefined) this.rendererListeners.set(channel, (set = new Set()));
      set.add(listener);
      return this.ipcRenderer as IpcRenderer;
    },
    removeListener: (channel: string, listener: (...args: never[]) => void) => {
      this.rendererListeners.get(channel)?.delete(listener as never);
      return this.ipcRenderer as IpcRenderer;
    },
  };

  /** webContents.send */
  send(channel: string, payload: unknown): void {
    for (const l of this.rendererListeners.get(channel) ?? [])
      l({} as IpcRendererEvent, structuredClone(payload));
  }

  channels(): string[] {
    return [...this.handlers.keys()];
  }
}

async function electronTransport(
  dataDir: string,
): Promise<{ client: SsmaxClient; ipc: InMemoryIpc; close(): Promise<void> }> {
  const host = await ServiceHost.open({ dataDir, runtime: 'electron' });
  const ipc = new InMemoryIpc();
  const unregister = registerIpcHandlers(
    ipc.ipcMain,
    host,
    (event) => event.sender.id === ipc.senderId && isTrustedFrame(event.senderFrame),
    () => undefined,
  );
  const stopEvents = forwardEvents(host, (channel, payload) => ipc.send(channel, payload));
  // What the renderer does with window.ssmax.
  const client = clientFromPreload(buildPreloadBridge(ipc.ipcRenderer));
  return {
    client,
    ipc,
    close: async () => {
      stopEvents();
      unregister();
    },
  };
}

const makeDataDir = (): Promise<string> => mkdtemp(join(tmpdir(), 'ssmax-ipc-'));
const removeDataDir = (dir: string): Promise<void> => rm(dir, { recursive: true, force: true });

apiContract('Electron IPC (preload ↔ main)', {
  runtime: 'electron',
  connect: electronTransport,
  makeDataDir,
  removeDataDir,
});

describe('Electron IPC sender checks', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir !== undefined) await removeDataDir(dir);
  });

  it('refuses calls from a subframe (e.g. a mail HTML view), a foreign origin or a destroyed frame', async () => {
    dir = await makeDataDir();
    const t = await electronTransport(dir);
    expect((await t.client.settings.get()).language).toBe('en');

    const refusedFrom = async (frame: Frame | null): Promise<string> => {
      t.ipc.senderFrame = frame;
      try {
        await t.client.settings.update({ language: 'ja' });
        return 'accepted';
      } catch (err) {
        return (err as ApiError).code;
      }
    };
    expect(await refusedFrom({ url: APP_ENTRY, parent: { url: APP_ENTRY } })).toBe('Refused');
    expect(await refusedFrom({ url: 'https://attacker.example/', parent: null })).toBe('Refused');
    expect(await refusedFrom({ url: 'file:///etc/passwd', parent: null })).toBe('Refused');
    expect(await refusedFrom(null)).toBe('Refused');

    t.ipc.senderFrame = { url: APP_ENTRY, parent: null };
    expect(await t.client.settings.get()).toEqual({ language: 'en' });
    await t.close();
  });

  it('answers an unknown channel with nothing: only the table is registered', async () => {
    dir = await makeDataDir();
    const t = await electronTransport(dir);
    await expect(t.ipc.ipcRenderer.invoke('ssmax:call:shell.openExternal', 'x')).rejects.toThrow(
      /No handler/,
    );
    expect(t.ipc.channels()).toContain(ipcChannel('settings.update'));
    expect(EXPOSED_GLOBAL).toBe('ssmax');
    await t.close();
  });
});
