/**
 * RFC 9788 header protection ("injected headers").
 *
 * Sending: the protected header fields (From, To, Cc, Subject, Date, Message-ID …) are placed on the
 * root of the cryptographic payload, whose Content-Type carries hp="cipher" (signed and encrypted)
 * or hp="clear" (signed only). For encrypted mail the outer header section is derived by a header
 * confidentiality policy (hcp_baseline: Subject becomes "[...]") and every outer field is recorded
 * inside as an HP-Outer field, so the recipient can tell a deliberate change from tampering.
 *
 * No legacy display element (hp-legacy-display) is produced: the first hop of every SSMAX message is
 * the organisation node, which understands header protection, and RFC 9788 §4.5 recommends
 * omitting it when the recipient is known to be HP-aware. Received ones are recognised and reported
 * so the client can hide them.
 *
 * Receiving: extractProtectedHeaders() reads the payload root, compareHeaders() compares each
 * protected field with the outer header section, per header, so the client can warn.
 */
import addressparser from 'nodemailer/lib/addressparser';
import {
  buildContentEntity,
  encodeHeaderValue,
  messageHeaderList,
  type BuildOptions,
  type ContentInput,
  type HeaderInput,
  type MessageHeaders,
} from './build';
import { decodeWords, MimeHeaders } from './headers';
import { walkEntities, type MimeEntity } from './parse';

export type HeaderProtectionMode = 'cipher' | 'clear';

/**
 * Header confidentiality policy (RFC 9788 §3.2): `baseline` obscures the Subject as "[...]" and
 * removes Comments and Keywords (hcp_baseline); `none` keeps every field (hcp_no_confidentiality). Only applies to `cipher`.
 */
export type HeaderConfidentialityPolicy = 'baseline' | 'none';

/** The header fields SSMAX protects and compares (SPEC §5). */
export const PROTECTED_HEADER_NAMES = [
  'From',
  'To',
  'Cc',
  'Reply-To',
  'Subject',
  'Date',
  'Message-ID',
] as const;

export const OBSCURED_SUBJECT = '[...]';

export interface ProtectedPayload {
  /** The cryptographic payload entity (CRLF-canonical), ready to be signed. */
  entity: Buffer;
  /** The header fields to put on the outermost message (after the policy is applied). */
  outerHeaders: HeaderInput[];
}

function applyPolicy(
  headers: HeaderInput[],
  mode: HeaderProtectionMode,
  policy: HeaderConfidentialityPolicy,
): HeaderInput[] {
  if (mode === 'clear' || policy === 'none') return headers;
  // hcp_baseline (RFC 9788 §3.2.1): Subject obscured, Comments and Keywords removed, the rest as is.
  return headers
    .filter((h) => !['comments', 'keywords'].includes(h.name.toLowerCase()))
    .map((h) => (h.name.toLowerCase() === 'subject' ? { name: h.name, value: OBSCURED_SUBJECT } : h));
}

/**
 * Build the cryptographic payload with protected headers, and the outer header fields to use.
 * For `cipher`, the payload lists every outer field as `HP-Outer: Name: value` (RFC 9788 §2.2).
 */
export async function buildProtectedPayload(
  headers: MessageHeaders,
  content: ContentInput,
  mode: HeaderProtectionMode,
  options: BuildOptions & { policy?: HeaderConfidentialityPolicy } = {},
): Promise<ProtectedPayload> {
  const inner = messageHeaderList(headers);
  const outerHeaders = applyPolicy(inner, mode, options.policy ?? 'baseline');
  const rootHeaders: HeaderInput[] = [...inner];
  if (mode === 'cipher') {
    for (const h of outerHeaders) {
      // The outer value is encoded on its own so the field name in front of it stays readable ASCII.
      rootHeaders.push({ name: 'HP-Outer', value: `${h.name}: ${encodeHeaderValue(h)}` });
    }
  }
  const entity = await buildContentEntity(content, { ...options, rootParams: { hp: mode }, rootHeaders });
  return { entity, outerHeaders };
}

export interface HpOuterField {
  readonly name: string;
  readonly value: string;
}

export interface ProtectedHeaders {
  readonly mode: HeaderProtectionMode;
  /** The protected header fields (payload root minus Content-*, MIME-Version and HP-Outer). */
  readonly headers: MimeHeaders;
  /** HP-Outer fields: what the sender says the outer header section contained (cipher only). */
  readonly hpOuter: readonly HpOuterField[];
  /** Parts marked hp-legacy-display="1": a copy of the headers for old clients, not content. */
  readonly legacyDisplayParts: readonly MimeEntity[];
  /**
   * Protected fields that occur more than once although RFC 5322 allows one (From, Subject …):
   * ambiguous, since different readers pick different ones. Treat as a failure.
   */
  readonly duplicates: readonly string[];
  /**
   * True when hp="cipher" is claimed by a payload that was not decrypted, or hp="clear" by one
   * that was (RFC 9788 §4: the hp value must match the cryptographic envelope). Only computed when
   * extractProtectedHeaders is told whether the payload was encrypted.
   */
  readonly envelopeMismatch: boolean;
}

const SINGLE_FIELDS = [
  'from',
  'sender',
  'reply-to',
  'to',
  'cc',
  'subject',
  'date',
  'message-id',
  'in-reply-to',
  'references',
];

const STRUCTURAL = /^(content-|mime-version$|hp-outer$)/;

/**
 * Protected headers of a cryptographic payload (the signed part of multipart/signed, or the root of
 * a decrypted / unwrapped entity). Undefined when the payload carries no hp parameter: then nothing
 * in the header section is protected. Pass `encrypted` (whether the payload came out of an
 * enveloped/authEnveloped layer) to have a contradicting hp value reported in `envelopeMismatch`.
 */
export function extractProtectedHeaders(
  payloadRoot: MimeEntity,
  context: { encrypted?: boolean } = {},
): ProtectedHeaders | undefined {
  const hp = payloadRoot.contentType.params['hp']?.toLowerCase();
  if (hp !== 'cipher' && hp !== 'clear') return undefined;
  const fields = payloadRoot.headers.fields.filter((f) => !STRUCTURAL.test(f.key));
  const hpOuter: HpOuterField[] = [];
  if (hp === 'cipher') {
    for (const v of payloadRoot.headers.getAll('hp-outer')) {
      const colon = v.indexOf(':');
      if (colon > 0) hpOuter.push({ name: v.slice(0, colon).trim(), value: v.slice(colon + 1).trim() });
    }
  }
  const legacyDisplayParts: MimeEntity[] = [];
  for (const e of walkEntities(payloadRoot)) {
    if (e.contentType.type === 'text' && e.contentType.params['hp-legacy-display'] === '1')
      legacyDisplayParts.push(e);
  }
  const headers = new MimeHeaders(fields);
  const duplicates = SINGLE_FIELDS.filter((name) => headers.count(name) > 1);
  const envelopeMismatch = context.encrypted === undefined ? false : context.encrypted !== (hp === 'cipher');
  return { mode: hp, headers, hpOuter, legacyDisplayParts, duplicates, envelopeMismatch };
}

export type HeaderComparisonStatus = 'match' | 'differs' | 'missing-outer' | 'missing-inner';

export interface HeaderComparison {
  readonly name: string;
  readonly status: HeaderComparisonStatus;
  /** Protected value, decoded for display. */
  readonly inner?: string;
  /** Outer (unprotected) value, decoded for display. */
  readonly outer?: string;
  /**
   * Encrypted mail only: true when the outer state is exactly what the sender recorded in HP-Outer
   * (a deliberate change such as Subject "[...]", or a removal), false when it is not (changed in
   * transit). Undefined for signed-only mail, where any difference is unexplained.
   */
  readonly declaredBySender?: boolean;
}

const ADDRESS_HEADERS = new Set(['from', 'to', 'cc', 'bcc', 'reply-to', 'sender']);

/** Comparable form: addresses by mailbox (case-insensitive address, decoded name), dates by instant. */
function normalise(name: string, value: string): string {
  const key = name.toLowerCase();
  if (ADDRESS_HEADERS.has(key)) {
    const list = addressparser(value, { flatten: true });
    return list
      .map(
        (a) =>
          `${decodeWords(a.name ?? '')
            .replace(/\s+/g, ' ')
            .trim()} <${(a.address ?? '').trim().toLowerCase()}>`,
      )
      .join(', ');
  }
  if (key === 'date') {
    const t = Date.parse(value);
    if (!Number.isNaN(t)) return new Date(t).toISOString();
  }
  if (key === 'message-id') return value.replace(/\s+/g, '');
  return decodeWords(value).replace(/\s+/g, ' ').trim();
}

/**
 * Compare the protected header fields with the outer header section, field by field.
 * The client shows the protected values; any result other than `match` without
 * `declaredBySender` deserves a warning. With `undefined` (a payload without header protection)
 * every outer field comes back as `missing-inner`: shown, but not protected.
 */
export function compareHeaders(
  protectedHeaders: ProtectedHeaders | undefined,
  outer: MimeHeaders,
  names: readonly string[] = PROTECTED_HEADER_NAMES,
): HeaderComparison[] {
  const result: HeaderComparison[] = [];
  for (const name of names) {
    // Without header protection nothing is protected: every outer field is reported as such.
    const innerRaw = protectedHeaders?.headers.getAll(name) ?? [];
    const outerRaw = outer.getAll(name);
    if (innerRaw.length === 0 && outerRaw.length === 0) continue;
    const inner = innerRaw.join(', ');
    const outerValue = outerRaw.join(', ');
    let declaredBySender: boolean | undefined;
    if (protectedHeaders?.mode === 'cipher') {
      const declared = protectedHeaders.hpOuter
        .filter((h) => h.name.toLowerCase() === name.toLowerCase())
        .map((h) => h.value);
      declaredBySender =
        declared.length === 0
          ? outerRaw.length === 0
          : outerRaw.length > 0 && normalise(name, declared.join(', ')) === normalise(name, outerValue);
    }
    let status: HeaderComparisonStatus;
    if (innerRaw.length === 0) status = 'missing-inner';
    else if (outerRaw.length === 0) status = 'missing-outer';
    else status = normalise(name, inner) === normalise(name, outerValue) ? 'match' : 'differs';
    result.push({
      name,
      status,
      ...(innerRaw.length > 0 ? { inner: decodeWords(inner) } : {}),
      ...(outerRaw.length > 0 ? { outer: decodeWords(outerValue) } : {}),
      ...(declaredBySender === undefined ? {} : { declaredBySender }),
    });
  }
  return result;
}
