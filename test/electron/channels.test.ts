import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { IpcMain, IpcRenderer } from 'electron';
import { describe, expect, it } from 'vitest';
import {
  AVAILABLE_METHODS,
  EVENT_NAMES,
  IPC_EVENT_CHANNELS,
  IPC_METHOD_CHANNELS,
  METHODS,
  METHOD_PATHS,
  ipcChannel,
  ipcEventChannel,
  type MethodPath,
} from '../../api';
import { buildPreloadBridge, registerIpcHandlers } from '../../electron/ipc';

/**
 * The channel table (api/channels.ts) is the only place a method or channel is named: main's
 * handlers, the preload's exposed functions and the bridge are all derived from it.
 */
describe('the channel table', () => {
  it('is frozen, and its allow-lists are frozen and without duplicates', () => {
    for (const list of [
      METHODS,
      METHOD_PATHS,
      AVAILABLE_METHODS,
      EVENT_NAMES,
      IPC_METHOD_CHANNELS,
      IPC_EVENT_CHANNELS,
    ]) {
      expect(Object.isFrozen(list)).toBe(true);
    }
    expect(new Set(IPC_METHOD_CHANNELS).size).toBe(METHOD_PATHS.length);
    expect(new Set([...IPC_METHOD_CHANNELS, ...IPC_EVENT_CHANNELS]).size).toBe(
      METHOD_PATHS.length + EVENT_NAMES.length,
    );
    expect(() => ((METHODS as Record<string, unknown>)['shell.openExternal'] = { available: true })).toThrow(
      TypeError,
    );
  });

  it('marks as available exactly what this build implements', () => {
    expect([...AVAILABLE_METHODS].sort()).toEqual(
      [
        'app.info', 'settings.get', 'settings.update',
        'accounts.list', 'accounts.add', 'folders.list', 'messages.page', 'messages.setFlags',
        'accounts.discover', 'accounts.confirm', 'org.status', 'org.refresh',
        'card.status', 'pin.answer', 'pin.cancel', 'messages.open', 'messages.saveAttachment',
        'compose.checkPpap', 'compose.send', 'outbox.list', 'outbox.retry', 'report.malicious',
        'enrollment.start', 'enrollment.cancel', 'contacts.suggest', 'accounts.remove',
      ].sort(),
    );
  });

  it('main registers one ipcMain handler per table entry, and nothing else', () => {
    const registered: string[] = [];
    const ipcMain: Pick<IpcMain, 'handle' | 'removeHandler'> = {
      handle: (channel) => void registered.push(channel),
      removeHandler: () => undefined,
    };
    registerIpcHandlers(
      ipcMain,
      {} as never,
      () => false,
      () => undefined,
    );
    expect(registered).toEqual([...IPC_METHOD_CHANNELS]);
  });

  it('the preload exposes one function per table entry, each invoking exactly its channel, and subscribes only table events', async () => {
    const invoked: string[] = [];
    const subscribed: string[] = [];
    const ipcRenderer = {
      invoke: async (channel: string) => {
        invoked.push(channel);
        return { ok: true, value: null };
      },
      on: (channel: string) => {
        subscribed.push(channel);
        return ipcRenderer;
      },
      removeListener: () => ipcRenderer,
    } as unknown as Pick<IpcRenderer, 'invoke' | 'on' | 'removeListener'>;
    const bridge = buildPreloadBridge(ipcRenderer);

    const exposed: MethodPath[] = [];
    for (const [ns, methods] of Object.entries(bridge.methods)) {
      for (const [name, fn] of Object.entries(methods as Record<string, () => Promise<unknown>>)) {
        exposed.push(`${ns}.${name}` as MethodPath);
        await fn();
      }
    }
    expect(exposed.sort()).toEqual([...METHOD_PATHS].sort());
    expect(invoked.sort()).toEqual(exposed.map(ipcChannel).sort());

    for (const name of EVENT_NAMES) bridge.on(name, () => undefined);
    expect(subscribed).toEqual(EVENT_NAMES.map(ipcEventChannel));
    expect(() => bridge.on('shell.open' as never, () => undefined)).toThrow(/unknown SSMAX event/);
  });

  it('no source file outside api/channels.ts writes a channel name or registers IPC by hand', async () => {
    const offenders: string[] = [];
    for (const dir of ['electron', 'client', 'renderer', 'api']) {
      for (const file of await sourceFiles(dir)) {
        if (file === join('api', 'channels.ts')) continue;
        const text = await readFile(file, 'utf8');
        // A channel name spelled out, or an Electron IPC call whose channel is a literal.
        if (/ssmax:(call|event):/.test(text)) offenders.push(`${file}: channel name spelled out`);
        if (/\b(ipcMain|ipcRenderer|webContents)\s*\.\s*\w+\(\s*['"`]/.test(text))
          offenders.push(`${file}: IPC call with a literal channel`);
      }
    }
    expect(offenders).toEqual([]);
  });
});

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile() && /\.(ts|tsx)$/.test(e.name))
    .map((e) => join(e.parentPath, e.name));
}
