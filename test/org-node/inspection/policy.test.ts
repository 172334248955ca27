import { describe, expect, it } from 'vitest';
import { applyPolicy, parseAttestedReason, toAttestation, type Finding, type InspectionReport, type PartReport } from '../../../org-node/inspection';
import { decodeInspectionAttestation, encodeInspectionAttestation } from '../../../smime/cms';
import { verdictOfFindings, VERDICT_ORDER, worstVerdict } from '../../../org-node/inspection/verdict';

function p(name: string, findings: Finding[], kind: PartReport['kind'] = 'attachment'): PartReport {
  return {
    path: '1',
    kind,
    name,
    contentType: 'application/octet-stream',
    size: 1,
    sha256: new Uint8Array(32).fill(name.length),
    sha256Hex: '',
    verdict: verdictOfFindings(findings),
    findings,
  };
}

function report(parts: PartReport[]): InspectionReport {
  return {
    direction: 'outbound',
    verdict: worstVerdict(parts.map((x) => x.verdict)),
    engine: 'ClamAV 1.0.7',
    signatureDb: '27450/Mon Nov 23 00:00:00 2026',
    inspector: 'ssmax-inspection/1',
    inspectedAt: new Date('2026-11-23T18:00:00Z'),
    parts,
  };
}

const malware: Finding = { code: 'malware', verdict: 'Danger', signature: 'Win.Test.EICAR_HDB-1', message: 'Malware found: Win.Test.EICAR_HDB-1.' };
const ppap: Finding = { code: 'encrypted-archive', verdict: 'Unsupported', message: 'Password-protected ZIP (PPAP): 1 of 1 files are encrypted and cannot be inspected.' };
const down: Finding = { code: 'scanner-unavailable', verdict: 'Error', message: 'The virus scanner could not be reached; the content was not scanned.' };
const leakHold: Finding = { code: 'leak-my-number', verdict: 'Danger', rule: 'my-number', action: 'hold', message: 'Contains a My Number (individual number) ********9018.' };
const malformed: Finding = { code: 'malformed-content', verdict: 'Error', message: 'The part could not be decoded.' };

describe('verdict order', () => {
  it('Safe < Unsupported < Error < Danger', () => {
    expect(VERDICT_ORDER).toEqual(['Safe', 'Unsupported', 'Error', 'Danger']);
    expect(worstVerdict([])).toBe('Safe');
    expect(worstVerdict(['Unsupported', 'Error', 'Safe'])).toBe('Error');
    expect(worstVerdict(['Error', 'Danger', 'Unsupported'])).toBe('Danger');
  });
});

describe('applyPolicy', () => {
  it('Safe → deliver', () => {
    expect(applyPolicy(report([p('a.pdf', [])])).action).toBe('deliver');
  });

  it('Danger → reject with a 5xx and a reason naming the file and the signature', () => {
    const d = applyPolicy(report([p('a.pdf', []), p('evil.doc', [malware])]));
    expect(d.action).toBe('reject');
    expect(d.smtp).toEqual({ code: 550, enhanced: '5.7.1' });
    expect(d.codes).toEqual(['malware']);
    expect(d.reason).toContain('"evil.doc"');
    expect(d.reason).toContain('Win.Test.EICAR_HDB-1');
    expect(d.reason).not.toContain('a.pdf');
  });

  it('Unsupported: deliver-flagged by default; hold or reject when configured', () => {
    const r = report([p('secret.zip', [ppap])]);
    expect(applyPolicy(r).action).toBe('deliver-flagged');
    expect(applyPolicy(r, { unsupported: 'hold' }).action).toBe('hold');
    const rej = applyPolicy(r, { unsupported: 'reject' });
    expect(rej.action).toBe('reject');
    expect(rej.reason).toContain('PPAP');
  });

  it('scanner Error → defer (4xx, the previous hop retries); malformed content → reject', () => {
    const d = applyPolicy(report([p('a.pdf', [down])]));
    expect(d).toMatchObject({ action: 'defer', smtp: { code: 451, enhanced: '4.7.1' }, codes: ['scanner-unavailable'] });
    expect(applyPolicy(report([p('a.pdf', [malformed])])).action).toBe('reject');
    expect(applyPolicy(report([p('a.pdf', [down])]), { scannerError: 'hold' }).action).toBe('hold');
  });

  it('the strictest action wins: Danger + scanner Error → reject; a leak with action hold → hold', () => {
    expect(applyPolicy(report([p('x.pdf.exe', [down, { code: 'double-extension', verdict: 'Danger', message: 'x' }])])).action).toBe('reject');
    const h = applyPolicy(report([p('', [leakHold], 'body'), p('s.zip', [ppap])]));
    expect(h.action).toBe('hold');
    expect(h.codes).toEqual(['leak-my-number']);
    expect(h.reason).toContain('message text');
    expect(applyPolicy(report([p('', [leakHold], 'body'), p('e.doc', [malware])])).action).toBe('reject');
    expect(applyPolicy(report([p('e.doc', [malware])]), { danger: 'hold' }).action).toBe('hold');
  });
});

describe('toAttestation', () => {
  it('maps to the CMS attestation; encodes and decodes through smime/cms; reasons carry the codes', () => {
    const r = report([p('', [], 'body'), p('evil.doc', [malware, ppap]), p('s.zip', [{ ...ppap, location: 'inner.zip' }])]);
    const att = toAttestation(r, 'sending-org');
    expect(att).toMatchObject({ hop: 'sending-org', verdict: 'Danger', engine: 'ClamAV 1.0.7 + ssmax-inspection/1', signatureDb: '27450/Mon Nov 23 00:00:00 2026' });
    const back = decodeInspectionAttestation(encodeInspectionAttestation(att));
    expect(back.verdict).toBe('Danger');
    expect(back.inspectedAt.toISOString()).toBe('2026-11-23T18:00:00.000Z');
    expect(back.attachments.map((a) => [a.name, a.verdict, a.reason])).toEqual([
      ['', 'Safe', undefined],
      ['evil.doc', 'Danger', 'malware: Malware found: Win.Test.EICAR_HDB-1.'],
      ['s.zip', 'Unsupported', `encrypted-archive: [inner.zip] ${ppap.message}`],
    ]);
    expect(Buffer.from(back.attachments[1]!.sha256)).toEqual(Buffer.alloc(32, 8));
    expect(parseAttestedReason(back.attachments[2]!.reason!)).toEqual([{ code: 'encrypted-archive', text: `[inner.zip] ${ppap.message}` }]);
  });

  it('several findings of the worst verdict are joined; long reasons are cut', () => {
    const two = toAttestation(report([p('x', [malware, { code: 'double-extension', verdict: 'Danger', message: 'poses as .pdf.' }])]), 'single-org');
    expect(parseAttestedReason(two.attachments[0]!.reason!).map((x) => x.code)).toEqual(['malware', 'double-extension']);
    const many = Array.from({ length: 50 }, (_, i): Finding => ({ ...malware, location: `f${i}.txt` }));
    expect(toAttestation(report([p('big.zip', many)]), 'receiving-org').attachments[0]!.reason!.length).toBeLessThanOrEqual(500);
  });
});
