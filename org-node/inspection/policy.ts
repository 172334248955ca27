import type { Finding, InspectionReport, PartReport, ReasonCode } from './types';
import { visibleName } from './names';

/**
 * What the relay does with an inspected message (SPEC §5: block Danger; hold or flag Unsupported).
 *  - deliver          Safe: relay.
 *  - deliver-flagged  relay; the attestation tells the recipient what could not be inspected.
 *  - hold             accept (250) and keep for an administrator's review.
 *  - reject           refuse: 5xx at SMTP time, or a bounce to the sender with `reason`.
 *  - defer            4xx: inspection could not run (scanner down); the previous hop keeps the mail and retries (SPEC §9).
 */
export type PolicyAction = 'deliver' | 'deliver-flagged' | 'hold' | 'reject' | 'defer';

export interface InspectionPolicy {
  /** Danger (malware, disguised names, leaks with action 'block'). Default 'reject'. */
  readonly danger?: 'reject' | 'hold';
  /** Unsupported (PPAP, archives too deep/large, not inspectable). Default 'deliver-flagged'. */
  readonly unsupported?: 'deliver-flagged' | 'hold' | 'reject';
  /** Error from the scanner (unreachable, timed out, failed). Default 'defer'. */
  readonly scannerError?: 'defer' | 'hold' | 'reject';
  /** Error because the content itself could not be read (malformed MIME or encoding). Default 'reject'. */
  readonly malformed?: 'reject' | 'hold' | 'deliver-flagged';
}

export const DEFAULT_POLICY: Required<InspectionPolicy> = {
  danger: 'reject',
  unsupported: 'deliver-flagged',
  scannerError: 'defer',
  malformed: 'reject',
};

export interface PolicyDecision {
  readonly action: PolicyAction;
  /** Codes behind the decision (empty for deliver). */
  readonly codes: readonly ReasonCode[];
  /** English, one or a few lines, for the bounce / SMTP reply / log; no secret numbers (findings are masked). */
  readonly reason: string;
  /** Suggested SMTP reply for reject (5xx) and defer (4xx). */
  readonly smtp?: { readonly code: number; readonly enhanced: string };
}

const ACTION_RANK: Record<PolicyAction, number> = { deliver: 0, 'deliver-flagged': 1, hold: 2, defer: 3, reject: 4 };

/**
 * Decides from the report. Each finding maps to an action (leak findings with action 'hold' → hold;
 * other Danger → policy.danger; …); the strictest wins: reject > defer > hold > deliver-flagged > deliver.
 */
export function applyPolicy(report: InspectionReport, policy: InspectionPolicy = {}): PolicyDecision {
  const p = { ...DEFAULT_POLICY, ...policy };
  let action: PolicyAction = 'deliver';
  const decisive: { part: PartReport; finding: Finding }[] = [];
  const actionOf = (f: Finding): PolicyAction => {
    switch (f.verdict) {
      case 'Danger':
        return f.action === 'hold' ? 'hold' : p.danger;
      case 'Unsupported':
        return p.unsupported;
      case 'Error':
        return f.code === 'malformed-content' ? p.malformed : p.scannerError;
    }
  };
  for (const part of report.parts) {
    for (const finding of part.findings) {
      const a = actionOf(finding);
      if (ACTION_RANK[a] > ACTION_RANK[action]) {
        action = a;
        decisive.length = 0;
      }
      if (a === action && a !== 'deliver') decisive.push({ part, finding });
    }
  }
  if (action === 'deliver') return { action, codes: [], reason: 'Inspection found nothing (Safe).' };
  const codes = [...new Set(decisive.map((d) => d.finding.code))];
  const lines = decisive.map(({ part, finding }) => {
    const what = part.kind === 'headers' ? 'message header' : part.name ? `"${visibleName(part.name)}"` : 'message text';
    const where = finding.location !== undefined ? ` (inside: ${visibleName(finding.location)})` : '';
    return `${what}${where}: ${finding.verdict} — ${finding.message}`;
  });
  const heads: Record<PolicyAction, string> = {
    deliver: '',
    'deliver-flagged': 'Delivered with a warning; not everything could be inspected:',
    hold: 'Held for review by the administrator:',
    defer: 'Inspection could not run; try again later:',
    reject: 'Rejected by the organisation’s inspection:',
  };
  const smtp =
    action === 'reject' ? { code: 550, enhanced: '5.7.1' } : action === 'defer' ? { code: 451, enhanced: '4.7.1' } : undefined;
  return { action, codes, reason: [heads[action], ...[...new Set(lines)]].join('\n'), ...(smtp ? { smtp } : {}) };
}
