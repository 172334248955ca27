import { ApiError, type Draft, type MessageRef, type OutboxEntry, type PpapCheck, type SendReceipt } from '../../api';
import { Outbox, type OutboxOptions, type SentStore } from './outbox';
import { checkPpap, composeAndSeal, readAttachments, type SealKeys } from './seal';
import { smtpSubmitter, type SmtpSubmission } from './smtp';

/**
 * `compose.checkPpap`, `compose.send`, `outbox.list`, `outbox.retry` and the `outbox.changed`
 * event. What it needs from the rest of the client is passed in as functions, so tests can put a
 * software signer and a fixed org certificate behind the same interface as the card and the
 * pinned org bundle.
 */
export interface ComposeAccount {
  /** The sender's address (From, MAIL FROM). */
  email: string;
  /** The name shown in From (the account's); omitted or equal to the address: the bare address. */
  displayName?: string;
  /** SMTP AUTH credentials (the account's). */
  user: string;
  pass: string;
}

export interface ComposeOrg {
  /** The org encryption certificate in effect (newest on rollover), DER. */
  encryptionCertificate: Uint8Array;
  /** Submission host and port (the bundle's, or the provisioning file's). */
  smtp: { host: string; port: number };
  /** PEM CA to trust for the submission server's TLS (else the system CAs). */
  smtpCaPem?: string;
  /** Carried in the signature so any S/MIME client can build the path (the org CA). */
  chainCertificates?: readonly Uint8Array[];
}

export interface ComposeDeps {
  dataDir: string;
  /** The account a draft is sent from; throws `NotFound` for an unknown id. */
  account(accountId: string): Promise<ComposeAccount>;
  /** The pinned org; throws when there is none (nothing to encrypt to). */
  org(): Promise<ComposeOrg>;
  /**
   * Runs `op` with the card's keys for one user action ("Sign the mail to …"): 9C signer and 9D
   * certificate. Card errors come back as typed ApiErrors (PinCancelled, WrongPin, PinBlocked,
   * CardUnavailable).
   */
  withCard<T>(description: string, op: (keys: () => Promise<SealKeys>) => Promise<T>): Promise<T>;
  /** The exact bytes of a message in the mailbox (IMAP), for replies and forwards; `undefined` when the UID is gone. */
  fetchOriginal?: (ref: MessageRef) => Promise<Uint8Array | undefined>;
  /** Stores the Sent copy (IMAP APPEND); absent: the Sent copy is not stored. */
  storeSent?: SentStore;
  onChanged?: (entries: OutboxEntry[]) => void;
  now?: () => Date;
  retryDelayMs?: OutboxOptions['retryDelayMs'];
  /** SMTP deadlines (tests). */
  smtpTimeouts?: Pick<SmtpSubmission, 'connectionTimeoutMs' | 'socketTimeoutMs'>;
}

export class ComposeService {
  private constructor(
    private readonly deps: ComposeDeps,
    readonly outbox: Outbox,
  ) {}

  static async open(deps: ComposeDeps): Promise<ComposeService> {
    const outbox = await Outbox.open({
      dataDir: deps.dataDir,
      ...(deps.storeSent ? { storeSent: deps.storeSent } : {}),
      ...(deps.retryDelayMs ? { retryDelayMs: deps.retryDelayMs } : {}),
      ...(deps.now ? { now: deps.now } : {}),
      onChanged: (entries) => deps.onChanged?.(entries),
      // The submission settings are looked up at each attempt (the org may have rolled over, the password changed).
      submit: (envelope, raw, meta) =>
        smtpSubmitter(async () => {
          const [org, account] = await Promise.all([deps.org(), deps.account(meta.accountId)]);
          return {
            host: org.smtp.host,
            port: org.smtp.port,
            user: account.user,
            pass: account.pass,
            ...(org.smtpCaPem ? { caPem: org.smtpCaPem } : {}),
            ...deps.smtpTimeouts,
          };
        })(envelope, raw, meta),
    });
    return new ComposeService(deps, outbox);
  }

  start(): void {
    this.outbox.start();
  }

  close(): Promise<void> {
    return this.outbox.close();
  }

  async checkPpap(draft: Draft): Promise<PpapCheck> {
    return checkPpap(await readAttachments(draft, 'compose.checkPpap'));
  }

  /**
   * PPAP gate → card (sign 9C, 9D certificate) → seal → durable outbox. Returns once the message is
   * on disk. On any failure before that, nothing is queued and the draft stays with the UI.
   */
  async send(draft: Draft): Promise<SendReceipt> {
    const account = await this.deps.account(draft.accountId);
    const org = await this.deps.org();
    const files = await readAttachments(draft);
    const original = await this.original(draft);
    const recipients = [...draft.to, ...draft.cc];
    const description = `Sign the mail to ${recipients.slice(0, 3).join(', ')}${recipients.length > 3 ? ', …' : ''}`;
    const sealed = await this.deps.withCard(description, (keys) =>
      composeAndSeal(draft, files, keys, {
        from: account.email,
        ...(account.displayName && account.displayName !== account.email ? { fromName: account.displayName } : {}),
        orgEncryptionCertificate: org.encryptionCertificate,
        ...(org.chainCertificates ? { chainCertificates: org.chainCertificates } : {}),
        ...(original ? { original } : {}),
        ...(this.deps.now ? { now: this.deps.now } : {}),
      }),
    );
    let entry: OutboxEntry;
    try {
      entry = await this.outbox.enqueue(sealed, draft.accountId);
    } catch (cause) {
      throw new ApiError('StorageFailed', `The message could not be saved in the outbox: ${(cause as Error).message}. It was not sent; the draft is kept.`, { method: 'compose.send', cause });
    }
    return { outboxId: entry.id, state: entry.state };
  }

  /** The message a reply or forward refers to, fetched before the card is asked (a missing one costs no PIN). */
  private async original(draft: Draft): Promise<{ kind: 'reply' | 'forward'; raw: Uint8Array } | undefined> {
    if (draft.inReplyTo && draft.forwardOf)
      throw new ApiError('InvalidArguments', 'A draft is either a reply or a forward, not both.', { method: 'compose.send' });
    const ref = draft.inReplyTo ?? draft.forwardOf;
    if (!ref) return undefined;
    if (!this.deps.fetchOriginal)
      throw new ApiError('Refused', 'Replies and forwards need the mailbox, which this client has not connected.', { method: 'compose.send' });
    const raw = await this.deps.fetchOriginal(ref);
    if (raw === undefined)
      throw new ApiError('NotFound', `The original message (UID ${ref.uid} in ${ref.path}) is no longer there; the draft is kept.`, { method: 'compose.send' });
    return { kind: draft.inReplyTo ? 'reply' : 'forward', raw };
  }

  list(): OutboxEntry[] {
    return this.outbox.list();
  }

  async retry(id: string): Promise<OutboxEntry> {
    const e = await this.outbox.retry(id);
    if (!e) throw new ApiError('NotFound', `No outbox entry ${id}.`, { method: 'outbox.retry' });
    return e;
  }
}
