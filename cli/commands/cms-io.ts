/**
 * What `ssmax sign|encrypt|decrypt|countersign` share: option parsing, reading keys and
 * certificates (PEM or DER), the outer header fields of an input message, and writing output.
 * Software keys only (interop and debugging); cards go through `ssmax card`.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { derBlocks } from '../../smime/chain';
import { SmimeError } from '../../smime/errors';
import { SoftwareSigner, softwareDecryptor, type Decryptor, type Signer } from '../../smime/keys';
import { PROTECTED_HEADER_NAMES, parseMessage, type HeaderInput } from '../../smime/mime';
import { CliError, ExitCode, UsageError } from '../command';

export type Values = Record<string, string | boolean | string[] | undefined>;

export function parse(args: string[], options: NonNullable<ParseArgsConfig['options']>, usage: string): { values: Values; file: string } {
  let parsed;
  try {
    parsed = parseArgs({ args, options: { ...options, out: { type: 'string' } }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`${err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err)}\n${usage}`);
  }
  if (parsed.positionals.length !== 1) throw new UsageError(`exactly one input file is required\n${usage}`);
  return { values: parsed.values as Values, file: parsed.positionals[0] as string };
}

export function str(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

export function need(values: Values, name: string): string {
  const v = str(values, name);
  if (!v) throw new UsageError(`--${name} is required`);
  return v;
}

export function many(values: Values, name: string): string[] {
  const v = values[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}

export function time(values: Values, name = 'at'): Date | undefined {
  const v = str(values, name);
  if (v === undefined) return undefined;
  const d = new Date(v);
  if (!/^\d{4}-\d{2}-\d{2}/.test(v) || Number.isNaN(d.getTime())) throw new UsageError(`--${name} must be an ISO time, not "${v}"`);
  return d;
}

export async function readIn(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch {
    throw new CliError(`cannot read ${what} ${path}`, ExitCode.usage);
  }
}

export async function readCertificate(path: string): Promise<Uint8Array> {
  const der = derBlocks(new Uint8Array(await readIn(path, 'certificate')))[0];
  if (!der) throw new CliError(`${path} holds no certificate`, ExitCode.usage);
  return der;
}

export async function readCertificates(paths: readonly string[]): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (const p of paths) out.push(...derBlocks(new Uint8Array(await readIn(p, 'certificate'))));
  return out;
}

function keyInput(bytes: Buffer): string | Uint8Array {
  const text = bytes.toString('latin1');
  return text.includes('-----BEGIN') ? text : new Uint8Array(bytes);
}

export async function loadSigner(values: Values, options: { pss?: boolean } = {}): Promise<Signer> {
  const keyPath = need(values, 'key');
  const key = await readIn(keyPath, 'key');
  const cert = await readCertificate(need(values, 'cert'));
  try {
    return new SoftwareSigner(keyInput(key), cert, options.pss ? { rsaScheme: 'pss' } : {});
  } catch (cause) {
    throw new CliError(`${keyPath}: ${cause instanceof SmimeError ? cause.userMessage : 'the key cannot be read or does not match the certificate'}`, ExitCode.usage, { cause });
  }
}

export async function loadDecryptor(values: Values): Promise<Decryptor> {
  const keyPath = need(values, 'key');
  const key = await readIn(keyPath, 'key');
  const cert = await readCertificate(need(values, 'cert'));
  try {
    return softwareDecryptor(keyInput(key), cert);
  } catch (cause) {
    throw new CliError(`${keyPath}: ${cause instanceof SmimeError ? cause.userMessage : 'the key cannot be read or does not match the certificate'}`, ExitCode.usage, { cause });
  }
}

/** The message header fields of an input entity (From, To, Subject …) to repeat outside, if any. */
export function outerHeadersOf(input: Buffer): HeaderInput[] {
  const headers = parseMessage(input).root.headers;
  return PROTECTED_HEADER_NAMES.flatMap((name) => headers.getAll(name).map((value) => ({ name, value })));
}

export async function writeOut(values: Values, bytes: Uint8Array): Promise<void> {
  const out = str(values, 'out');
  if (!out) {
    process.stdout.write(bytes);
    return;
  }
  try {
    await writeFile(out, bytes);
  } catch {
    throw new CliError(`cannot write ${out}`, ExitCode.usage);
  }
}

/** Runs an operation of the S/MIME core: its errors become one-line failures (exit 1). */
export async function core<T>(what: string, op: () => Promise<T> | T): Promise<T> {
  try {
    return await op();
  } catch (cause) {
    if (cause instanceof CliError) throw cause;
    if (cause instanceof SmimeError) throw new CliError(`${what}: ${cause.userMessage}`, ExitCode.failed, { cause });
    throw new CliError(`${what}: the input is malformed`, ExitCode.failed, { cause });
  }
}
