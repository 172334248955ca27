import { connect, type Socket } from 'node:net';

/**
 * A small client for clamd's stream protocol (INSTREAM, PING, VERSION), used by the org node's
 * inspection to scan decrypted content without ever writing it to disk.
 *
 * Protocol (clamd(8)): commands are prefixed with `z` and terminated with NUL, and so is the reply.
 * INSTREAM is followed by chunks, each a 4-byte big-endian length and that many bytes, ended by a
 * zero-length chunk. clamd answers `stream: OK`, `stream: <signature> FOUND` or `<text> ERROR`.
 */

/** Where clamd listens: a TCP address or a unix socket path. */
export type ClamdAddress = { readonly host: string; readonly port: number } | { readonly path: string };

export type ScanVerdict =
  { readonly status: 'clean' } | { readonly status: 'found'; readonly signature: string };

export interface ClamdCallOptions {
  /**
   * Longest silence on the connection before giving up. Idle time, not total time: a big
   * stream that keeps moving is fine; a clamd that stops answering is not.
   */
  idleTimeoutMs?: number;
}

export interface ScanOptions extends ClamdCallOptions {
  /** Size of the INSTREAM chunks sent; clamd's default StreamMaxLength is far larger. */
  chunkSize?: number;
}

const DEFAULT_IDLE_TIMEOUT_MS = 30_000;
const DEFAULT_CHUNK_SIZE = 64 * 1024;

/**
 * Any failure talking to clamd. Same shape as the core's SmimeError: `userMessage` can be shown
 * to an employee or admin as is (it ends up in inspection verdicts as the "why" of Error);
 * `message` adds the detail for logs.
 */
export class ClamdError extends Error {
  readonly userMessage: string;

  constructor(userMessage: string, options?: { cause?: unknown; detail?: string }) {
    super(
      options?.detail ? `${userMessage} (${options.detail})` : userMessage,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = new.target.name;
    this.userMessage = userMessage;
  }
}

/** clamd could not be reached, or the connection broke before a reply. */
export class ClamdConnectionError extends ClamdError {
  constructor(
    readonly address: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super('The virus scanner could not be reached; the content was not scanned.', {
      detail: `${address}: ${detail}`,
      cause: options?.cause,
    });
  }
}

/** clamd went silent for longer than the idle timeout. */
export class ClamdTimeoutError extends ClamdError {
  constructor(
    readonly address: string,
    readonly idleTimeoutMs: number,
  ) {
    super('The virus scanner did not answer in time; the content was not scanned.', {
      detail: `${address}: silent for ${idleTimeoutMs} ms`,
    });
  }
}

/** The stream was longer than clamd accepts (its StreamMaxLength); the content was not scanned. */
export class ClamdSizeLimitError extends ClamdError {
  constructor(
    readonly address: string,
    readonly bytesSent: number,
    /** clamd's reply; undefined when the connection reset overtook it (see explainBrokenStream). */
    readonly reply: string | undefined,
  ) {
    super('The content is larger than the virus scanner accepts; it was not scanned.', {
      detail: `${address}: refused after ${bytesSent} bytes (clamd StreamMaxLength)${reply ? `: ${reply}` : ', connection reset'}`,
    });
  }
}

/** clamd answered, but with an error or something this client does not understand. */
export class ClamdReplyError extends ClamdError {
  constructor(
    readonly address: string,
    readonly reply: string,
  ) {
    super('The virus scanner reported an error; the content was not scanned.', {
      detail: `${address}: ${reply}`,
    });
  }
}

export function describeAddress(address: ClamdAddress): string {
  return 'path' in address ? `unix:${address.path}` : `${address.host}:${address.port}`;
}

/** Sends PING; resolves when clamd answers PONG. */
export async function ping(address: ClamdAddress, opts: ClamdCallOptions = {}): Promise<void> {
  const reply = await simpleCommand(address, 'PING', opts);
  if (reply !== 'PONG') throw new ClamdReplyError(describeAddress(address), reply);
}

/**
 * clamd's engine and signature-database version, e.g. `ClamAV 1.4.6/0/Thu Jan  1 ...`.
 * The inspection attestation records it next to each verdict.
 */
export async function version(address: ClamdAddress, opts: ClamdCallOptions = {}): Promise<string> {
  return simpleCommand(address, 'VERSION', opts);
}

export async function scanBuffer(
  address: ClamdAddress,
  data: Uint8Array,
  opts: ScanOptions = {},
): Promise<ScanVerdict> {
  return scanStream(address, [data], opts);
}

/**
 * Streams `source` to clamd with INSTREAM and returns its verdict. Chunks of any size are
 * re-cut to `chunkSize`. Rejects with a `ClamdError` subclass; never hangs longer than the
 * idle timeout.
 */
export async function scanStream(
  address: ClamdAddress,
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  opts: ScanOptions = {},
): Promise<ScanVerdict> {
  const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (!Number.isInteger(chunkSize) || chunkSize <= 0)
    throw new RangeError(`chunkSize must be a positive integer, got ${chunkSize}`);
  const conn = await Connection.open(address, opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS);
  let bytesSent = 0;
  try {
    await conn.write(Buffer.from('zINSTREAM\0', 'latin1'));
    for await (const piece of source) {
      for (let off = 0; off < piece.byteLength; off += chunkSize) {
        // clamd refuses an over-long stream by replying and closing; stop sending once it has spoken.
        if (conn.replied) break;
        const slice = piece.subarray(off, Math.min(off + chunkSize, piece.byteLength));
        const header = Buffer.alloc(4);
        header.writeUInt32BE(slice.byteLength, 0);
        await conn.write(Buffer.concat([header, slice]));
        bytesSent += slice.byteLength;
      }
      if (conn.replied) break;
    }
    if (!conn.replied) await conn.write(Buffer.alloc(4));
  } catch (err) {
    const reply = conn.reply;
    conn.close();
    if (reply !== undefined) return parseScanReply(address, reply, bytesSent);
    throw await explainBrokenStream(address, err, bytesSent);
  }
  try {
    return parseScanReply(address, await conn.readReply(), bytesSent);
  } catch (err) {
    throw await explainBrokenStream(address, err, bytesSent);
  } finally {
    conn.close();
  }
}

/**
 * clamd refuses an over-long stream by replying and closing at once, with the rest of the stream
 * unread; the kernel then resets the connection, and the reset can overtake the reply (about 2 %
 * of the time on loopback). So a connection that breaks mid-stream without a reply, while clamd
 * still answers PING, is the size limit; if clamd is gone too, it is a connection failure.
 */
async function explainBrokenStream(address: ClamdAddress, err: unknown, bytesSent: number): Promise<unknown> {
  if (!(err instanceof ClamdConnectionError) || bytesSent === 0) return err;
  const alive = await ping(address, { idleTimeoutMs: 5_000 }).then(
    () => true,
    () => false,
  );
  return alive ? new ClamdSizeLimitError(describeAddress(address), bytesSent, undefined) : err;
}

function parseScanReply(address: ClamdAddress, reply: string, bytesSent: number): ScanVerdict {
  const where = describeAddress(address);
  if (reply === 'stream: OK') return { status: 'clean' };
  const found = /^stream: (.+) FOUND$/.exec(reply);
  if (found) return { status: 'found', signature: found[1]! };
  if (/size limit exceeded/i.test(reply)) throw new ClamdSizeLimitError(where, bytesSent, reply);
  throw new ClamdReplyError(where, reply);
}

async function simpleCommand(
  address: ClamdAddress,
  command: string,
  opts: ClamdCallOptions,
): Promise<string> {
  const conn = await Connection.open(address, opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS);
  try {
    await conn.write(Buffer.from(`z${command}\0`, 'latin1'));
    return await conn.readReply();
  } finally {
    conn.close();
  }
}

/** One clamd connection: collects the NUL-terminated reply while the caller is still writing. */
class Connection {
  private chunks: Buffer[] = [];
  private failure: ClamdError | undefined;
  private settled: ((err?: ClamdError) => void)[] = [];
  reply: string | undefined;

  private constructor(
    private readonly socket: Socket,
    private readonly where: string,
  ) {
    socket.on('data', (data: Buffer) => {
      this.chunks.push(data);
      const all = Buffer.concat(this.chunks);
      const nul = all.indexOf(0);
      if (nul >= 0 && this.reply === undefined) {
        this.reply = all.subarray(0, nul).toString('utf8').trim();
        this.notify();
      }
    });
    socket.on('error', (err) => this.fail(new ClamdConnectionError(where, err.message, { cause: err })));
    socket.on('close', () => {
      if (this.reply === undefined) {
        // Some clamd versions omit the final NUL before closing; take what came.
        const text = Buffer.concat(this.chunks).toString('utf8').trim();
        if (text.length > 0) this.reply = text;
        else this.fail(new ClamdConnectionError(where, 'the connection closed without a reply'));
      }
      this.notify();
    });
  }

  static async open(address: ClamdAddress, idleTimeoutMs: number): Promise<Connection> {
    const where = describeAddress(address);
    const socket = 'path' in address ? connect(address.path) : connect(address.port, address.host);
    const conn = new Connection(socket, where);
    socket.setTimeout(idleTimeoutMs, () => {
      conn.fail(new ClamdTimeoutError(where, idleTimeoutMs));
      socket.destroy();
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      conn.settled.push((err) => (err ? reject(err) : undefined));
    });
    return conn;
  }

  get replied(): boolean {
    return this.reply !== undefined;
  }

  async write(data: Buffer): Promise<void> {
    if (this.failure) throw this.failure;
    await new Promise<void>((resolve, reject) => {
      this.socket.write(data, (err) => {
        if (err) reject(this.failure ?? new ClamdConnectionError(this.where, err.message, { cause: err }));
        else resolve();
      });
    });
  }

  async readReply(): Promise<string> {
    if (this.reply !== undefined) return this.reply;
    if (this.failure) throw this.failure;
    return new Promise<string>((resolve, reject) => {
      this.settled.push((err) => {
        if (this.reply !== undefined) resolve(this.reply);
        else reject(err ?? this.failure ?? new ClamdConnectionError(this.where, 'no reply'));
      });
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private fail(err: ClamdError): void {
    this.failure ??= err;
    this.notify();
  }

  private notify(): void {
    const waiting = this.settled;
    this.settled = [];
    for (const cb of waiting) cb(this.failure);
  }
}
