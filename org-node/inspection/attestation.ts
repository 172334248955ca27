import type { AttachmentVerdict, Hop, InspectionAttestation } from '../../smime/cms';
import type { Finding, InspectionReport, ReasonCode } from './types';
import { severity } from './verdict';

/** Longest reason string put into the attestation (the attestation is signed and travels with every hop). */
export const MAX_ATTESTED_REASON = 500;

/**
 * The reason of one part as attested: the findings of its worst verdict, each `<code>: <English text>`
 * (with its place inside an archive), joined by "; ". The UI reads the codes back with
 * `parseAttestedReason` and shows its own translation. Safe parts have no reason.
 */
export function attestedReason(findings: readonly Finding[]): string | undefined {
  if (findings.length === 0) return undefined;
  const worst = Math.max(...findings.map((f) => severity(f.verdict)));
  const text = findings
    .filter((f) => severity(f.verdict) === worst)
    .map((f) => `${f.code}: ${f.location !== undefined ? `[${f.location}] ` : ''}${f.message}`)
    .join('; ');
  return text.length <= MAX_ATTESTED_REASON ? text : `${text.slice(0, MAX_ATTESTED_REASON - 1)}…`;
}

/** The reason codes at the start of each "; "-separated item of an attested reason (unknown words kept). */
export function parseAttestedReason(reason: string): { code: ReasonCode | string; text: string }[] {
  return reason
    .split(/; (?=[a-z][a-z0-9-]*: )/)
    .map((item) => {
      const m = /^([a-z][a-z0-9-]*): (.*)$/s.exec(item);
      return m ? { code: m[1]!, text: m[2]! } : { code: '', text: item };
    });
}

/**
 * The inspection attestation for `smime/cms`'s `inspectionAttestationAttribute` (SPEC §4): overall
 * verdict, engine (clamd's engine plus this engine's rules version), signature database, time, and
 * per part name / SHA-256 / verdict / reason. Body text parts are listed with name "".
 */
export function toAttestation(report: InspectionReport, hop: Hop): InspectionAttestation {
  const attachments: AttachmentVerdict[] = report.parts.map((p) => {
    const reason = attestedReason(p.findings);
    return { name: p.name, sha256: p.sha256, verdict: p.verdict, ...(reason === undefined ? {} : { reason }) };
  });
  return {
    hop,
    verdict: report.verdict,
    engine: `${report.engine} + ${report.inspector}`,
    signatureDb: report.signatureDb,
    inspectedAt: report.inspectedAt,
    attachments,
  };
}
