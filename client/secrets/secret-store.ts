import { readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { writeJsonFileAtomically } from '../storage/json-file';

/**
 * Where the client keeps secrets it must replay without asking (today: the account's IMAP/SMTP
 * password). Settings files (accounts.json, settings.json) never hold them: they can be copied,
 * backed up or sent to IT without giving the password away.
 *
 * Two protections, named in `SecretStore.protection` so the UI and the logs can say which one is in
 * use:
 * - `os-keychain`: each value is encrypted by the OS keychain before it is written (the Electron
 *   shell passes a cipher over `safeStorage`: Keychain on macOS, DPAPI on Windows, the Secret
 *   Service / KWallet on Linux — electron/secrets.ts). Another user, or a copy of the data folder
 *   on another machine, cannot read it.
 * - `file-0600`: the value as typed, in `secrets.json`, readable by the user only (mode 0600). This
 *   is what browser mode (`npm run bridge`) has: it protects against other users of the machine,
 *   **not** against malware running as the user nor against a copy of the data folder. Weaker, and
 *   documented as such (client/secrets/README.md).
 */
export type SecretProtection = 'os-keychain' | 'file-0600';

export interface SecretStore {
  readonly protection: SecretProtection;
  /** The secret, or undefined when none is stored; `SecretUnavailable` when stored but unreadable here. */
  get(key: string): Promise<string | undefined>;
  /** Stores durably (atomic write, fsync) before resolving. */
  set(key: string, secret: string): Promise<void>;
  delete(key: string): Promise<void>;
}

/** Encrypts values for the file (the Electron shell's `safeStorage`); `name` is recorded per entry. */
export interface SecretCipher {
  readonly name: string;
  encrypt(plain: string): Buffer;
  decrypt(encrypted: Buffer): string;
}

export class SecretStoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SecretStoreError';
  }
}

/**
 * A secret exists but cannot be read by this process: it was encrypted by the OS keychain of the
 * desktop app and this is browser mode (or the keychain refused). Never replaced by a guess: the
 * user re-enters the password, or opens the desktop app.
 */
export class SecretUnavailable extends SecretStoreError {
  constructor(
    readonly key: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SecretUnavailable';
  }
}

export const SECRETS_FILE = 'secrets.json';
const FORMAT = 'ssmax-secrets/1';
const PLAIN = 'plain';

const entrySchema = z.object({ protection: z.string().min(1), value: z.string() }).strict();
const fileSchema = z.object({ format: z.literal(FORMAT), secrets: z.record(z.string(), entrySchema) }).strict();
type Entry = z.infer<typeof entrySchema>;

/**
 * The one store implementation: `secrets.json` in the data dir (0600, atomic writes), each entry
 * either encrypted with the given cipher (`protection: <cipher name>`, base64) or plain
 * (`protection: "plain"`). With a cipher, plain entries left from browser mode are encrypted at the
 * next write of any entry (`upgrade()` does it at once).
 */
export class FileSecretStore implements SecretStore {
  readonly protection: SecretProtection;
  readonly file: string;
  readonly #cipher: SecretCipher | undefined;
  #entries: Record<string, Entry>;
  #writing: Promise<void> = Promise.resolve();

  private constructor(file: string, cipher: SecretCipher | undefined, entries: Record<string, Entry>) {
    this.file = file;
    this.#cipher = cipher;
    this.#entries = entries;
    this.protection = cipher ? 'os-keychain' : 'file-0600';
  }

  /**
   * Opens `<dataDir>/secrets.json` (absent: empty). A file that does not parse is kept as
   * `secrets.json.corrupt` and the store starts empty: the passwords in it are lost to the app (the
   * user re-enters them) but never silently overwritten.
   */
  static async open(dataDir: string, opts: { cipher?: SecretCipher } = {}): Promise<FileSecretStore> {
    const file = join(dataDir, SECRETS_FILE);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new FileSecretStore(file, opts.cipher, {});
      throw new SecretStoreError(`Cannot read ${file}.`, { cause: err });
    }
    let entries: Record<string, Entry>;
    try {
      entries = fileSchema.parse(JSON.parse(text)).secrets;
    } catch (cause) {
      await rename(file, `${file}.corrupt`).catch(() => undefined);
      console.error(`ssmax: ${file} is not a valid secrets file; kept as ${file}.corrupt`, cause);
      entries = {};
    }
    return new FileSecretStore(file, opts.cipher, entries);
  }

  async get(key: string): Promise<string | undefined> {
    const e = this.#entries[key];
    if (e === undefined) return undefined;
    if (e.protection === PLAIN) return e.value;
    if (!this.#cipher || this.#cipher.name !== e.protection)
      throw new SecretUnavailable(
        key,
        `The saved password was encrypted with the desktop app's OS keychain (${e.protection}) and cannot be read here; open the SSMAX desktop app, or enter the password again.`,
      );
    try {
      return this.#cipher.decrypt(Buffer.from(e.value, 'base64'));
    } catch (cause) {
      throw new SecretUnavailable(key, 'The OS keychain could not decrypt the saved password; enter the password again.', { cause });
    }
  }

  async set(key: string, secret: string): Promise<void> {
    await this.#update((entries) => ({ ...entries, [key]: this.#seal(secret) }));
  }

  async delete(key: string): Promise<void> {
    if (this.#entries[key] === undefined) return;
    await this.#update((entries) => {
      const next = { ...entries };
      delete next[key];
      return next;
    });
  }

  /** With a cipher: encrypts the plain entries now (otherwise at the next write). */
  async upgrade(): Promise<void> {
    if (!this.#cipher || !Object.values(this.#entries).some((e) => e.protection === PLAIN)) return;
    await this.#update((entries) => entries);
  }

  #seal(secret: string): Entry {
    if (!this.#cipher) return { protection: PLAIN, value: secret };
    return { protection: this.#cipher.name, value: this.#cipher.encrypt(secret).toString('base64') };
  }

  async #update(change: (entries: Record<string, Entry>) => Record<string, Entry>): Promise<void> {
    const run = this.#writing.then(async () => {
      const next = { ...change(this.#entries) };
      if (this.#cipher)
        for (const [k, e] of Object.entries(next)) if (e.protection === PLAIN) next[k] = this.#seal(e.value);
      try {
        await writeJsonFileAtomically(this.file, { format: FORMAT, secrets: next });
      } catch (cause) {
        throw new SecretStoreError(`Cannot write ${this.file}.`, { cause });
      }
      this.#entries = next;
    });
    this.#writing = run.catch(() => undefined);
    await run;
  }
}
