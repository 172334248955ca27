import { encryptContent, signData } from '../../smime/cms';
import { inspectionAttestationAttribute, smtpEnvelopeAttribute } from '../../smime/cms/ssmax-attributes';
import { buildMultipartSigned, buildPkcs7Mime, parseMessage, toCanonicalCrlf } from '../../smime/mime';
import { domainOf } from './message';
import type { Outcome, PipelineResult, RelayDeps } from './types';
import type { SmtpEnvelope } from '../../smime/cms';

/**
 * Mail from outside SSMAX (SPEC §5): delivered marked *external, unverified* under the receiving
 * org's signature. The org signs the received message as it is, with an `Authentication-Results`
 * field (SPF/DKIM/DMARC, by `AuthChecker`) put on top of it inside the signed content, so the results
 * are covered by the org's signature; the signature carries the attestation with hop `receiving-org`,
 * which `verifyMessage` reads as the external marking (state `unsigned`, `external: true`, never
 * verified). One copy per recipient, encrypted to their 9D certificate.
 * Mail claiming a From in the org's own domains, or of another SSMAX org, is refused: such mail
 * only ever comes through the member's node.
 */

export interface ExternalMessage {
  readonly raw: Buffer;
  readonly envelope: SmtpEnvelope;
  /** The connecting client, for SPF. */
  readonly client: { readonly ip: string; readonly helo: string };
}

/** Returns the `Authentication-Results:` field(s), CRLF-terminated. */
export type AuthChecker = (raw: Buffer, client: { ip: string; helo: string; mailFrom: string }) => Promise<string>;

/** SPF/DKIM/DMARC with mailauth (4.x); `resolver` replaces DNS (tests). */
export function mailauthChecker(o: { mta: string; resolver?: (name: string, rr: string) => Promise<unknown> }): AuthChecker {
  return async (raw, c) => {
    const { authenticate } = await import('mailauth');
    const r = await authenticate(raw, { ip: c.ip, helo: c.helo, sender: c.mailFrom, mta: o.mta, ...(o.resolver ? { resolver: o.resolver as never } : {}) });
    return r.headers;
  };
}

const lc = (s: string): string => s.trim().toLowerCase();

export async function processExternal(deps: RelayDeps, msg: ExternalMessage, authResults: string): Promise<PipelineResult> {
  const rcpts = msg.envelope.rcptTo.map(lc);
  const own = new Set(deps.org.domains.map(lc));
  const outcomes: Outcome[] = [];
  const foreign = rcpts.filter((r) => !own.has(domainOf(r)));
  const ours = rcpts.filter((r) => own.has(domainOf(r)));
  if (foreign.length > 0) outcomes.push({ kind: 'bounce', rcptTo: foreign, reason: 'This node does not accept mail for these domains.', code: 'not-for-this-org' });
  if (ours.length === 0) return { outcomes, log: { messageId: undefined, chain: [] } };

  let root;
  try {
    root = parseMessage(msg.raw).root;
  } catch {
    return { outcomes: [...outcomes, { kind: 'bounce', rcptTo: ours, reason: 'The message could not be read as MIME.', code: 'malformed' }], log: { messageId: undefined, chain: [] } };
  }
  const messageId = root.headers.get('message-id')?.trim();
  const froms = root.headers.getAddresses('from');
  const fromDomain = froms.length === 1 ? domainOf(froms[0]?.address ?? '') : '';
  let memberDomain = own.has(fromDomain);
  if (!memberDomain && fromDomain) {
    try {
      memberDomain = (await deps.resolveOrg(fromDomain)) !== undefined;
    } catch {
      memberDomain = false; // no bundle to be found: not an SSMAX org
    }
  }
  if (memberDomain) {
    return {
      outcomes: [...outcomes, { kind: 'bounce', rcptTo: ours, reason: `Mail from ${fromDomain} (an SSMAX organisation) must be signed and sent through its organisation's node; this unsigned copy is refused as a spoof.`, code: 'external-member-domain' }],
      log: { messageId, chain: [] },
    };
  }

  const content = Buffer.concat([Buffer.from(authResults.replace(/\r?\n/g, '\r\n'), 'utf8'), toCanonicalCrlf(msg.raw)]);
  let inspection;
  try {
    inspection = await deps.inspect({ content, direction: 'inbound', envelope: msg.envelope });
  } catch (err) {
    return { outcomes: [...outcomes, { kind: 'tempfail', rcptTo: ours, reason: `The content inspection is not available right now (${(err as Error).message}).` }], log: { messageId, chain: [] } };
  }
  const log = { messageId, chain: [], verdict: inspection.attestation.verdict };
  if (inspection.decision.action === 'block') return { outcomes: [...outcomes, { kind: 'bounce', rcptTo: ours, reason: inspection.decision.reason, code: 'inspection' }], log };

  const outer = Buffer.concat(root.headers.fields.filter((f) => !/^(mime-version|content-.*|x-ssmax-relay-id)$/.test(f.key)).map((f) => f.raw));
  const now = deps.now();
  const member = async (address: string): Promise<Uint8Array | undefined> => {
    const m = await deps.directory.getMember(address);
    if (!m || m.status !== 'active') return undefined;
    const t = now.getTime();
    return (await deps.directory.certificates(address)).find((c) => c.slot === '9D' && !c.revokedAt && c.notBefore.getTime() <= t && t <= c.notAfter.getTime())?.der;
  };
  for (const rcpt of ours) {
    const cert = await member(rcpt);
    if (!cert) {
      outcomes.push({ kind: 'bounce', rcptTo: [rcpt], reason: `${rcpt} is not an active member of this organisation.`, code: 'unknown-recipient' });
      continue;
    }
    const signature = await signData({
      content,
      signers: [deps.org.signer],
      detached: true,
      signingTime: now,
      certificates: [deps.org.caCertificate],
      extraSignedAttributes: [smtpEnvelopeAttribute({ mailFrom: msg.envelope.mailFrom, rcptTo: [rcpt] }), inspectionAttestationAttribute({ ...inspection.attestation, hop: 'receiving-org' })],
    });
    const inner = buildMultipartSigned({ signedPart: content, signature, digest: 'SHA-256' });
    const env = encryptContent({ content: inner, recipients: [cert] });
    outcomes.push({ kind: 'deliver', mailFrom: msg.envelope.mailFrom, rcptTo: [rcpt], message: Buffer.concat([outer, buildPkcs7Mime({ smimeType: 'authEnveloped-data', der: env })]), ...(inspection.decision.action === 'hold' ? { held: inspection.decision.reason } : {}) });
  }
  return { outcomes, log };
}
