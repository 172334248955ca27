import { createHash } from 'node:crypto';
import type { InspectionAttestation } from '../../../smime/cms';

/** A small multipart MIME entity in canonical form (CRLF), as the MIME layer hands it to CMS. */
export const mimeEntity = new TextEncoder().encode(
  'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nこんにちは。請求書を添付します。\r\n',
);

export function attestation(hop: InspectionAttestation['hop'] = 'sending-org'): InspectionAttestation {
  return {
    hop,
    verdict: 'Unsupported',
    engine: 'ClamAV 1.0.7',
    signatureDb: 'daily.cvd 27450',
    inspectedAt: new Date('2026-06-01T09:00:00Z'),
    attachments: [
      { name: '請求書.pdf', sha256: createHash('sha256').update('pdf').digest(), verdict: 'Safe' },
      { name: 'data.zip', sha256: createHash('sha256').update('zip').digest(), verdict: 'Unsupported', reason: 'encrypted ZIP (PPAP)' },
    ],
  };
}
