import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ServiceHost } from '../../../client/service-host';
import {
  SETTINGS_FILE,
  SettingsFileCorrupt,
  SettingsStore,
  SettingsWriteFailed,
} from '../../../client/settings/store';

describe('SettingsStore', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ssmax-settings-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('starts from the given defaults when there is no file, and writes nothing until a change', async () => {
    const { store, problem } = await SettingsStore.open(dir, { language: 'ja' });
    expect(problem).toBeUndefined();
    expect(store.get()).toEqual({ language: 'ja' });
    expect(await readdir(dir)).toEqual([]);
  });

  it('persists an update as a versioned JSON file, with no temp file left behind, and reads it back', async () => {
    const { store } = await SettingsStore.open(dir, { language: 'en' });
    await store.update({ language: 'ja' });
    expect(await readdir(dir)).toEqual([SETTINGS_FILE]);
    expect(JSON.parse(await readFile(join(dir, SETTINGS_FILE), 'utf8'))).toEqual({
      version: 1,
      settings: { language: 'ja' },
    });
    const reopened = await SettingsStore.open(dir, { language: 'en' });
    expect(reopened.store.get()).toEqual({ language: 'ja' });
  });

  it('applies quick successive updates in order: the last one wins on disk', async () => {
    const { store } = await SettingsStore.open(dir, { language: 'en' });
    await Promise.all([
      store.update({ language: 'ja' }),
      store.update({ language: 'en' }),
      store.update({ language: 'ja' }),
    ]);
    const reopened = await SettingsStore.open(dir, { language: 'en' });
    expect(reopened.store.get()).toEqual({ language: 'ja' });
    expect(await readdir(dir)).toEqual([SETTINGS_FILE]);
  });

  it.each([
    ['not JSON', '{"version": 1, "settings": {"language": "ja"'],
    ['a value outside the schema', '{"version": 1, "settings": {"language": "fr"}}'],
    ['an unknown format version', '{"version": 99, "settings": {"language": "ja"}}'],
    ['no envelope', '{"language": "ja"}'],
  ])(
    'a corrupt file (%s) gives defaults and a clear problem, and the original is kept as .corrupt',
    async (_what, content) => {
      await writeFile(join(dir, SETTINGS_FILE), content);
      const { store, problem } = await SettingsStore.open(dir, { language: 'en' });
      expect(store.get()).toEqual({ language: 'en' });
      expect(problem).toBeInstanceOf(SettingsFileCorrupt);
      expect(problem?.message).toMatch(
        /could not be read.*default settings.*kept as .*settings\.json\.corrupt/,
      );
      expect(problem?.cause).toBeDefined();
      expect(await readFile(join(dir, `${SETTINGS_FILE}.corrupt`), 'utf8')).toBe(content);
      expect((await readdir(dir)).sort()).toEqual([`${SETTINGS_FILE}.corrupt`]);
    },
  );

  it('a failed write is a SettingsWriteFailed with the cause, and the in-memory settings stay as they were', async () => {
    const { store } = await SettingsStore.open(dir, { language: 'en' });
    await rm(dir, { recursive: true });
    const err = await store.update({ language: 'ja' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SettingsWriteFailed);
    expect((err as Error).cause).toMatchObject({ code: 'ENOENT' });
    expect(store.get()).toEqual({ language: 'en' });
  });
});

describe('ServiceHost start-up with a corrupt settings file', () => {
  let dir: string;
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('starts with defaults and reports the problem in app.info notices; a write failure answers StorageFailed', async () => {
    dir = await mkdtemp(join(tmpdir(), 'ssmax-host-'));
    await writeFile(join(dir, SETTINGS_FILE), 'garbage');
    const host = await ServiceHost.open({ dataDir: dir, runtime: 'bridge', defaultLanguage: 'ja' });
    expect(await host.settings.get()).toEqual({ language: 'ja' });
    const info = await host.app.info();
    expect(info.notices).toEqual([
      {
        code: 'SettingsFileCorrupt',
        message: expect.stringContaining('kept as'),
        keptAs: join(dir, `${SETTINGS_FILE}.corrupt`),
      },
    ]);

    await rm(dir, { recursive: true });
    await expect(host.settings.update({ language: 'en' })).rejects.toMatchObject({
      code: 'StorageFailed',
      method: 'settings.update',
    });
  });
});
