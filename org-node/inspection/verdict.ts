import type { Finding, Verdict } from './types';

/**
 * Severity of the four verdicts, worst last: Safe < Unsupported < Error < Danger.
 * Danger (something harmful was found) outranks Error (inspection failed: nothing is known to be
 * harmful, but nothing is known to be safe either); Error outranks Unsupported (the content could
 * be looked at, but not into: encrypted, too large, too deep).
 */
export const VERDICT_ORDER: readonly Verdict[] = ['Safe', 'Unsupported', 'Error', 'Danger'];

export function severity(v: Verdict): number {
  return VERDICT_ORDER.indexOf(v);
}

/** The worst of the given verdicts; Safe for none. */
export function worstVerdict(verdicts: Iterable<Verdict>): Verdict {
  let worst: Verdict = 'Safe';
  for (const v of verdicts) if (severity(v) > severity(worst)) worst = v;
  return worst;
}

export function verdictOfFindings(findings: readonly Finding[]): Verdict {
  return worstVerdict(findings.map((f) => f.verdict));
}
