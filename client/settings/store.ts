import { mkdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { settingsSchema, type Language, type Settings, type SettingsPatch } from '../../api';
import { writeJsonFileAtomically } from '../storage/json-file';

/**
 * The user's settings as one JSON file in the client's data dir. Written atomically (temp file in
 * the same dir, fsync, rename), so a crash mid-write leaves either the old or the new file, never a
 * torn one. Validated on load: a file that is not valid JSON or does not match the schema is moved
 * aside as `settings.json.corrupt` (kept for IT, not overwritten silently) and defaults are used.
 */
export const SETTINGS_FILE = 'settings.json';

/** On-disk format version, so a later build can migrate instead of guessing. */
const FORMAT_VERSION = 1;

export class SettingsFileCorrupt extends Error {
  override readonly name = 'SettingsFileCorrupt';
  constructor(
    readonly file: string,
    readonly keptAs: string,
    cause: unknown,
  ) {
    super(
      `The settings file could not be read, so the default settings are used. The unreadable file was kept as ${keptAs}.`,
      { cause },
    );
  }
}

export class SettingsWriteFailed extends Error {
  override readonly name = 'SettingsWriteFailed';
  constructor(
    readonly file: string,
    cause: unknown,
  ) {
    super(`The settings could not be saved to ${file}: ${(cause as Error)?.message ?? String(cause)}`, {
      cause,
    });
  }
}

export interface LoadedSettings {
  settings: Settings;
  /** Set when the file was corrupt and defaults are in use. */
  problem?: SettingsFileCorrupt;
}

export function defaultSettings(language: Language): Settings {
  return { language };
}

export class SettingsStore {
  readonly file: string;
  private current: Settings;
  /** Writes are chained so two quick updates cannot race their renames. */
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    readonly dataDir: string,
    initial: Settings,
  ) {
    this.file = join(dataDir, SETTINGS_FILE);
    this.current = initial;
  }

  /** Opens the store, creating the data dir if needed. `defaults` apply when there is no file yet. */
  static async open(dataDir: string, defaults: Settings): Promise<{ store: SettingsStore } & LoadedSettings> {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const loaded = await load(join(dataDir, SETTINGS_FILE), defaults);
    const store = new SettingsStore(dataDir, loaded.settings);
    return { store, ...loaded };
  }

  get(): Settings {
    return { ...this.current };
  }

  async update(patch: SettingsPatch): Promise<Settings> {
    const next = settingsSchema.parse({ ...this.current, ...patch });
    const write = this.writing.then(() => writeAtomically(this.file, next));
    // A failed write must not block later ones; the caller of this update sees the failure.
    this.writing = write.catch(() => undefined);
    await write;
    this.current = next;
    return this.get();
  }
}

async function load(file: string, defaults: Settings): Promise<LoadedSettings> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { settings: defaults };
    throw err;
  }
  try {
    const parsed = JSON.parse(text) as unknown;
    const envelope = parsed as { version?: unknown; settings?: unknown };
    if (typeof parsed !== 'object' || parsed === null || envelope.version !== FORMAT_VERSION) {
      throw new Error(`expected {"version": ${FORMAT_VERSION}, "settings": {…}}`);
    }
    return { settings: settingsSchema.parse(envelope.settings) };
  } catch (cause) {
    const keptAs = `${file}.corrupt`;
    await rename(file, keptAs);
    return { settings: defaults, problem: new SettingsFileCorrupt(file, keptAs, cause) };
  }
}

async function writeAtomically(file: string, settings: Settings): Promise<void> {
  try {
    await writeJsonFileAtomically(file, { version: FORMAT_VERSION, settings });
  } catch (err) {
    throw new SettingsWriteFailed(file, err);
  }
}
