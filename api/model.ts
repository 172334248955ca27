import { z } from 'zod';

/**
 * The data that crosses the API: plain, serialisable shapes (structured-clone and JSON safe),
 * defined here and not imported from `smime/` or `client/`, because the renderer may import only
 * `api/`. Argument shapes are zod schemas (validated on every call by the main process and the
 * bridge); result shapes are TypeScript types (the main process is the trusted side).
 */

// ---------------------------------------------------------------- app and settings

export const LANGUAGES = ['ja', 'en'] as const;
export const languageSchema = z.enum(LANGUAGES);
export type Language = z.infer<typeof languageSchema>;

/** Where the API is being served from: the Electron preload, or the loopback bridge to a browser. */
export type RuntimeKind = 'electron' | 'bridge';

export interface AppInfo {
  name: 'SSMAX';
  version: string;
  runtime: RuntimeKind;
  /** Node/Electron/Chromium versions of the main process, for the About box and bug reports. */
  versions: { node: string; electron?: string; chrome?: string };
  platform: string;
  /** Problems found at start-up that the user should know about (e.g. a corrupt settings file). */
  notices: StartupNotice[];
}

export interface StartupNotice {
  /** `AccountsFileCorrupt`: accounts.json unreadable, kept aside, no accounts; `MailCacheRebuilt`: the mail cache could not be opened and is rebuilt from the server; `AccountPasswordUnavailable`: an account's saved password cannot be read here (OS keychain of the desktop app, or lost), so it is not connected. */
  code: 'SettingsFileCorrupt' | 'AccountsFileCorrupt' | 'MailCacheRebuilt' | 'AccountPasswordUnavailable';
  message: string;
  /** Where the unreadable original was kept, so IT can look at it. */
  keptAs?: string;
}

/** Persisted user settings. Every field has a default; the file on disk is validated on load. */
export const settingsSchema = z.object({
  language: languageSchema,
});
export type Settings = z.infer<typeof settingsSchema>;

export const settingsPatchSchema = settingsSchema.partial().strict();
export type SettingsPatch = z.infer<typeof settingsPatchSchema>;

// ---------------------------------------------------------------- accounts, folders, lists

const id = z.string().min(1).max(200);
export const accountIdSchema = id;
export type AccountId = string;

export interface Account {
  id: AccountId;
  email: string;
  displayName: string;
  /** The organisation from the pinned org bundle (SPEC §6); absent for an account added by hand before first launch pinned one. */
  org?: { name: string; domains: string[]; encryptionKeyFingerprint: string };
  /** Where the mail is read from (never the password). */
  imap?: { host: string; port: number; security: ImapSecurity; username: string };
}

/** `starttls` and `tls` verify the server certificate (system CAs or the pinned `caCertPem`); `none` only on loopback. */
export const IMAP_SECURITY = ['starttls', 'tls', 'none'] as const;
export type ImapSecurity = (typeof IMAP_SECURITY)[number];

/** Manual account entry: the address and its IMAP settings (the login is checked before it is saved). */
export const newAccountSchema = z
  .object({
    email: z.string().min(3).max(320),
    displayName: z.string().max(200).optional(),
    imap: z
      .object({
        host: z.string().min(1).max(255),
        port: z.number().int().min(1).max(65535),
        security: z.enum(IMAP_SECURITY),
        username: z.string().min(1).max(320),
        password: z.string().min(1).max(1000),
        /** PEM certificate to trust for this server instead of the system CAs (a private CA). */
        caCertPem: z.string().min(1).max(100_000).optional(),
      })
      .strict(),
  })
  .strict();
export type NewAccount = z.infer<typeof newAccountSchema>;

export type FolderRole = 'inbox' | 'sent' | 'drafts' | 'trash' | 'junk' | 'archive' | 'other';

export interface Folder {
  accountId: AccountId;
  path: string;
  name: string;
  role: FolderRole;
  unread: number;
  total: number;
}

export const folderRefSchema = z
  .object({ accountId: accountIdSchema, path: z.string().min(1).max(1000) })
  .strict();
export type FolderRef = z.infer<typeof folderRefSchema>;

export const messageRefSchema = folderRefSchema.extend({ uid: z.number().int().positive() }).strict();
export type MessageRef = z.infer<typeof messageRefSchema>;

export const messagePageQuerySchema = z
  .object({
    folder: folderRefSchema,
    /** Zero-based index of the first row; the list is sorted newest first. */
    offset: z.number().int().nonnegative(),
    limit: z.number().int().min(1).max(500),
    /** Server-side IMAP SEARCH text; empty or absent means the whole folder. */
    search: z.string().max(500).optional(),
    /**
     * The `nextCursor` of the previous page: continue after it (keyset paging, as fast at row
     * 100,000 as at row 1); `offset` is then only echoed back. Not combined with `search`.
     */
    cursor: z
      .string()
      .regex(/^[0-9]{1,16}:[0-9]{1,10}$/)
      .optional(),
  })
  .strict();
export type MessagePageQuery = z.infer<typeof messagePageQuerySchema>;

/** The one trust state shown per message (SPEC §5 "Client, receive"). */
export type TrustState = 'verified' | 'signed' | 'unsigned' | 'failed';

export interface MessageSummary {
  ref: MessageRef;
  from: { name: string; email: string };
  subject: string;
  date: string;
  unread: boolean;
  flagged: boolean;
  hasAttachments: boolean;
  /** Absent until the message has been opened once (it is encrypted to the card until then). */
  trust?: TrustState;
  /** Mail from outside SSMAX, delivered marked as such by the receiving org (SPEC §5); known once opened. */
  external: boolean;
  /** The S/MIME structure seen from the server's BODYSTRUCTURE, before opening. */
  smime: 'encrypted' | 'signed' | 'none';
}

export interface MessagePage {
  folder: FolderRef;
  offset: number;
  total: number;
  rows: MessageSummary[];
  /** Pass as `cursor` for the next page; absent on the last page. */
  nextCursor?: string;
}

// ---------------------------------------------------------------- open: the chain result

/**
 * The chain result as it crosses the API: a serialisable mirror of `MessageVerification` in
 * smime/chain/model.ts (SPEC §4–§5), which this folder may not import. The client maps the core's
 * result onto it (dates as ISO strings, bytes left behind); the words — states, roles, statuses,
 * reason codes — are the core's, so the UI never invents a state the core did not return.
 */
export type ChainLinkRole =
  | 'sender'
  | 'sending-org'
  | 'receiving-org'
  | 'single-org'
  | 'forwarder'
  | 'forwarder-org'
  | 'external-org'
  | 'additional-signer';
export type ChainLinkStatus = 'valid' | 'invalid' | 'untrusted' | 'revoked' | 'expired' | 'not-checked';

/** A reason code of the core (smime/chain README has the table) and one plain sentence. */
export interface ChainReason {
  code: string;
  message: string;
}

export interface CertificateSummary {
  subject: string;
  issuer: string;
  serialNumber: string;
  sha256: string;
  notBefore: string;
  notAfter: string;
  ssmaxRole?: string;
}

export interface ChainLink {
  /** ① sender, ② sending org, ③ receiving org, ④ ⑤ for forwards; see smime/chain/model.ts. */
  role: ChainLinkRole;
  status: ChainLinkStatus;
  /** The signer certificate's subject DN. */
  subject: string;
  /** rfc822Name of a person's certificate. */
  email?: string;
  /** dNSName(s) of an org certificate. */
  domains: string[];
  orgName?: string;
  staffId?: string;
  signingTime?: string;
  /** Leaf first, for "certificate details on demand". */
  path: CertificateSummary[];
  /** Why the link is not valid; empty when valid. */
  reasons: ChainReason[];
  /** Facts that do not change the status. */
  notes: ChainReason[];
}

export interface ChainResult {
  state: TrustState;
  /** Why the state is not `verified`; empty when verified. */
  reasons: ChainReason[];
  /** Non-fatal findings (e.g. a Subject that differs from the protected one). */
  warnings: ChainReason[];
  links: ChainLink[];
  displayedFrom?: { name: string; address: string };
  partiallySigned: boolean;
  /** Mail from outside SSMAX, marked so by the receiving org: never shown like member mail. */
  external: boolean;
  /** Outer authentication results for external mail (SPEC §5), as reported by the receiving org. */
  externalAuth?: { spf?: string; dkim?: string; dmarc?: string };
  /** Forwarded messages inside, each verified on its own. */
  forwards: ChainResult[];
}

export type Verdict = 'Safe' | 'Danger' | 'Unsupported' | 'Error';

export interface AttachmentInfo {
  index: number;
  name: string;
  size: number;
  mediaType: string;
  sha256: string;
  /** The verdicts attested by each org link that inspected it (SPEC §4 inspection attestation). */
  verdicts: { by: ChainLinkRole; verdict: Verdict; reason?: string }[];
  /** False for Danger: the client refuses to save it. */
  savable: boolean;
}

export interface OpenedMessage {
  ref: MessageRef;
  headers: { from: string; to: string[]; cc: string[]; subject: string; date: string; messageId: string };
  chain: ChainResult;
  /** Plain text body, if any. */
  text?: string;
  /** HTML already sanitized in the main process; shown in a sandboxed view with `script-src 'none'`. */
  html?: {
    sanitized: string;
    remoteContentBlocked: boolean;
    /** How many remote loads (images, CSS url(), srcset …) were removed; 0 when remote content was allowed. */
    remoteItemsBlocked: number;
  };
  attachments: AttachmentInfo[];
}

export const openOptionsSchema = z.object({ loadRemoteContent: z.boolean() }).strict();
export type OpenOptions = z.infer<typeof openOptionsSchema>;

export const attachmentRefSchema = z
  .object({ message: messageRefSchema, index: z.number().int().nonnegative() })
  .strict();
export type AttachmentRef = z.infer<typeof attachmentRefSchema>;

// ---------------------------------------------------------------- compose and send

const address = z.string().min(3).max(320);

/** One inline file, base64 (~25 MB of bytes); the bridge carries 16 MiB per call, so the UI caps the total lower. */
export const MAX_INLINE_ATTACHMENT_BASE64 = 34_000_000;
export const draftAttachmentSchema = z.union([
  z.object({ path: z.string().min(1).max(4096) }).strict(),
  z
    .object({
      name: z.string().min(1).max(255),
      contentBase64: z.string().max(MAX_INLINE_ATTACHMENT_BASE64).regex(/^[A-Za-z0-9+/]*={0,2}$/),
    })
    .strict(),
]);
export type DraftAttachment = z.infer<typeof draftAttachmentSchema>;

export const draftSchema = z
  .object({
    accountId: accountIdSchema,
    to: z.array(address).min(1).max(500),
    cc: z.array(address).max(500),
    subject: z.string().max(998),
    text: z.string().max(10_000_000),
    /**
     * Rich text (optional): bold, italic, lists, links. The main process keeps only those elements
     * (anything else, scripts included, is dropped) and derives the text/plain alternative from it.
     */
    html: z.string().max(10_000_000).optional(),
    /**
     * Either a path the main process reads (a file dialog under Electron), or the file's bytes
     * (base64) with its name, as a browser's file input / drag and drop gives them (no paths there).
     */
    attachments: z.array(draftAttachmentSchema).max(100),
    inReplyTo: messageRefSchema.optional(),
    /** Forward attaches the original as message/rfc822 with its chain (SPEC §4). */
    forwardOf: messageRefSchema.optional(),
    /** The user saw the PPAP warning and chose to send anyway. */
    acknowledgedPpap: z.boolean().optional(),
  })
  .strict();
export type Draft = z.infer<typeof draftSchema>;

export interface SendReceipt {
  outboxId: string;
  state: OutboxState;
}

export type OutboxState = 'queued' | 'submitting' | 'retrying' | 'sent' | 'failed';

export interface OutboxEntry {
  id: string;
  subject: string;
  to: string[];
  state: OutboxState;
  attempts: number;
  lastError?: string;
  nextAttemptAt?: string;
}

export interface PpapCheck {
  /** Attachments that look like password-protected archives. */
  suspicious: { path: string; reason: string }[];
}

// ---------------------------------------------------------------- card and PIN

export type CardState = 'no-reader' | 'no-card' | 'ready' | 'locked' | 'blocked' | 'unknown-card';

export interface CardStatus {
  state: CardState;
  reader?: string;
  holder?: { name: string; staffId?: string; email: string };
  /** PIN tries left, when the card tells. */
  pinTriesLeft?: number;
}

export type PinPurpose = 'sign' | 'decrypt' | 'enroll';

export interface PinRequest {
  requestId: string;
  purpose: PinPurpose;
  /** What the PIN is for, in the user's words: "Sign the mail to …". */
  description: string;
  triesLeft?: number;
}

export const pinRequestIdSchema = z.string().min(1).max(100);
/** PIV PINs are 6–8 characters (SP 800-73). */
export const pinSchema = z.string().min(6).max(8);

// ---------------------------------------------------------------- enrollment (IT mode)

export type EnrollmentStep =
  | 'insert-card'
  /** The node judges the one-time code for the address without spending it — before the card is touched. */
  | 'check-code'
  | 'initialise'
  | 'generate-keys'
  | 'request-certificates'
  | 'write-certificates'
  | 'check'
  | 'done';

/** A PIV management key as hex: 3DES/AES-192 (48 digits), AES-128 (32) or AES-256 (64). */
const managementKeyHex = z.string().regex(/^(?:[0-9a-fA-F]{32}|[0-9a-fA-F]{48}|[0-9a-fA-F]{64})$/);

export const enrollmentStartSchema = z
  .object({
    email: address,
    /** Shown in the summary; the certificate's subject comes from the org's member directory. */
    displayName: z.string().min(1).max(200),
    staffId: z.string().min(1).max(64),
    /** One-time code from the org CA that authorises this enrollment. */
    enrollmentCode: z.string().min(4).max(200),
    algorithm: z.enum(['rsa2048', 'p256']),
    /** The org node (https) whose enrollment API issues the certificates; default: the host of the pinned org bundle. */
    nodeUrl: z.string().url().startsWith('https://').max(2000).optional(),
    /**
     * The card's current secrets (default: PIV factory values — PIN 123456, PUK 12345678, management
     * key 010203…08 ×3) and the organisation's new PUK and management key (absent: kept). The new
     * PIN is never in the request: it is asked through `pin.requested` (purpose `enroll`).
     */
    card: z
      .object({
        currentPin: z.string().min(6).max(8).optional(),
        currentPuk: z.string().min(6).max(8).optional(),
        currentManagementKey: managementKeyHex.optional(),
        newPuk: z.string().min(6).max(8).optional(),
        newManagementKey: managementKeyHex.optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
export type EnrollmentRequest = z.infer<typeof enrollmentStartSchema>;

export interface EnrollmentProgress {
  enrollmentId: string;
  step: EnrollmentStep;
  /**
   * Set when the step failed. Codes: `no-card`, `wrong-card` (the card refused the current
   * management key or PIN: not factory-fresh / not this org's), `pin-blocked`, `pin-cancelled`,
   * `ca-unreachable`, `code-refused` (one-time code unknown, used or expired, or not for this
   * address: normally at `check-code`, the card untouched; at `request-certificates` only when the
   * code was spent in between), `refused` (the node
   * refused the requests), `bad-answer` (the issued certificates failed the checks; nothing written),
   * `check-failed`, `cancelled`, `no-org` (no node URL and no pinned org bundle), `card-failed`.
   */
  error?: { code: string; message: string };
  /** With `done`: the serial numbers of the certificates now on the card. */
  certificates?: { signatureSerial: string; keyManagementSerial: string };
}

export const enrollmentIdSchema = z.string().min(1).max(100);

// ---------------------------------------------------------------- contacts

/** A recipient completion: an address seen in the cached mail (as sender or recipient). */
export interface ContactSuggestion {
  name: string;
  address: string;
}

/** What the user has typed of a recipient so far. */
export const contactPrefixSchema = z.string().max(320);

// ---------------------------------------------------------------- report

export interface ReportReceipt {
  /** The abuse desk's reference for follow-up. */
  id: string;
  /** The desk's state of the report (e.g. "open"). */
  state: string;
}

/** Why the user reports a message (free text, required by the abuse desk). */
export const reportReasonSchema = z.string().trim().min(1).max(4000);

// ---------------------------------------------------------------- org (first launch, SPEC §6)

export type OrgState = 'none' | 'pinned' | 'offline' | 'refresh-refused' | 'expired';

/** The org as pinned from its verified bundle: what first launch shows the user to confirm. */
export interface OrgInfo {
  name: string;
  domains: string[];
  /** SHA-256 of the org encryption certificate mail is encrypted to now (the newest), `AB:CD:…`. */
  encryptionKeyFingerprint: string;
  /** SHA-256 of the org CA certificate, `AB:CD:…`. */
  orgCaFingerprint: string;
  version: number;
  expiresAt: string;
}

/**
 * The pinned org bundle: `none` (first launch not done), `pinned`, `offline` (the bundle host cannot
 * be reached; the pinned bundle is used), `refresh-refused` (the host served a bundle that failed
 * verification — rollback, another org CA …; the pinned one is kept), `expired` (the pin is no longer valid).
 */
export interface OrgStatus {
  state: OrgState;
  /** Before first launch: the address found in the provisioning file or on the card. */
  suggestedAddress?: string;
  address?: string;
  org?: OrgInfo;
  /** Mail settings from the bundle (SMTP submission) and the provisioning file (IMAP); absent IMAP: manual entry. */
  mail?: { imap?: { host: string; port: number; security: 'tls' | 'starttls' }; smtp: { host: string; port: number } };
  lastRefreshAt?: string;
  problem?: { code: 'offline' | 'rejected'; reason?: string; message: string };
}

/** A background refresh did not replace the pinned bundle (loud when `rejected`). */
export interface OrgRefreshFailure {
  code: 'offline' | 'rejected' | 'expired';
  /** The verifier's reason for `rejected`: `rolled-back`, `not-signed-by-org`, `signature-invalid`, … */
  reason?: string;
  message: string;
  keptVersion: number;
}

// ---------------------------------------------------------------- events

export interface SyncProgress {
  accountId: AccountId;
  folder?: string;
  done: number;
  total: number;
  state: 'idle' | 'syncing' | 'offline' | 'error';
  message?: string;
}
