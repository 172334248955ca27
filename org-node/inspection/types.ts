import type { Verdict } from '../../smime/cms';

export type { Verdict };

/** Which way the mail goes through this node: leak rules apply to outbound mail only. */
export type Direction = 'outbound' | 'inbound';

/**
 * Why a part is not Safe. Stable codes: the UI translates them, the attestation carries them as the
 * first word of each reason (`<code>: <English text>`). Table in README.md.
 */
export const REASON_CODES = {
  malware: 'Danger',
  'disguised-executable': 'Danger',
  'double-extension': 'Danger',
  'bidi-control-in-name': 'Danger',
  'leak-my-number': 'Danger',
  'leak-card-number': 'Danger',
  'leak-confidential-label': 'Danger',
  /** Default verdict; `macros: 'danger'` makes it Danger. */
  'office-macros': 'Unsupported',
  'encrypted-archive': 'Unsupported',
  'encrypted-document': 'Unsupported',
  'archive-not-inspectable': 'Unsupported',
  'archive-too-deep': 'Unsupported',
  'archive-too-large': 'Unsupported',
  'too-large-to-scan': 'Unsupported',
  'scanner-unavailable': 'Error',
  'scanner-error': 'Error',
  'malformed-content': 'Error',
} as const satisfies Record<string, Exclude<Verdict, 'Safe'>>;

export type ReasonCode = keyof typeof REASON_CODES;

/** What a leak finding asks for: block (Danger → reject by default) or hold for review. */
export type LeakAction = 'block' | 'hold';

/** One reason a part is not Safe. `message` is English, one line, and never holds a full secret number. */
export interface Finding {
  readonly code: ReasonCode;
  readonly verdict: Exclude<Verdict, 'Safe'>;
  readonly message: string;
  /** Path inside an archive ("docs/a.txt", nested: "inner.zip/a.txt"); absent for the part itself. */
  readonly location?: string;
  /** clamd signature name for `malware`. */
  readonly signature?: string;
  /** Leak rule that matched (e.g. "my-number", "card-number", "label:社外秘"). */
  readonly rule?: string;
  /** For leak findings: what the configured rule asks the policy to do. */
  readonly action?: LeakAction;
}

/** One inspected MIME leaf (attachment or body text), or the message headers when they leak. */
export interface PartReport {
  /** MIME path as in smime/mime ('' root, '1', '2.1', '2.msg.1'); 'headers' for the header pseudo-part. */
  readonly path: string;
  readonly kind: 'body' | 'attachment' | 'headers';
  /** Decoded display file name; '' for body text and unnamed parts. */
  readonly name: string;
  /** Declared media type (lower case). */
  readonly contentType: string;
  /** Size of the decoded bytes. */
  readonly size: number;
  /** SHA-256 of the decoded bytes (32 bytes). */
  readonly sha256: Uint8Array;
  readonly sha256Hex: string;
  /** Worst verdict of the findings, Safe when there are none. */
  readonly verdict: Verdict;
  readonly findings: readonly Finding[];
}

export interface InspectionReport {
  readonly direction: Direction;
  /** Worst verdict over all parts (VERDICT_ORDER). */
  readonly verdict: Verdict;
  /** Scanner engine, e.g. "ClamAV 1.0.7"; "ClamAV (unreachable)" when clamd did not answer. */
  readonly engine: string;
  /**
   * Signature database version as clamd reports it, e.g. "27450/Thu Nov 19 08:00:00 2026";
   * "unversioned" when clamd runs without an official database (local signatures only); "unknown"
   * when clamd did not answer.
   */
  readonly signatureDb: string;
  /** This engine's own rules version (name checks, PPAP, leak rules). */
  readonly inspector: string;
  readonly inspectedAt: Date;
  readonly parts: readonly PartReport[];
}

/** Outbound leak rules. Every field optional; see DEFAULT_LEAK_RULES. */
export interface LeakRules {
  /** Japanese individual number (マイナンバー): 12 digits whose last is the check digit. Default true. */
  readonly myNumber?: boolean;
  /** Payment card numbers: known IIN ranges and lengths, Luhn. Default true. */
  readonly cardNumbers?: boolean;
  /**
   * Confidentiality labels, matched after NFKC normalisation (full-width letters count); ASCII
   * labels match case-sensitively as whole words. Default ["社外秘", "極秘", "CONFIDENTIAL"].
   */
  readonly labels?: readonly string[];
  /** What a leak asks for: 'block' (Danger, rejected by default policy) or 'hold' (Danger, held for review). Default 'block'. */
  readonly action?: LeakAction;
}

export interface InspectionLimits {
  /** Nested archive levels opened (an attached ZIP is level 1). Default 3. */
  readonly maxArchiveDepth?: number;
  /** Entries listed per archive. Default 1000. */
  readonly maxArchiveEntries?: number;
  /** Largest single entry extracted, in bytes. Default 50 MiB. */
  readonly maxEntryBytes?: number;
  /** Total bytes extracted from archives per message. Default 200 MiB. */
  readonly maxExpandedBytes?: number;
  /** Largest uncompressed/compressed ratio of an entry (ZIP bombs). Default 200. */
  readonly maxCompressionRatio?: number;
  /** Text scanned for leaks per part, in characters. Default 10 M. */
  readonly maxLeakScanChars?: number;
  /** clamd idle timeout in ms. Default 30 000. */
  readonly clamdIdleTimeoutMs?: number;
}

export const DEFAULT_LIMITS: Required<InspectionLimits> = {
  maxArchiveDepth: 3,
  maxArchiveEntries: 1000,
  maxEntryBytes: 50 * 1024 * 1024,
  maxExpandedBytes: 200 * 1024 * 1024,
  maxCompressionRatio: 200,
  maxLeakScanChars: 10_000_000,
  clamdIdleTimeoutMs: 30_000,
};
