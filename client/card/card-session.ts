import { randomUUID } from 'node:crypto';
import type { CardStatus, PinPurpose, PinRequest as ApiPinRequest } from '../../api';
import { ApiError } from '../../api';
import {
  CardServiceClient,
  nodeServiceLauncher,
  type ServiceLauncher,
} from '../../native/card-service/client';
import type { CardStatusInfo } from '../../native/card-service/protocol';
import type { PinRequest } from '../../native/piv/card-keys';
import type { EcdhDecryptor, RsaDecryptor } from '../../smime/keys';
import { readCertInfo } from '../../smime/chain';
import type { EventHub } from '../events';
import { cardApiError } from './errors';

/**
 * The staff card as the client sees it: owns the card service process (native/card-service,
 * started on first use), turns its PIN prompts into `pin.requested` events answered by
 * `pin.answer`/`pin.cancel`, and reports `card.changed` on insert, removal, lock and after every
 * PIN use. A PIN is never retried: a wrong one fails the operation with the tries left.
 *
 * States: `no-reader`, `no-card`, `unknown-card` (no 9C certificate), `blocked` (PIN blocked),
 * `locked` (card present, the PIN will be asked at the next operation) and `ready` (the service
 * holds the PIN: the next operations in this action need no prompt). The service's PinCache
 * clears the PIN on removal, pcscd loss, `lock()` and after `pinTtlMs` of idleness.
 */
export interface CardSessionOptions {
  /** How the card service is started: `child_process.fork` (default) or Electron's utilityProcess. */
  launcher?: ServiceLauncher;
  /** Environment for the default Node launcher (tests pass the private pcscd's socket). */
  env?: NodeJS.ProcessEnv;
  /** Idle PIN cache lifetime in the service (default 5 minutes; 0 = prompt for every operation). */
  pinTtlMs?: number;
  /** Deadline of one card request, PIN entry excluded (default 30 s). */
  requestTimeoutMs?: number;
}

interface PendingPin {
  request: ApiPinRequest;
  resolve: (pin: string | null) => void;
}

const PURPOSE_TEXT: Record<PinRequest['purpose'], string> = {
  sign: 'Sign with your staff card',
  decrypt: 'Open an encrypted message with your staff card',
};

export class CardSession {
  private client: CardServiceClient | undefined;
  private readonly pending = new Map<string, PendingPin>();
  /** Description of the user action in progress, for the PIN dialog ("Open … in INBOX"). */
  private action: string | undefined;
  /** Bumped on removal: an operation that saw its PIN prompt withdrawn by a removal reports "card removed". */
  private removals = 0;
  private lastStatus: string | undefined;
  private stopped = false;

  constructor(
    private readonly events: EventHub,
    private readonly opts: CardSessionOptions = {},
  ) {}

  /** Starts the card service (idempotent); called lazily by every method. */
  async start(): Promise<CardServiceClient> {
    if (this.stopped) throw new ApiError('CardUnavailable', 'The card service was stopped.');
    if (this.client) return this.client;
    const env: NodeJS.ProcessEnv = { ...(this.opts.env ?? process.env) };
    if (this.opts.pinTtlMs !== undefined) env.SSMAX_PIN_TTL_MS = String(this.opts.pinTtlMs);
    const launcher = this.opts.launcher ?? nodeServiceLauncher({ env });
    const client = new CardServiceClient(launcher, (req) => this.prompt(req), {
      requestTimeoutMs: this.opts.requestTimeoutMs,
    });
    this.client = client;
    client.on('insert', () => void this.announce());
    client.on('remove', () => {
      this.removals++;
      this.withdrawAll();
      void this.announce();
    });
    client.on('service-lost', () => {
      this.withdrawAll();
      void this.announce();
    });
    client.on('service-restored', () => void this.announce());
    client.on('restarted', () => void this.announce());
    try {
      await client.start();
    } catch (err) {
      this.client = undefined;
      client.stop();
      throw cardApiError(err, 'card.status');
    }
    return client;
  }

  async status(): Promise<CardStatus> {
    const client = await this.start();
    let info: CardStatusInfo;
    try {
      info = await client.status();
    } catch (err) {
      throw cardApiError(err, 'card.status');
    }
    return toCardStatus(info);
  }

  /** The raw card state (9C certificate included), for first launch's "address from the card". */
  addressSource(): { status(): Promise<CardStatusInfo> } {
    return { status: async () => (await this.start()).status() };
  }

  /** Open PIN requests (a window that opens late asks for them). */
  pendingPinRequests(): ApiPinRequest[] {
    return [...this.pending.values()].map((p) => p.request);
  }

  async answer(requestId: string, pin: string): Promise<void> {
    this.settle(requestId, pin, 'pin.answer');
  }

  async cancel(requestId: string): Promise<void> {
    this.settle(requestId, null, 'pin.cancel');
  }

  /** Forgets the PIN now (screen lock, "lock card" button); the next operation prompts again. */
  async lock(): Promise<void> {
    if (!this.client) return;
    await this.client.clearPin().catch(() => undefined);
    await this.announce();
  }

  /**
   * Runs one user action with the card: the PIN dialog shows `description`, errors come back as
   * typed ApiErrors (PinCancelled, WrongPin with tries left, PinBlocked, CardUnavailable), and
   * `card.changed` reports the PIN state afterwards.
   */
  async run<T>(
    method: string,
    description: string,
    op: (card: CardServiceClient) => Promise<T>,
  ): Promise<T> {
    const client = await this.start();
    const removalsBefore = this.removals;
    const previous = this.action;
    this.action = description;
    try {
      return await op(client);
    } catch (err) {
      throw cardApiError(err, method, { removed: this.removals !== removalsBefore });
    } finally {
      this.action = previous;
      void this.announce();
    }
  }

  /** The card's 9D key as the core's Decryptor (reads the certificate; no PIN until it is used). */
  openDecryptor(card: CardServiceClient): Promise<RsaDecryptor | EcdhDecryptor> {
    return card.openDecryptor();
  }

  /**
   * Asks the user for a PIN that is not the card's current one (enrollment: the new PIN) through the
   * same `pin.requested` dialog; null when cancelled. The PIN goes to the caller, never the cache.
   */
  requestPin(purpose: PinPurpose, description: string): Promise<string | null> {
    const requestId = randomUUID();
    const request: ApiPinRequest = { requestId, purpose, description };
    return new Promise((resolve) => {
      this.pending.set(requestId, { request, resolve });
      this.events.emit('pin.requested', request);
    });
  }

  stop(): void {
    this.stopped = true;
    this.withdrawAll();
    this.client?.stop();
    this.client = undefined;
  }

  private prompt(req: PinRequest): Promise<string | null> {
    const requestId = randomUUID();
    const purpose: PinPurpose = req.purpose;
    const request: ApiPinRequest = {
      requestId,
      purpose,
      description: this.action ?? PURPOSE_TEXT[req.purpose],
      ...(req.triesLeft === undefined ? {} : { triesLeft: req.triesLeft }),
    };
    return new Promise((resolve) => {
      this.pending.set(requestId, { request, resolve });
      this.events.emit('pin.requested', request);
    });
  }

  private settle(requestId: string, pin: string | null, method: string): void {
    const p = this.pending.get(requestId);
    if (!p)
      throw new ApiError('NotFound', 'There is no open PIN request with this id (answered, cancelled or withdrawn).', {
        method,
      });
    this.pending.delete(requestId);
    p.resolve(pin);
    this.events.emit('pin.closed', { requestId });
  }

  /** Card removed or pcscd gone: open prompts are withdrawn (the operation fails, nothing is retried). */
  private withdrawAll(): void {
    for (const [requestId, p] of this.pending) {
      this.pending.delete(requestId);
      p.resolve(null);
      this.events.emit('pin.closed', { requestId });
    }
  }

  /** Emits `card.changed` when the status differs from the last one announced. */
  private async announce(): Promise<void> {
    if (!this.client || this.stopped) return;
    let status: CardStatus;
    try {
      status = toCardStatus(await this.client.status());
    } catch {
      return;
    }
    const key = JSON.stringify(status);
    if (key === this.lastStatus) return;
    this.lastStatus = key;
    this.events.emit('card.changed', status);
  }
}

export function toCardStatus(info: CardStatusInfo): CardStatus {
  if (info.state === 'no-reader') return { state: 'no-reader' };
  if (info.state === 'no-card') return { state: 'no-card', reader: info.reader };
  const tries = info.triesLeft === undefined ? {} : { pinTriesLeft: info.triesLeft };
  if (!info.signatureCertificate) return { state: 'unknown-card', reader: info.reader, ...tries };
  const holder = holderOf(info.signatureCertificate);
  const state = info.blocked ? 'blocked' : info.pinCached ? 'ready' : 'locked';
  return { state, reader: info.reader, ...(holder ? { holder } : {}), ...tries };
}

function holderOf(der: Uint8Array): CardStatus['holder'] {
  try {
    const info = readCertInfo(der);
    const name = info.cert.subjectName.getField('CN')[0] ?? info.subject;
    const staffId = info.cert.subjectName.getField('2.5.4.5')[0];
    return { name, email: info.emails[0] ?? '', ...(staffId ? { staffId } : {}) };
  } catch {
    return undefined;
  }
}
