import { randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { promisify } from 'node:util';
import { OrgNodeError } from '../errors';

/**
 * Submission credentials: who may log in as which member address. `fileAuthenticator` reads a JSON
 * file `{ "<address>": "scrypt$<salt b64>$<hash b64>" }` (written with `hashPassword`), re-read when
 * it changes. Delegating to Dovecot's auth (or the directory) is another `Authenticator`.
 */
export type Authenticator = (username: string, password: string) => Promise<string | undefined>;

export class CredentialsError extends OrgNodeError {}

const scrypt = promisify(scryptCb) as (pw: string, salt: Buffer, len: number) => Promise<Buffer>;

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(password, salt, 32);
  return `scrypt$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export async function checkPassword(password: string, stored: string): Promise<boolean> {
  const [alg, salt, hash] = stored.split('$');
  if (alg !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const got = await scrypt(password, Buffer.from(salt, 'base64'), expected.length);
  return got.length === expected.length && timingSafeEqual(got, expected);
}

export function fileAuthenticator(path: string): Authenticator {
  let cache: { mtimeMs: number; users: Record<string, string> } | undefined;
  return async (username, password) => {
    let st;
    try {
      st = await fs.stat(path);
    } catch (err) {
      throw new CredentialsError(`The submission credentials file ${path} cannot be read.`, { cause: err });
    }
    if (!cache || cache.mtimeMs !== st.mtimeMs) {
      const users = JSON.parse(await fs.readFile(path, 'utf8')) as Record<string, string>;
      cache = { mtimeMs: st.mtimeMs, users };
    }
    const address = username.trim().toLowerCase();
    const stored = cache.users[address];
    return stored !== undefined && (await checkPassword(password, stored)) ? address : undefined;
  };
}
