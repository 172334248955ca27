import { readFile } from 'node:fs/promises';
import { OrgNodeError } from './errors';

/** A passphrase or PIN is missing or unreadable. */
export class SecretUnavailableError extends OrgNodeError {}

export interface SecretSource {
  /** Read the secret from this file (first line; a trailing newline is not part of it). */
  readonly file?: string;
  /** ...or from this environment variable. */
  readonly envVar: string;
  /** What it is, for the error message: "key passphrase", "token PIN". */
  readonly what: string;
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Reads a secret from a file or an environment variable — never from the command line, where it would
 * show in `ps` and in shell history. A file wins over the variable so that a service unit can point
 * at a root-only file while an admin's shell still has a variable set.
 */
export async function readSecret(source: SecretSource): Promise<string> {
  if (source.file !== undefined) {
    let text: string;
    try {
      text = await readFile(source.file, 'utf8');
    } catch (cause) {
      throw new SecretUnavailableError(`Cannot read the ${source.what} from ${source.file}.`, { cause });
    }
    const secret = text.split(/\r?\n/)[0] ?? '';
    if (secret === '') throw new SecretUnavailableError(`The ${source.what} file ${source.file} is empty.`);
    return secret;
  }
  const value = (source.env ?? process.env)[source.envVar];
  if (value === undefined || value === '') {
    throw new SecretUnavailableError(`No ${source.what}: set ${source.envVar} or give a file with it (never on the command line).`);
  }
  return value;
}
