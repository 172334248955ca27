import { userInfo } from 'node:os';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { OrgNodeError } from '../../org-node/errors';
import type { KeyStoreConfig, SecretFiles } from '../../org-node/keys/open';
import type { OrgKeyAlgorithm } from '../../org-node/keys/store';
import { SmimeError } from '../../smime/errors';
import { CliError, ExitCode, UsageError } from '../command';

/**
 * Option parsing shared by `ssmax authority` and `ssmax org`. Secrets are never options: a
 * passphrase or PIN comes from SSMAX_KEY_PASSPHRASE / SSMAX_TOKEN_PIN or from the file named by
 * --passphrase-file / --pin-file.
 */

export type Options = ParseArgsConfig['options'];
export type Values = Record<string, string | boolean | string[] | undefined>;

export function parse(args: string[], options: NonNullable<Options>, usage: string): { values: Values; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args, options, allowPositionals: true, strict: true });
    return { values: values as Values, positionals };
  } catch (err) {
    throw new UsageError(`${err instanceof Error ? err.message.split('\n')[0] : String(err)}\n${usage}`);
  }
}

export function required(values: Values, name: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '') throw new UsageError(`--${name} is required`);
  return v;
}

export function optional(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

export function list(values: Values, name: string): string[] {
  const v = values[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}

export function positiveNumber(values: Values, name: string): number | undefined {
  const v = optional(values, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} must be a positive number`);
  return n;
}

export function algorithm(values: Values): OrgKeyAlgorithm | undefined {
  const v = optional(values, 'algorithm');
  if (v === undefined) return undefined;
  if (v !== 'P-256' && v !== 'RSA-2048') throw new UsageError('--algorithm must be P-256 or RSA-2048');
  return v;
}

export function hostPort(values: Values, name: string): { host: string; port: number } | undefined {
  const v = optional(values, name);
  if (v === undefined) return undefined;
  const m = /^(.+):(\d{1,5})$/.exec(v);
  const port = Number(m?.[2]);
  // Port 0 (any free port) only makes sense for listening.
  if (!m || port < (name === 'listen' ? 0 : 1) || port > 65535) throw new UsageError(`--${name} must be host:port`);
  return { host: m[1]!.replace(/^\[(.*)\]$/, '$1'), port };
}

export const keyStoreOptions = {
  'pkcs11-module': { type: 'string' },
  token: { type: 'string' },
  'passphrase-file': { type: 'string' },
  'pin-file': { type: 'string' },
} as const;

/** --pkcs11-module + --token select a token; otherwise encrypted key files under <dir>/keys. */
export function keyStoreConfig(values: Values): KeyStoreConfig | undefined {
  const module = optional(values, 'pkcs11-module');
  const token = optional(values, 'token');
  if (module === undefined && token === undefined) return undefined;
  if (module === undefined || token === undefined) throw new UsageError('--pkcs11-module and --token go together');
  return { kind: 'pkcs11', module, token };
}

export function secretFiles(values: Values): SecretFiles {
  const passphraseFile = optional(values, 'passphrase-file');
  const pinFile = optional(values, 'pin-file');
  return { ...(passphraseFile ? { passphraseFile } : {}), ...(pinFile ? { pinFile } : {}) };
}

export function actor(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return 'cli';
  }
}

/** Runs a command body; the org node's and the S/MIME core's errors become one-line CLI failures. */
export async function guarded(body: () => Promise<ExitCode>): Promise<ExitCode> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof CliError) throw err;
    if (err instanceof OrgNodeError || err instanceof SmimeError) throw new CliError(err.userMessage, ExitCode.failed, { cause: err });
    throw err;
  }
}
