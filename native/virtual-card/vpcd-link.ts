import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';

/**
 * The card side of the vsmartcard "vpcd" reader driver protocol. The driver (inside pcscd) listens
 * on TCP; a virtual card connects to it and then only answers: every frame is a 2-byte big-endian
 * length followed by that many bytes. A 1-byte frame is a control (power off/on, reset, ATR
 * request); a longer one is a command APDU to which exactly one response frame is owed.
 */
export type VpcdControl = 'power-off' | 'power-on' | 'reset';

/** What a card must do for the reader. Responses may be async (e.g. RSA key generation). */
export interface VpcdCard {
  /** The ATR. Asked for on every presence poll (several times a second), so keep it cheap. */
  atr(): Uint8Array;
  control(what: VpcdControl): void;
  /** Answers one command APDU with a response APDU (data + SW1 SW2). */
  transmit(apdu: Uint8Array): Uint8Array | Promise<Uint8Array>;
}

export interface VpcdLinkOptions {
  host: string;
  port: number;
  /** Reconnect after the reader went away (pcscd restart). Default true. */
  reconnect?: boolean;
  reconnectDelayMs?: number;
}

export class VpcdLinkError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'VpcdLinkError';
  }
}

const CONTROL_OFF = 0x00;
const CONTROL_ON = 0x01;
const CONTROL_RESET = 0x02;
const CONTROL_ATR = 0x04;

/**
 * One virtual card "inserted" into one vpcd slot for as long as the link is open. Closing the link
 * is pulling the card out. Events: `connected`, `disconnected`, `apdu` ({ command, response, ms }),
 * `error`.
 */
export class VpcdLink extends EventEmitter {
  private socket: Socket | undefined;
  private buffer: Buffer = Buffer.alloc(0);
  private queue: Promise<void> = Promise.resolve();
  private closed = false;
  private reconnectTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly card: VpcdCard,
    readonly options: VpcdLinkOptions,
  ) {
    super();
  }

  get connected(): boolean {
    return this.socket !== undefined && !this.socket.destroyed && this.socket.readyState === 'open';
  }

  /**
   * Connects and resolves once the TCP connection is up (the reader then sees a card). Retries a
   * refused connection for `openTimeoutMs` (default 5 s): pcscd may still be starting its reader.
   */
  async open(openTimeoutMs = 5_000): Promise<void> {
    this.closed = false;
    const deadline = Date.now() + openTimeoutMs;
    for (;;) {
      try {
        await this.dial();
        return;
      } catch (err) {
        if (Date.now() >= deadline || this.closed) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  private dial(): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: this.options.host, port: this.options.port, noDelay: true });
      this.buffer = Buffer.alloc(0);
      let settled = false;
      let failedBeforeConnect = false;
      socket.once('connect', () => {
        settled = true;
        this.socket = socket;
        this.emit('connected');
        resolve();
      });
      socket.on('data', (chunk: Buffer) => this.onData(socket, chunk));
      socket.on('error', (err) => {
        if (!settled) {
          // Not connected yet: the caller (open or the reconnect loop) handles it; 'close' stays quiet.
          failedBeforeConnect = true;
          settled = true;
          reject(
            new VpcdLinkError(`cannot reach the vpcd reader at ${this.options.host}:${this.options.port}`, {
              cause: err,
            }),
          );
        } else if (!this.closed) {
          this.emit('error', new VpcdLinkError('vpcd connection failed', { cause: err }));
        }
      });
      socket.on('close', () => {
        if (this.socket === socket) this.socket = undefined;
        if (!settled || failedBeforeConnect) return;
        this.emit('disconnected');
        if (!this.closed && this.options.reconnect !== false) this.scheduleReconnect();
      });
    });
  }

  private scheduleReconnect(): void {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      if (this.closed) return;
      this.dial().catch(() => this.scheduleReconnect());
    }, this.options.reconnectDelayMs ?? 200);
  }

  private onData(socket: Socket, chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    while (this.buffer.length >= 2) {
      const len = this.buffer.readUInt16BE(0);
      if (this.buffer.length < 2 + len) break;
      const frame = Buffer.from(this.buffer.subarray(2, 2 + len));
      this.buffer = this.buffer.subarray(2 + len);
      // vpcd waits for each answer before sending the next frame, but a chunk may still carry a
      // control and an APDU back to back; keep the answers in order.
      this.queue = this.queue.then(() => this.onFrame(socket, frame));
    }
  }

  private async onFrame(socket: Socket, frame: Buffer): Promise<void> {
    if (frame.length === 1) {
      switch (frame[0]) {
        case CONTROL_OFF:
          this.card.control('power-off');
          return;
        case CONTROL_ON:
          this.card.control('power-on');
          return;
        case CONTROL_RESET:
          this.card.control('reset');
          return;
        case CONTROL_ATR:
          this.send(socket, this.card.atr());
          return;
        default:
          this.emit('error', new VpcdLinkError(`unknown vpcd control byte ${frame[0]}`));
          return;
      }
    }
    const started = performance.now();
    let response: Uint8Array;
    try {
      response = await this.card.transmit(frame);
    } catch (err) {
      // A card that throws must still answer, or pcscd blocks on this reader forever.
      this.emit('error', new VpcdLinkError('card failed to process an APDU', { cause: err }));
      response = Uint8Array.of(0x6f, 0x00);
    }
    this.send(socket, response);
    this.emit('apdu', { command: frame, response, ms: performance.now() - started });
  }

  private send(socket: Socket, payload: Uint8Array): void {
    if (socket.destroyed) return;
    // One write per frame: length and body together, so our side never splits a frame.
    const out = Buffer.alloc(2 + payload.length);
    out.writeUInt16BE(payload.length, 0);
    out.set(payload, 2);
    socket.write(out);
  }

  /** Pulls the card out of the reader. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    const socket = this.socket;
    this.socket = undefined;
    if (!socket || socket.destroyed) return;
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      socket.destroy();
    });
  }
}
