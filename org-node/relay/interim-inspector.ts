import { createHash } from 'node:crypto';
import type { AttachmentVerdict, Verdict } from '../../smime/cms';
import { parseMessage, walkEntities } from '../../smime/mime';
import { scanBuffer, version, type ClamdAddress } from '../inspection/clamd-client';
import type { Inspector } from './types';

/**
 * A minimal inspector for the relay until the inspection engine (`org-node/inspection`,
 * `inspectMessage` + `applyPolicy`) is wired in: every attachment goes to clamd, an executable
 * extension behind a document extension (`invoice.pdf.exe`) is Danger, and Danger blocks.
 * Replaced by an adapter over the engine; kept small on purpose.
 */
const EXECUTABLE = /\.(exe|scr|com|bat|cmd|pif|js|vbs|jar|msi)$/i;
const DOCUMENT = /\.(pdf|docx?|xlsx?|pptx?|txt|jpe?g|png|zip)\.[a-z0-9]+$/i;

export function interimInspector(clamd: ClamdAddress): Inspector {
  return async ({ content }) => {
    const engine = (await version(clamd)).trim();
    const attachments: AttachmentVerdict[] = [];
    for (const e of walkEntities(parseMessage(content).root, true)) {
      if (e.children.length > 0 || e.message) continue;
      const name = e.filename ?? '';
      const isAttachment = name !== '' || e.disposition?.value === 'attachment';
      if (!isAttachment) continue;
      const body = e.body();
      const sha256 = createHash('sha256').update(body).digest();
      const scan = await scanBuffer(clamd, body);
      let verdict: Verdict = 'Safe';
      let reason: string | undefined;
      if (scan.status === 'found') {
        verdict = 'Danger';
        reason = `malware ${scan.signature}`;
      } else if (EXECUTABLE.test(name) && DOCUMENT.test(name)) {
        verdict = 'Danger';
        reason = 'an executable disguised as a document (double extension)';
      }
      attachments.push({ name, sha256, verdict, ...(reason ? { reason } : {}) });
    }
    const danger = attachments.find((a) => a.verdict === 'Danger');
    const [eng, db] = engine.split('/');
    return {
      attestation: { verdict: danger ? 'Danger' : 'Safe', engine: eng ?? engine, signatureDb: db ?? '', inspectedAt: new Date(), attachments },
      decision: danger ? { action: 'block', reason: `The attachment ${danger.name || '(unnamed)'} was classified Danger: ${danger.reason ?? ''}.` } : { action: 'pass' },
    };
  };
}
