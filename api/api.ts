import type {
  Account,
  AccountId,
  AppInfo,
  AttachmentRef,
  CardStatus,
  ContactSuggestion,
  Draft,
  EnrollmentProgress,
  EnrollmentRequest,
  Folder,
  MessagePage,
  MessagePageQuery,
  MessageRef,
  NewAccount,
  OpenOptions,
  OpenedMessage,
  OutboxEntry,
  PinRequest,
  PpapCheck,
  OrgRefreshFailure,
  OrgStatus,
  ReportReceipt,
  SendReceipt,
  Settings,
  SettingsPatch,
  StartupNotice,
  SyncProgress,
} from './model';

/**
 * The typed application API between the UI and the main process — everything issues 7 and 8
 * need, grouped by namespace. One interface, implemented once by the client's service host and
 * reached from the UI through two transports with identical behaviour: Electron IPC (preload) and
 * the loopback bridge (WebSocket). Which methods this build really implements is said by the
 * channel table (`channels.ts`); the others answer a `NotAvailableYet` error, never made-up data.
 *
 * Rules for methods (so every transport can carry them): arguments and results are plain data,
 * at most a few arguments, validated by the schema in the channel table; failures are `ApiError`.
 */
export interface SsmaxApi {
  app: {
    info(): Promise<AppInfo>;
  };
  settings: {
    get(): Promise<Settings>;
    /** Changes some settings; returns the settings as now persisted. */
    update(patch: SettingsPatch): Promise<Settings>;
  };
  accounts: {
    list(): Promise<Account[]>;
    /** Adds an account by hand (address and IMAP settings); the login is checked first, then it syncs. */
    add(account: NewAccount): Promise<Account>;
    /** Removes an account from this computer (connection, saved password, cached mail); the server's mail is untouched. Unknown id → `NotFound`. */
    remove(accountId: AccountId): Promise<void>;
    /** First launch: find the org for this address (card certificate or provisioning file), fetch and verify its bundle. */
    discover(email: string): Promise<Account>;
    /**
     * Pins the discovered org bundle after the user confirmed name and fingerprint. With the IMAP
     * password (and IMAP settings from IT's provisioning file) it also creates the mail account —
     * login checked first; `LoginFailed` pins nothing. Without it: pinned only, and the returned
     * account carries the prefilled `imap` settings for `accounts.add`.
     */
    confirm(accountId: AccountId, imapPassword?: string): Promise<Account>;
  };
  folders: {
    list(accountId: AccountId): Promise<Folder[]>;
  };
  messages: {
    page(query: MessagePageQuery): Promise<MessagePage>;
    /** Decrypts through the card (may raise a PIN request) and verifies the chain. */
    open(ref: MessageRef, options: OpenOptions): Promise<OpenedMessage>;
    setFlags(ref: MessageRef, flags: { seen?: boolean; flagged?: boolean }): Promise<void>;
    /** Saves an attachment through a save dialog; refused for Danger. */
    saveAttachment(ref: AttachmentRef): Promise<{ savedTo: string } | null>;
  };
  compose: {
    /** Looks for password-protected archives among the attachments before sending (PPAP warning). */
    checkPpap(draft: Draft): Promise<PpapCheck>;
    /** Signs on the card, encrypts to the org key and puts the mail in the durable outbox. */
    send(draft: Draft): Promise<SendReceipt>;
  };
  outbox: {
    list(): Promise<OutboxEntry[]>;
    /** Submits a failed or waiting entry again now (after the user fixed the cause). */
    retry(outboxId: string): Promise<OutboxEntry>;
  };
  contacts: {
    /** Recipient completion from the cached mail (senders and recipients of every account), most frequent first, at most 20; empty prefix → none. */
    suggest(prefix: string): Promise<ContactSuggestion[]>;
  };
  card: {
    status(): Promise<CardStatus>;
  };
  pin: {
    /** Answers a `pin.requested` event. Never retried automatically on a wrong PIN. */
    answer(requestId: string, pin: string): Promise<void>;
    cancel(requestId: string): Promise<void>;
  };
  enrollment: {
    start(request: EnrollmentRequest): Promise<EnrollmentProgress>;
    cancel(enrollmentId: string): Promise<void>;
  };
  org: {
    /** The pinned org bundle (or, before first launch, the address found for it). */
    status(): Promise<OrgStatus>;
    /** Refreshes the pinned bundle now (also done in the background). */
    refresh(): Promise<OrgStatus>;
  };
  report: {
    /** Sends the complete signed message, with the user's reason, to the org's abuse desk (SPEC §8). */
    malicious(ref: MessageRef, reason: string): Promise<ReportReceipt>;
  };
}

/** Events pushed from the main process to the UI. */
export interface SsmaxEvents {
  'settings.changed': Settings;
  'app.notice': StartupNotice;
  'card.changed': CardStatus;
  'pin.requested': PinRequest;
  /** The request was answered, cancelled or withdrawn (card removed): close the dialog. */
  'pin.closed': { requestId: string };
  'sync.progress': SyncProgress;
  'outbox.changed': OutboxEntry[];
  'enrollment.progress': EnrollmentProgress;
  /** The pinned org bundle changed (pinned, rolled over, offline …). */
  'org.changed': OrgStatus;
  /** A refresh was refused or could not reach the host; the pinned bundle is kept. */
  'org.refreshFailed': OrgRefreshFailure;
}

export type SsmaxEventName = keyof SsmaxEvents;
export type Unsubscribe = () => void;

/** Subscribing to events; separate from `SsmaxApi` because events are not request/response. */
export interface SsmaxEventSource {
  on<E extends SsmaxEventName>(event: E, listener: (payload: SsmaxEvents[E]) => void): Unsubscribe;
}

/** What the UI holds: the methods and the events, whichever transport carries them. */
export interface SsmaxClient extends SsmaxApi {
  events: SsmaxEventSource;
}

// ---------------------------------------------------------------- method paths

type Namespace = keyof SsmaxApi;
/** `"settings.update"` and friends: every method of the interface as `namespace.method`. */
export type MethodPath = { [N in Namespace]: `${N}.${Extract<keyof SsmaxApi[N], string>}` }[Namespace];

type NamespaceOf<P extends MethodPath> = P extends `${infer N}.${string}` ? N & Namespace : never;
type NameOf<P extends MethodPath> = P extends `${string}.${infer M}` ? M : never;
type Method<P extends MethodPath> = SsmaxApi[NamespaceOf<P>][NameOf<P> & keyof SsmaxApi[NamespaceOf<P>]];
export type MethodArgs<P extends MethodPath> = Method<P> extends (...args: infer A) => unknown ? A : never;
export type MethodResult<P extends MethodPath> =
  Method<P> extends (...args: never[]) => Promise<infer R> ? R : never;
