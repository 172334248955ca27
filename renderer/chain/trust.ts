import type { ChainReason, ChainResult, TrustState } from '../../api';
import type { MessageKey } from '../i18n/messages';
import { chainStrings } from './strings';

/**
 * What the UI shows for a message's trust: the core's state, with external mail split out of
 * `unsigned` (SPEC §5: never shown like member mail) and `unopened` for a message whose state the
 * core has not computed yet. Nothing here can produce `verified` unless the core said `verified`.
 */
export type DisplayTrust = TrustState | 'external' | 'unopened';

export function displayTrust(trust: TrustState | undefined, external: boolean): DisplayTrust {
  if (trust === undefined) return 'unopened';
  // External mail is never "verified" whatever else is claimed; failed stays failed (louder).
  if (external && trust !== 'failed') return 'external';
  return trust;
}

export function chainDisplayTrust(chain: ChainResult): DisplayTrust {
  return displayTrust(chain.state, chain.external);
}

const SYMBOL: Record<DisplayTrust, string> = {
  verified: '✔',
  signed: '◐',
  unsigned: '○',
  external: '⚠',
  failed: '✖',
  unopened: '…',
};

export function trustSymbol(trust: DisplayTrust): string {
  return SYMBOL[trust];
}

export function stateKey(trust: DisplayTrust): MessageKey {
  return `chain.state.${trust}`;
}

/** Every code the message carries, wherever the core put it (message reasons, warnings, link reasons). */
function allCodes(chain: ChainResult): Set<string> {
  const codes = new Set<string>();
  for (const r of [...chain.reasons, ...chain.warnings]) codes.add(r.code);
  for (const l of chain.links) for (const r of l.reasons) codes.add(r.code);
  return codes;
}

/** The loud warnings of SPEC §5 / issue 8 item 2, derived only from what the core returned. */
export interface ChainWarnings {
  external: boolean;
  fromMismatch: boolean;
  headerMismatch: boolean;
  partiallySigned: boolean;
}

export function chainWarnings(chain: ChainResult): ChainWarnings {
  const codes = allCodes(chain);
  return {
    external: chain.external || codes.has('external'),
    fromMismatch: codes.has('from-mismatch') || codes.has('display-name-spoof'),
    headerMismatch: codes.has('header-from-mismatch') || codes.has('header-mismatch'),
    partiallySigned: chain.partiallySigned || codes.has('partially-signed'),
  };
}

/** A reason in the user's language; the core's English sentence when the code is new to the UI. */
export function reasonText(t: (key: MessageKey) => string, reason: ChainReason): string {
  const key = `chain.reason.${reason.code}`;
  return Object.prototype.hasOwnProperty.call(chainStrings.en, key) ? t(key as MessageKey) : reason.message;
}

/** A link note in the user's language: some codes mean something milder as a note (revoked only after signing). */
export function noteText(t: (key: MessageKey) => string, note: ChainReason): string {
  const key = `chain.note.${note.code}`;
  return Object.prototype.hasOwnProperty.call(chainStrings.en, key) ? t(key as MessageKey) : reasonText(t, note);
}

/** Notes whose sentence alone does not say why: the core's own words (URL, error) follow as a detail. */
export const NOTES_WITH_DETAIL: ReadonlySet<string> = new Set(['revocation-unavailable']);
