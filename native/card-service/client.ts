import { fork } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { EcdhDecryptor, RsaDecryptor, SignRequest, SignatureAlgorithm, Signer } from '../../smime/keys';
import { CardCommunicationError, CardTimeoutError } from '../pcsc/errors';
import type { OperationStats, PinPrompt } from '../piv/card-keys';
import {
  reviveError,
  type CardRequest,
  type CardStatusInfo,
  type DecryptorInfo,
  type EnrollInitialisation,
  type GeneratedKeys,
  type FromService,
  type SignerInfo,
  type ToService,
} from './protocol';

/** A running service process as the client sees it (Node child process or Electron utility process). */
export interface ServiceChannel {
  send(message: ToService): void;
  onMessage(listener: (message: FromService) => void): void;
  onExit(listener: () => void): void;
  kill(): void;
}
export type ServiceLauncher = () => ServiceChannel;

/** Launches native/card-service/worker.ts with Node (tests, CLI); Electron passes a utilityProcess launcher. */
export function nodeServiceLauncher(opts: { env?: NodeJS.ProcessEnv } = {}): ServiceLauncher {
  const entry = new URL('./worker.ts', import.meta.url);
  return () => {
    const child = fork(entry, [], {
      execArgv: ['--import', 'tsx'],
      env: opts.env ?? process.env,
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    return {
      send: (m) => void child.send(m),
      onMessage: (l) => child.on('message', (m) => l(m as FromService)),
      onExit: (l) => child.once('exit', () => l()),
      kill: () => void child.kill('SIGKILL'),
    };
  };
}

export interface CardServiceEvents {
  insert: [reader: string];
  remove: [reader: string];
  'service-lost': [];
  'service-restored': [];
  /** The service process was restarted after it hung or died. */
  restarted: [];
}

interface Pending {
  resolve: (v: { value: unknown; stats?: unknown }) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout | undefined;
  request: CardRequest;
}

/**
 * The app side of the card service: sends requests, answers PIN prompts, re-emits card events.
 * Every request has a deadline (paused while the user types a PIN): a service that does not answer
 * in time is killed and restarted, and the caller gets a CardTimeoutError instead of a hang.
 */
export class CardServiceClient extends EventEmitter<CardServiceEvents> {
  private channel: ServiceChannel | undefined;
  private ready: Promise<void> | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private stopped = false;
  private readonly timeoutMs: number;

  constructor(
    private readonly launch: ServiceLauncher,
    private readonly pinPrompt: PinPrompt,
    options: { requestTimeoutMs?: number } = {},
  ) {
    super();
    this.timeoutMs = options.requestTimeoutMs ?? 30_000;
  }

  async start(): Promise<void> {
    this.stopped = false;
    this.ready ??= this.spawn();
    await this.ready;
  }

  private spawn(): Promise<void> {
    const channel = this.launch();
    this.channel = channel;
    return new Promise<void>((resolve, reject) => {
      let isReady = false;
      channel.onMessage((msg) => {
        if (msg.type === 'ready') {
          isReady = true;
          resolve();
        } else this.onMessage(channel, msg);
      });
      channel.onExit(() => {
        if (this.channel !== channel) return;
        this.channel = undefined;
        this.ready = undefined;
        if (!isReady) reject(new CardCommunicationError({ detail: 'card service exited during start' }));
        this.failAll(new CardCommunicationError({ detail: 'card service exited' }));
      });
    });
  }

  private onMessage(channel: ServiceChannel, msg: FromService): void {
    if (msg.type === 'event') {
      if (msg.event === 'insert' || msg.event === 'remove') this.emit(msg.event, msg.reader ?? '');
      else this.emit(msg.event);
      return;
    }
    if (msg.type === 'pin-request') {
      // The user may take their time: no request deadline runs while the prompt is open.
      for (const p of this.pending.values()) clearTimeout(p.timer);
      void this.pinPrompt(msg.request)
        .catch(() => null)
        .then((pin) => {
          for (const [id, p] of this.pending) p.timer = this.deadline(id);
          channel.send({ type: 'pin-response', id: msg.id, pin });
        });
      return;
    }
    if (msg.type === 'response') {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      clearTimeout(p.timer);
      if (msg.ok) p.resolve({ value: msg.value, stats: msg.stats });
      else p.reject(reviveError(msg.error));
    }
  }

  private deadline(id: number): NodeJS.Timeout {
    return setTimeout(() => {
      const p = this.pending.get(id);
      if (!p) return;
      this.pending.delete(id);
      p.reject(
        new CardTimeoutError(this.timeoutMs, { detail: `card service did not answer ${p.request.op}` }),
      );
      this.restart();
    }, this.timeoutMs);
  }

  private failAll(err: Error): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(err);
    }
  }

  /** Kills a hung service; the next request starts a fresh one. */
  private restart(): void {
    const channel = this.channel;
    this.channel = undefined;
    this.ready = undefined;
    channel?.kill();
    this.failAll(new CardCommunicationError({ detail: 'card service restarted' }));
    if (!this.stopped) this.emit('restarted');
  }

  async request<T>(request: CardRequest): Promise<{ value: T; stats?: OperationStats }> {
    if (this.stopped) throw new CardCommunicationError({ detail: 'card service stopped' });
    this.ready ??= this.spawn();
    await this.ready;
    const channel = this.channel;
    if (!channel) throw new CardCommunicationError({ detail: 'card service not running' });
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, {
        resolve: resolve as Pending['resolve'],
        reject,
        timer: this.deadline(id),
        request,
      });
      channel.send({ type: 'request', id, request });
    });
  }

  async readers(): Promise<{ name: string; present: boolean }[]> {
    return (await this.request<{ name: string; present: boolean }[]>({ op: 'readers' })).value;
  }

  /** Reader, card presence, PIN tries left and the 9C certificate, without using a PIN try. */
  async status(reader?: string): Promise<CardStatusInfo> {
    return (await this.request<CardStatusInfo>({ op: 'status', reader })).value;
  }

  /** Forgets cached PINs (screen lock, "lock card"). */
  async clearPin(): Promise<void> {
    await this.request({ op: 'clear-pin' });
  }

  async openSigner(
    reader?: string,
  ): Promise<Signer & { lastStats: OperationStats | undefined; cardId: string }> {
    const info = (await this.request<SignerInfo>({ op: 'open-signer', reader })).value;
    const signer = {
      certificate: info.certificate,
      algorithm: info.algorithm as SignatureAlgorithm,
      cardId: info.cardId,
      lastStats: undefined as OperationStats | undefined,
      sign: async (req: SignRequest): Promise<Uint8Array> => {
        const r = await this.request<Uint8Array>({ op: 'sign', reader, digest: req.digest, data: req.data });
        signer.lastStats = r.stats;
        return r.value;
      },
    };
    return signer;
  }

  async openDecryptor(reader?: string): Promise<RsaDecryptor | EcdhDecryptor> {
    const info = (await this.request<DecryptorInfo>({ op: 'open-decryptor', reader })).value;
    if (info.kind === 'rsa') {
      return {
        kind: 'rsa',
        certificate: info.certificate,
        modulusLength: 256,
        rsaRawDecrypt: async (block) =>
          (await this.request<Uint8Array>({ op: 'rsa-raw-decrypt', reader, block })).value,
      };
    }
    return {
      kind: 'ecdh',
      certificate: info.certificate,
      namedCurve: 'P-256',
      ecdh: async (point) => (await this.request<Uint8Array>({ op: 'ecdh', reader, point })).value,
    };
  }

  /** Enrollment (IT mode): sets the organisation's management key, PIN and PUK on the card. */
  async enrollInitialise(init: EnrollInitialisation, reader?: string): Promise<void> {
    await this.request({ op: 'enroll-initialise', reader, init });
  }

  /** Enrollment: 9C and 9D keys generated on the card, with card-signed CSRs. */
  async enrollGenerate(req: { algorithm: 'rsa2048' | 'p256'; subject: string; pin: string; managementKey: Uint8Array }, reader?: string): Promise<GeneratedKeys> {
    return (await this.request<GeneratedKeys>({ op: 'enroll-generate', reader, ...req })).value;
  }

  /** Enrollment: writes the issued 9C/9D certificates and the org CA (slot 95). */
  async enrollWrite(req: { managementKey: Uint8Array; signatureCertificate: Uint8Array; keyManagementCertificate: Uint8Array; orgCa: Uint8Array }, reader?: string): Promise<void> {
    await this.request({ op: 'enroll-write', reader, ...req });
  }

  /** Enrollment: sign and decrypt round trip with the new keys and certificates. */
  async enrollCheck(pin: string, reader?: string): Promise<void> {
    await this.request({ op: 'enroll-check', reader, pin });
  }

  stop(): void {
    this.stopped = true;
    const channel = this.channel;
    this.channel = undefined;
    this.ready = undefined;
    this.failAll(new CardCommunicationError({ detail: 'card service stopped' }));
    channel?.kill();
  }
}
