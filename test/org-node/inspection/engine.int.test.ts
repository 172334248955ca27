import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyPolicy, inspectMessage, toAttestation, type InspectOptions, type InspectionReport, type PartReport } from '../../../org-node/inspection';
import { decodeInspectionAttestation, encodeInspectionAttestation } from '../../../smime/cms';
import { EICAR_SIGNATURE_NAME, eicarTestFile, MALWARE_MARKER, MARKER_SIGNATURE_NAME, reportedName } from '../../harness/clamav-signatures';
import { startClamd, type ClamdHandle } from '../../harness/clamd';
import { buildZip, luhnNumber, message, pdfBytes, peBytes } from './fixtures';

// The inspection engine against a real clamd with the project's test signatures (EICAR and the marker).

function part(r: InspectionReport, name: string): PartReport {
  const p = r.parts.find((x) => x.name === name);
  if (!p) throw new Error(`no part ${name}: ${r.parts.map((x) => x.name).join(', ')}`);
  return p;
}

describe('inspection with a real clamd', () => {
  let clamd: ClamdHandle;
  let o: InspectOptions;

  beforeAll(async () => {
    clamd = await startClamd();
    o = { direction: 'outbound', clamd: clamd.address };
  });

  afterAll(async () => {
    await clamd?.stop();
  });

  it('EICAR attachment → Danger with the signature name; engine and DB version from clamd; rejected by policy', async () => {
    const r = await inspectMessage(await message({ attachments: [{ filename: 'eicar.com.txt', content: eicarTestFile() }] }), o);
    expect(r.verdict).toBe('Danger');
    expect(r.engine).toMatch(/^ClamAV \d+\.\d+/);
    // The harness's clamd has only the project's .ndb, so VERSION carries no database version.
    expect(r.signatureDb).toBe('unversioned');
    const p = part(r, 'eicar.com.txt');
    expect(p.findings).toEqual([expect.objectContaining({ code: 'malware', verdict: 'Danger', signature: reportedName(EICAR_SIGNATURE_NAME) })]);
    const d = applyPolicy(r);
    expect(d.action).toBe('reject');
    expect(d.reason).toContain(reportedName(EICAR_SIGNATURE_NAME));
    const att = decodeInspectionAttestation(encodeInspectionAttestation(toAttestation(r, 'sending-org')));
    expect(att.verdict).toBe('Danger');
    expect(att.engine).toContain('ClamAV');
    expect(att.attachments.find((a) => a.name === 'eicar.com.txt')?.reason).toBe(`malware: Malware found: ${reportedName(EICAR_SIGNATURE_NAME)}.`);
  });

  it('the marker inside a non-encrypted ZIP → Danger, with the entry named', async () => {
    const zip = buildZip([{ name: 'readme.txt', content: 'hello' }, { name: 'docs/payload.txt', content: `prefix ${MALWARE_MARKER} suffix\n` }]);
    const r = await inspectMessage(await message({ attachments: [{ filename: 'docs.zip', content: zip }] }), o);
    expect(r.verdict).toBe('Danger');
    const findings = part(r, 'docs.zip').findings;
    expect(findings.every((f) => f.code === 'malware' && f.signature === reportedName(MARKER_SIGNATURE_NAME))).toBe(true);
    expect(findings.map((f) => f.location)).toContain('docs/payload.txt');
  });

  it('the marker inside a password-protected ZIP → Unsupported (PPAP), not Safe and not Danger', async () => {
    const zip = buildZip([{ name: 'payload.txt', content: `prefix ${MALWARE_MARKER} suffix\n`, password: 'secret' }]);
    const r = await inspectMessage(await message({ attachments: [{ filename: '請求書.zip', content: zip }] }), o);
    expect(r.verdict).toBe('Unsupported');
    expect(part(r, '請求書.zip').findings).toEqual([expect.objectContaining({ code: 'encrypted-archive', verdict: 'Unsupported' })]);
    expect(part(r, '請求書.zip').findings[0]!.message).toContain('PPAP');
    expect(applyPolicy(r).action).toBe('deliver-flagged');
    expect(applyPolicy(r, { unsupported: 'hold' }).action).toBe('hold');
  });

  it('a clean PDF named .pdf → Safe', async () => {
    const pdf = pdfBytes();
    const r = await inspectMessage(await message({ attachments: [{ filename: 'report.pdf', content: pdf }] }), o);
    expect(r.verdict).toBe('Safe');
    expect(r.parts.map((p) => p.verdict)).toEqual(['Safe', 'Safe']);
    expect(applyPolicy(r).action).toBe('deliver');
  });

  it('PE bytes named .pdf → Danger (disguised executable)', async () => {
    const r = await inspectMessage(await message({ attachments: [{ filename: 'invoice.pdf', content: peBytes() }] }), o);
    expect(r.verdict).toBe('Danger');
    expect(part(r, 'invoice.pdf').findings.map((f) => f.code)).toEqual(['disguised-executable']);
  });

  it('right-to-left override in the name → Danger', async () => {
    const name = 'invoice\u202Efdp.exe';
    const r = await inspectMessage(await message({ attachments: [{ filename: name, content: Buffer.from('harmless bytes') }] }), o);
    expect(r.verdict).toBe('Danger');
    expect(part(r, name).findings.map((f) => f.code)).toEqual(['bidi-control-in-name']);
  });

  it('double extension → Danger', async () => {
    const r = await inspectMessage(await message({ attachments: [{ filename: 'invoice.pdf.exe', content: Buffer.from('harmless bytes') }] }), o);
    expect(r.verdict).toBe('Danger');
    expect(part(r, 'invoice.pdf.exe').findings.map((f) => f.code)).toEqual(['double-extension']);
  });

  it('outbound My Number and card number → Danger with masked reasons; inbound the same text is not a leak', async () => {
    const myNumber = '123456789018';
    const card = luhnNumber('3530', 16, 99);
    const mime = await message({ text: `お客様のマイナンバーは ${myNumber}、カード番号は ${card} です。\n` });
    const out = await inspectMessage(mime, o);
    expect(out.verdict).toBe('Danger');
    expect(out.parts[0]!.findings.map((f) => f.code)).toEqual(['leak-my-number', 'leak-card-number']);
    const d = applyPolicy(out);
    expect(d.action).toBe('reject');
    const attested = JSON.stringify(toAttestation(out, 'sending-org'));
    for (const text of [JSON.stringify(out), d.reason, attested]) {
      expect(text).not.toContain(myNumber);
      expect(text).not.toContain(card);
    }
    expect(d.reason).toContain(`********${myNumber.slice(-4)}`);
    expect(d.reason).toContain(`************${card.slice(-4)}`);

    const inbound = await inspectMessage(mime, { ...o, direction: 'inbound' });
    expect(inbound.verdict).toBe('Safe');
    expect(inbound.parts.flatMap((p) => p.findings)).toEqual([]);
  });

  it('over clamd StreamMaxLength → Unsupported (too-large-to-scan), not Safe', async () => {
    const small = await startClamd({ streamMaxLength: 64 * 1024 });
    try {
      const r = await inspectMessage(await message({ attachments: [{ filename: 'big.pdf', content: pdfBytes({ text: 'x'.repeat(300 * 1024) }) }] }), {
        ...o,
        clamd: small.address,
      });
      expect(part(r, 'big.pdf').findings.map((f) => f.code)).toEqual(['too-large-to-scan']);
      expect(r.verdict).toBe('Unsupported');
    } finally {
      await small.stop();
    }
  });

  it('a clamd that accepts but never answers → Error after the idle timeout, not Safe', async () => {
    const sockets = new Set<Socket>();
    const server: Server = createServer((s) => {
      sockets.add(s);
      s.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const addr = server.address();
    if (addr === null || typeof addr === 'string') throw new Error('no address');
    try {
      const r = await inspectMessage(await message({ attachments: [{ filename: 'a.pdf', content: pdfBytes() }] }), {
        ...o,
        clamd: { host: '127.0.0.1', port: addr.port },
        limits: { clamdIdleTimeoutMs: 300 },
      });
      expect(r.verdict).toBe('Error');
      expect(r.parts.every((p) => p.findings.some((f) => f.code === 'scanner-unavailable'))).toBe(true);
      expect(applyPolicy(r).action).toBe('defer');
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('clamd stopped → Error for every part, never Safe; policy defers (4xx)', async () => {
    const gone = await startClamd();
    const address = gone.address;
    await gone.stop();
    const r = await inspectMessage(await message({ attachments: [{ filename: 'report.pdf', content: pdfBytes() }] }), { ...o, clamd: address });
    expect(r.verdict).toBe('Error');
    expect(r.engine).toBe('ClamAV (unreachable)');
    expect(r.parts.map((p) => p.verdict)).toEqual(['Error', 'Error']);
    expect(r.parts[1]!.findings[0]!.message).toBe('The virus scanner could not be reached; the content was not scanned.');
    const d = applyPolicy(r);
    expect(d).toMatchObject({ action: 'defer', smtp: { code: 451 } });
  });
});
