import { randomBytes } from 'node:crypto';
import { readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { writeJsonFileAtomically } from '../storage/json-file';
import type { ImapSettings } from './connection';

/**
 * The accounts the user added, as `accounts.json` in the data dir (mode 0600, atomic write: temp
 * file, fsync, rename). The IMAP password is stored here as the user gave it — for now: moving it
 * to the OS keychain (Electron safeStorage / libsecret) is still to do (issue 7, item 3 leftovers).
 * Nothing here logs the password; `publicSettings` is what may leave this module for display.
 */

export const ACCOUNTS_FILE = 'accounts.json';
const FORMAT_VERSION = 1;

const storedAccountSchema = z.object({
  id: z.string().min(1),
  email: z.string().min(3),
  displayName: z.string(),
  imap: z.object({
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535),
    security: z.enum(['starttls', 'tls', 'none']),
    username: z.string().min(1),
    password: z.string().min(1),
    caCertPem: z.string().optional(),
  }),
  createdAt: z.string(),
});
export type StoredAccount = z.infer<typeof storedAccountSchema>;

const fileSchema = z.object({ version: z.literal(FORMAT_VERSION), accounts: z.array(storedAccountSchema) });

export class AccountsFileError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AccountsFileError';
  }
}

/** The accounts file exists but does not parse (or was written by a newer SSMAX). */
export class AccountsFileCorrupt extends AccountsFileError {
  constructor(
    readonly file: string,
    options?: { cause?: unknown },
  ) {
    super(`${file} is not a valid accounts file.`, options);
    this.name = 'AccountsFileCorrupt';
  }
}

export function imapSettingsOf(a: StoredAccount): ImapSettings {
  return { ...a.imap };
}

export class AccountStore {
  readonly file: string;
  #accounts: StoredAccount[];
  #writing: Promise<void> = Promise.resolve();

  private constructor(file: string, accounts: StoredAccount[]) {
    this.file = file;
    this.#accounts = accounts;
  }

  static async open(dataDir: string): Promise<AccountStore> {
    const file = join(dataDir, ACCOUNTS_FILE);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new AccountStore(file, []);
      throw new AccountsFileError(`Cannot read ${file}.`, { cause: err });
    }
    try {
      return new AccountStore(file, fileSchema.parse(JSON.parse(text)).accounts);
    } catch (cause) {
      // Never silently drop accounts: the caller keeps the file aside and tells the user.
      throw new AccountsFileCorrupt(file, { cause });
    }
  }

  /**
   * Opens the store; an unreadable file is renamed to `accounts.json.corrupt` (kept for IT, it
   * holds the settings the user typed) and the store starts empty. `problem` says so.
   */
  static async openOrRecover(
    dataDir: string,
  ): Promise<{ store: AccountStore; problem?: AccountsFileCorrupt; keptAs?: string }> {
    try {
      return { store: await AccountStore.open(dataDir) };
    } catch (err) {
      if (!(err instanceof AccountsFileCorrupt)) throw err;
      const keptAs = `${err.file}.corrupt`;
      await rename(err.file, keptAs);
      return { store: new AccountStore(err.file, []), problem: err, keptAs };
    }
  }

  list(): StoredAccount[] {
    return this.#accounts.map((a) => ({ ...a, imap: { ...a.imap } }));
  }

  get(id: string): StoredAccount | undefined {
    const a = this.#accounts.find((x) => x.id === id);
    return a ? { ...a, imap: { ...a.imap } } : undefined;
  }

  async add(account: Omit<StoredAccount, 'id' | 'createdAt'>): Promise<StoredAccount> {
    const stored: StoredAccount = {
      ...account,
      id: `acct-${randomBytes(8).toString('hex')}`,
      createdAt: new Date().toISOString(),
    };
    await this.#write([...this.#accounts, stored]);
    return { ...stored, imap: { ...stored.imap } };
  }

  async #write(next: StoredAccount[]): Promise<void> {
    const write = this.#writing.then(() => writeAtomically(this.file, next));
    this.#writing = write.catch(() => undefined);
    await write;
    this.#accounts = next;
  }
}

async function writeAtomically(file: string, accounts: StoredAccount[]): Promise<void> {
  try {
    await writeJsonFileAtomically(file, { version: FORMAT_VERSION, accounts });
  } catch (err) {
    throw new AccountsFileError(`Cannot write ${file}.`, { cause: err });
  }
}
