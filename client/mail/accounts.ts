import { randomBytes } from 'node:crypto';
import { readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { SecretStore } from '../secrets/secret-store';
import { writeJsonFileAtomically } from '../storage/json-file';
import type { ImapSettings } from './connection';

/**
 * The accounts the user added, as `accounts.json` in the data dir (mode 0600, atomic write: temp
 * file, fsync, rename). The password (IMAP, reused for SMTP submission) is **not** in this file: it
 * lives in the `SecretStore` (client/secrets: the OS keychain in the desktop app, a 0600 file in
 * browser mode) under `passwordKey(id)`.
 *
 * Files of format 1 carried the password in clear; `open` moves each one into the secret store
 * first and only then rewrites the file without it (format 2), so a crash in between leaves the
 * password in both places and the next start finishes the move. If the secret store cannot be
 * written, the password stays where it was (nothing lost) and the move is retried at next start.
 * Nothing here logs the password.
 */

export const ACCOUNTS_FILE = 'accounts.json';
const FORMAT_VERSION = 2;

const imapSchema = z.object({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535),
  security: z.enum(['starttls', 'tls', 'none']),
  username: z.string().min(1),
  caCertPem: z.string().optional(),
});
const accountFields = {
  id: z.string().min(1),
  email: z.string().min(3),
  displayName: z.string(),
  createdAt: z.string(),
};
/** Format 1 (and a format-2 file whose migration could not finish): the password still inline. */
const legacyAccountSchema = z.object({
  ...accountFields,
  imap: imapSchema.extend({ password: z.string().min(1).optional() }),
});
const fileSchema = z.object({
  version: z.union([z.literal(1), z.literal(FORMAT_VERSION)]),
  accounts: z.array(legacyAccountSchema),
});

/** An account as stored: everything but the password. */
export type StoredAccount = { id: string; email: string; displayName: string; createdAt: string; imap: z.infer<typeof imapSchema> };
export type NewStoredAccount = Omit<StoredAccount, 'id' | 'createdAt' | 'imap'> & {
  imap: StoredAccount['imap'] & { password: string };
};

/** The secret store key of an account's password. */
export const passwordKey = (accountId: string): string => `account/${accountId}/password`;

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

/** The account exists but no password is stored for it (e.g. the secrets file was lost). */
export class AccountPasswordMissing extends AccountsFileError {
  constructor(readonly accountId: string) {
    super(`No password is saved for account ${accountId}; enter it again.`);
    this.name = 'AccountPasswordMissing';
  }
}

export function imapSettingsOf(a: StoredAccount, password: string): ImapSettings {
  return { ...a.imap, password };
}

type Legacy = z.infer<typeof legacyAccountSchema>;
const withoutPassword = (a: Legacy): StoredAccount => {
  const { password: _password, ...imap } = a.imap;
  return { ...a, imap };
};
const copy = (a: StoredAccount): StoredAccount => ({ ...a, imap: { ...a.imap } });

export class AccountStore {
  readonly file: string;
  readonly #secrets: SecretStore;
  #accounts: StoredAccount[];
  /** Passwords still inline in the file because the secret store could not take them (kept, not lost). */
  readonly #inline = new Map<string, string>();
  #writing: Promise<void> = Promise.resolve();

  private constructor(file: string, secrets: SecretStore, accounts: StoredAccount[]) {
    this.file = file;
    this.#secrets = secrets;
    this.#accounts = accounts;
  }

  static async open(dataDir: string, secrets: SecretStore): Promise<AccountStore> {
    const file = join(dataDir, ACCOUNTS_FILE);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new AccountStore(file, secrets, []);
      throw new AccountsFileError(`Cannot read ${file}.`, { cause: err });
    }
    let parsed: z.infer<typeof fileSchema>;
    try {
      parsed = fileSchema.parse(JSON.parse(text));
    } catch (cause) {
      // Never silently drop accounts: the caller keeps the file aside and tells the user.
      throw new AccountsFileCorrupt(file, { cause });
    }
    const store = new AccountStore(file, secrets, parsed.accounts.map(withoutPassword));
    await store.#migrate(parsed);
    return store;
  }

  /**
   * Opens the store; an unreadable file is renamed to `accounts.json.corrupt` (kept for IT, it
   * holds the settings the user typed) and the store starts empty. `problem` says so.
   */
  static async openOrRecover(
    dataDir: string,
    secrets: SecretStore,
  ): Promise<{ store: AccountStore; problem?: AccountsFileCorrupt; keptAs?: string }> {
    try {
      return { store: await AccountStore.open(dataDir, secrets) };
    } catch (err) {
      if (!(err instanceof AccountsFileCorrupt)) throw err;
      const keptAs = `${err.file}.corrupt`;
      await rename(err.file, keptAs);
      return { store: new AccountStore(err.file, secrets, []), problem: err, keptAs };
    }
  }

  /** Moves inline passwords into the secret store, then rewrites the file without them. */
  async #migrate(parsed: z.infer<typeof fileSchema>): Promise<void> {
    const inline = parsed.accounts.filter((a) => a.imap.password !== undefined);
    if (parsed.version === FORMAT_VERSION && inline.length === 0) return;
    for (const a of inline) {
      try {
        await this.#secrets.set(passwordKey(a.id), a.imap.password!);
      } catch (err) {
        console.error(`ssmax: could not move the password of account ${a.id} into the secret store; it stays in ${this.file} for now:`, err);
        this.#inline.set(a.id, a.imap.password!);
      }
    }
    try {
      await this.#write(this.#accounts);
    } catch (err) {
      // The old file is intact (atomic write): the passwords are still there; retried next start.
      console.error(`ssmax: could not rewrite ${this.file} without passwords:`, err);
    }
  }

  list(): StoredAccount[] {
    return this.#accounts.map(copy);
  }

  get(id: string): StoredAccount | undefined {
    const a = this.#accounts.find((x) => x.id === id);
    return a ? copy(a) : undefined;
  }

  /**
   * The account's password from the secret store. `SecretUnavailable` (client/secrets) when it is
   * stored but unreadable here; `AccountPasswordMissing` when none is stored.
   */
  async password(id: string): Promise<string> {
    const inline = this.#inline.get(id);
    if (inline !== undefined) return inline;
    const secret = await this.#secrets.get(passwordKey(id));
    if (secret === undefined) throw new AccountPasswordMissing(id);
    return secret;
  }

  /** The IMAP settings with the password, for a connection. */
  async imapSettings(id: string): Promise<ImapSettings> {
    const a = this.get(id);
    if (!a) throw new AccountsFileError(`There is no account ${id}.`);
    return imapSettingsOf(a, await this.password(id));
  }

  /** Stores the password first (secret store), then the account; a failed account write removes the secret again. */
  async add(account: NewStoredAccount): Promise<StoredAccount> {
    const { password, ...imap } = account.imap;
    const stored: StoredAccount = {
      ...account,
      imap,
      id: `acct-${randomBytes(8).toString('hex')}`,
      createdAt: new Date().toISOString(),
    };
    try {
      await this.#secrets.set(passwordKey(stored.id), password);
    } catch (err) {
      throw new AccountsFileError('Cannot save the password.', { cause: err });
    }
    try {
      await this.#write([...this.#accounts, stored]);
    } catch (err) {
      await this.#secrets.delete(passwordKey(stored.id)).catch(() => undefined);
      throw err;
    }
    return copy(stored);
  }

  /** Removes the account from accounts.json first, then its password (a failed secret delete leaves only an orphan secret). */
  async remove(id: string): Promise<boolean> {
    if (!this.#accounts.some((a) => a.id === id)) return false;
    await this.#write(this.#accounts.filter((a) => a.id !== id));
    this.#inline.delete(id);
    await this.#secrets.delete(passwordKey(id)).catch((err: unknown) => console.error(`ssmax: the password of the removed account ${id} could not be deleted:`, err));
    return true;
  }

  async #write(next: StoredAccount[]): Promise<void> {
    const inline = this.#inline;
    const write = this.#writing.then(() =>
      writeAtomically(
        this.file,
        next.map((a) => (inline.has(a.id) ? { ...a, imap: { ...a.imap, password: inline.get(a.id) } } : a)),
      ),
    );
    this.#writing = write.catch(() => undefined);
    await write;
    this.#accounts = next;
  }
}

async function writeAtomically(file: string, accounts: unknown[]): Promise<void> {
  try {
    await writeJsonFileAtomically(file, { version: FORMAT_VERSION, accounts });
  } catch (err) {
    throw new AccountsFileError(`Cannot write ${file}.`, { cause: err });
  }
}
