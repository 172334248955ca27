import { EventEmitter } from 'node:events';
import { connect as netConnect } from 'node:net';
import pcsclite from '@pokusew/pcsclite';
import type { ApduTransport } from './apdu';
import {
  CardAbsentError,
  CardCommunicationError,
  CardErrorCode,
  CardRemovedError,
  CardTimeoutError,
  PcscUnavailableError,
  ReaderNotFoundError,
  SCARD,
  fromPcscError,
  pcscCodeOf,
  type CardError,
} from './errors';

type PcscLite = ReturnType<typeof pcsclite>;
type PcscReader = Parameters<Parameters<PcscLite['on']>[1]>[0];

export interface CardInsertEvent {
  reader: string;
  atr: Uint8Array;
}
export interface CardRemoveEvent {
  reader: string;
}

export interface CardWatcherEvents {
  reader: [name: string];
  'reader-removed': [name: string];
  insert: [event: CardInsertEvent];
  remove: [event: CardRemoveEvent];
  /** pcscd went away; readers and cards are reported removed. The watcher reconnects on its own. */
  'service-lost': [error: CardError];
  'service-restored': [];
  error: [error: CardError];
}

export interface CardWatcherOptions {
  /** Client socket of pcscd; default PCSCLITE_CSOCK_NAME or /run/pcscd/pcscd.comm (as libpcsclite). */
  socketPath?: string;
  /** How often to look for pcscd again after it went away. */
  reconnectMs?: number;
  /** Bound on every APDU round trip; a silent card becomes a CardTimeoutError, never a hang. */
  apduTimeoutMs?: number;
  /** How long to retry SCardConnect while another program holds the card exclusively. */
  connectRetryMs?: number;
}

interface ReaderEntry {
  reader: PcscReader;
  state: number;
  atr: Uint8Array | undefined;
  /** Serialises our own transactions on this reader. */
  queue: Promise<unknown>;
}

/**
 * The one place that watches PC/SC: readers coming and going, cards inserted and removed, pcscd
 * restarting. Card work goes through `transaction()`, which holds the card exclusively for one
 * logical operation (e.g. VERIFY + GENERAL AUTHENTICATE), so no other program can slip an APDU in
 * between and no PIN state outlives the operation (the card is reset when it ends).
 *
 * Two binding facts shape it: @pokusew/pcsclite's constructor spins on SCardEstablishContext while
 * pcscd is down (blocking the JS thread), so a new binding is only created once pcscd's socket
 * accepts connections; and a blocked SCardTransmit cannot be cancelled, so a silent card is turned
 * into a timeout error here and the channel is abandoned. Run this in a utility process, never in
 * the Electron main process.
 */
export class CardWatcher extends EventEmitter<CardWatcherEvents> {
  private pcsc: PcscLite | undefined;
  private readonly entries = new Map<string, ReaderEntry>();
  private stopped = true;
  private serviceUp = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  readonly socketPath: string;

  constructor(private readonly options: CardWatcherOptions = {}) {
    super();
    this.socketPath = options.socketPath ?? process.env.PCSCLITE_CSOCK_NAME ?? '/run/pcscd/pcscd.comm';
  }

  /** Starts watching. Resolves at once; if pcscd is not running, emits `error` (101) and keeps looking. */
  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    if (await this.serviceReachable()) await this.attach();
    else {
      this.emit('error', new PcscUnavailableError({ detail: `no pcscd at ${this.socketPath}` }));
      this.scheduleReconnect();
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    this.detach();
  }

  get running(): boolean {
    return this.serviceUp;
  }

  /** Readers currently known, with card presence and ATR. */
  readers(): { name: string; present: boolean; atr: Uint8Array | undefined }[] {
    return [...this.entries.entries()].map(([name, e]) => ({ name, present: this.isPresent(e), atr: e.atr }));
  }

  private isPresent(e: ReaderEntry): boolean {
    return (e.state & e.reader.SCARD_STATE_PRESENT) !== 0 && (e.state & e.reader.SCARD_STATE_MUTE) === 0;
  }

  /** Resolves with the first reader holding a card (optionally a given reader), waiting up to timeoutMs. */
  async waitForCard(opts: { reader?: string; timeoutMs?: number } = {}): Promise<CardInsertEvent> {
    const match = (name: string): boolean =>
      opts.reader === undefined || name === opts.reader || name.startsWith(opts.reader);
    for (const [name, e] of this.entries)
      if (match(name) && this.isPresent(e) && e.atr) return { reader: name, atr: e.atr };
    return new Promise((resolve, reject) => {
      const onInsert = (ev: CardInsertEvent): void => {
        if (!match(ev.reader)) return;
        clearTimeout(timer);
        this.off('insert', onInsert);
        resolve(ev);
      };
      const timer = setTimeout(() => {
        this.off('insert', onInsert);
        reject(new CardAbsentError({ detail: `no card within ${opts.timeoutMs ?? 10_000} ms` }));
      }, opts.timeoutMs ?? 10_000);
      this.on('insert', onInsert);
    });
  }

  private serviceReachable(): Promise<boolean> {
    return new Promise((resolve) => {
      const s = netConnect(this.socketPath);
      const done = (ok: boolean): void => {
        s.destroy();
        resolve(ok);
      };
      s.once('connect', () => done(true));
      s.once('error', () => done(false));
      s.setTimeout(1_000, () => done(false));
    });
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      void this.serviceReachable().then((ok) => {
        if (this.stopped) return;
        if (ok) {
          void this.attach().then(() => this.emit('service-restored'));
        } else this.scheduleReconnect();
      });
    }, this.options.reconnectMs ?? 500);
  }

  /** Creates the binding; resolves once the readers present now have reported their first status. */
  private attach(): Promise<void> {
    const pcsc = pcsclite();
    this.pcsc = pcsc;
    this.serviceUp = true;
    const firstStatus: Promise<void>[] = [];
    let readersListed: () => void = () => undefined;
    const listed = new Promise<void>((resolve) => (readersListed = resolve));
    pcsc.on('error', (err: unknown) => {
      if (this.pcsc !== pcsc) return;
      const error = fromPcscError(err, 'watching readers');
      this.detach();
      if (this.stopped) return;
      this.emit('service-lost', error.code === 101 ? error : new PcscUnavailableError({ cause: err }));
      this.scheduleReconnect();
    });
    pcsc.on('reader', (reader: PcscReader) => {
      if (this.pcsc !== pcsc) return;
      const entry: ReaderEntry = { reader, state: 0, atr: undefined, queue: Promise.resolve() };
      this.entries.set(reader.name, entry);
      this.emit('reader', reader.name);
      reader.on('error', (err: unknown) => {
        const error = fromPcscError(err, `watching ${reader.name}`);
        // pcscd going away is reported once, as service-lost, by the binding's own error.
        if (this.pcsc === pcsc && error.code !== CardErrorCode.PCSC_UNAVAILABLE) this.emit('error', error);
      });
      firstStatus.push(new Promise<void>((resolve) => reader.once('status', () => resolve())));
      reader.on('status', (status: { state: number; atr?: Buffer }) => this.onStatus(entry, status));
      reader.on('end', () => {
        if (this.entries.get(reader.name) !== entry) return;
        this.dropReader(reader.name, entry);
      });
      // The binding announces all current readers in one tick.
      setImmediate(readersListed);
    });
    const bound = (p: Promise<unknown>, ms: number): Promise<unknown> =>
      Promise.race([p, new Promise((r) => setTimeout(r, ms).unref())]);
    // With no reader at all there is no event to wait for: a short bound keeps start() prompt.
    return bound(listed, 1_000)
      .then(() => bound(Promise.all(firstStatus), 2_000))
      .then(() => undefined);
  }

  /** Fortify-style edge detection: only a change of EMPTY or PRESENT is an event. */
  private onStatus(entry: ReaderEntry, status: { state: number; atr?: Buffer }): void {
    const r = entry.reader;
    const was = this.isPresent(entry);
    entry.state = status.state;
    const now = this.isPresent(entry);
    if (now && status.atr && status.atr.length > 0) entry.atr = new Uint8Array(status.atr);
    if (!was && now) this.emit('insert', { reader: r.name, atr: entry.atr ?? new Uint8Array() });
    else if (was && !now) {
      entry.atr = undefined;
      this.emit('remove', { reader: r.name });
    }
  }

  private dropReader(name: string, entry: ReaderEntry): void {
    if (this.isPresent(entry)) this.emit('remove', { reader: name });
    this.entries.delete(name);
    this.emit('reader-removed', name);
  }

  private detach(): void {
    const pcsc = this.pcsc;
    this.pcsc = undefined;
    this.serviceUp = false;
    const readers = [...this.entries.values()].map((e) => e.reader);
    for (const [name, entry] of [...this.entries]) this.dropReader(name, entry);
    // Each reader has its own status thread and async handle: close them too, or they keep the
    // process alive after stop().
    for (const r of readers) {
      try {
        r.close();
      } catch {
        /* already ended */
      }
    }
    try {
      pcsc?.close();
    } catch {
      /* the binding is already dead */
    }
  }

  private entryFor(reader?: string): [string, ReaderEntry] {
    if (!this.serviceUp) throw new PcscUnavailableError();
    const candidates = [...this.entries].filter(
      ([name]) => reader === undefined || name === reader || name.startsWith(reader),
    );
    if (candidates.length === 0) throw new ReaderNotFoundError(reader ?? '(any)');
    const withCard = candidates.find(([, e]) => this.isPresent(e));
    if (!withCard) throw new CardAbsentError();
    return withCard;
  }

  /**
   * Runs `work` with exclusive access to the card in `reader` (first reader with a card when
   * omitted). Our own calls on one reader are queued; another program holding the card makes us
   * retry for `connectRetryMs` and then fail with CardInUseError.
   */
  async transaction<T>(
    work: (channel: CardChannel) => Promise<T>,
    opts: { reader?: string } = {},
  ): Promise<T> {
    const [name, entry] = this.entryFor(opts.reader);
    const run = async (): Promise<T> => {
      const channel = await this.connect(name, entry.reader);
      try {
        return await work(channel);
      } catch (err) {
        throw await this.explain(err, entry);
      } finally {
        await channel.release();
      }
    };
    const result = entry.queue.then(run, run);
    entry.queue = result.catch(() => undefined);
    return result;
  }

  /** A failed exchange on a card that is gone is a removal, which is what the user must hear. */
  private async explain(err: unknown, entry: ReaderEntry): Promise<unknown> {
    if (!(err instanceof CardCommunicationError)) return err;
    for (let i = 0; i < 10 && this.isPresent(entry); i++) await new Promise((r) => setTimeout(r, 100));
    return this.isPresent(entry) ? err : new CardRemovedError({ cause: err, detail: err.message });
  }

  private async connect(name: string, reader: PcscReader): Promise<CardChannel> {
    const deadline = Date.now() + (this.options.connectRetryMs ?? 3_000);
    // The binding reuses a handle it still believes connected (a channel abandoned after a
    // timeout is still disconnecting): wait for it rather than transmit on a dead handle.
    while (reader.connected) {
      if (Date.now() >= deadline)
        throw new CardCommunicationError({
          detail: `${name}: an earlier operation still holds the card; remove and reinsert it`,
        });
      await new Promise((r) => setTimeout(r, 50));
    }
    for (;;) {
      try {
        const protocol = await new Promise<number>((resolve, reject) =>
          reader.connect({ share_mode: reader.SCARD_SHARE_EXCLUSIVE }, (err, p) =>
            err ? reject(err) : resolve(p),
          ),
        );
        if (typeof protocol !== 'number')
          throw new CardCommunicationError({ detail: `${name}: connected without a protocol` });
        return new CardChannel(name, reader, protocol, this.options.apduTimeoutMs ?? 15_000);
      } catch (err) {
        if (pcscCodeOf(err) === SCARD.E_SHARING_VIOLATION && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 100));
          continue;
        }
        throw fromPcscError(err, `connecting to ${name}`);
      }
    }
  }
}

/**
 * An exclusive connection to one card, valid for one transaction. After a timeout or a removal
 * it refuses further APDUs instead of queueing them behind a transmit that may never return.
 */
export class CardChannel implements ApduTransport {
  private broken: CardError | undefined;
  private released = false;

  constructor(
    readonly readerName: string,
    private readonly reader: PcscReader,
    readonly protocol: number,
    private readonly timeoutMs: number,
  ) {}

  async transmit(apdu: Uint8Array): Promise<Uint8Array> {
    if (this.broken) throw this.broken;
    if (this.released)
      throw new CardCommunicationError({ detail: 'channel used after its transaction ended' });
    let timer: NodeJS.Timeout | undefined;
    const reply = new Promise<Uint8Array>((resolve, reject) => {
      this.reader.transmit(Buffer.from(apdu), 4096, this.protocol, (err, res) =>
        err ? reject(fromPcscError(err, 'transmit')) : resolve(new Uint8Array(res)),
      );
    });
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new CardTimeoutError(this.timeoutMs, { detail: `no answer from ${this.readerName}` })),
        this.timeoutMs,
      );
    });
    try {
      const response = await Promise.race([reply, timeout]);
      // vpcd answers an exchange with a vanished card with nothing at all.
      if (response.length < 2)
        throw new CardCommunicationError({ detail: `empty response from ${this.readerName}` });
      return response;
    } catch (err) {
      this.broken = err as CardError;
      reply.catch(() => undefined);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Ends the transaction. The card is reset so no PIN status survives for other programs. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    // A transmit that timed out still holds the binding's reader mutex: the disconnect queues behind
    // it and completes once the card answers or is pulled. Do not wait for that here.
    if (this.broken instanceof CardTimeoutError) {
      this.reader.disconnect(this.reader.SCARD_RESET_CARD, () => undefined);
      return;
    }
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 5_000);
      this.reader.disconnect(this.reader.SCARD_RESET_CARD, () => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}
