import { countersign, lastLinkPath, type Hop, type SmtpEnvelope } from '../../smime/cms';
import { verifyMessage, type ChainLink, type CrlSource, type MessageVerification } from '../../smime/chain';
import { domainOf, MessageShapeError, openMessage, sealMessage, sealSigned, sha256Hex, type OpenedMessage } from './message';
import type { BounceCode, BounceOutcome, DestinationOrg, InspectionResult, Outcome, PipelineResult, RelayDeps, RelayLog } from './types';

/**
 * The org node's pipeline (SPEC §5) over bytes:
 * - `processSubmission`: a member's submission → ② (or the single-org link) → one copy per destination
 *   org encrypted to its org key, one copy per own-org recipient encrypted to their 9D certificate;
 * - `processInbound`: mail from another org node → ③ → one copy per recipient encrypted to their 9D.
 * Nothing here throws for a bad message: refusals are `bounce` outcomes with a sentence for the sender;
 * a failing dependency (inspector, bundle lookup) is a `tempfail`; only unexpected errors throw
 * (the SMTP layer answers 451 then).
 */

export interface Submission {
  readonly raw: Buffer;
  /** The authenticated submitter (SMTP AUTH user, as a mail address). */
  readonly submitter: string;
  readonly envelope: SmtpEnvelope;
}

export interface InboundMessage {
  readonly raw: Buffer;
  readonly envelope: SmtpEnvelope;
}

const lc = (s: string): string => s.trim().toLowerCase();

class Refusal extends Error {
  constructor(
    readonly code: BounceCode,
    readonly reason: string,
  ) {
    super(reason);
  }
}

function chainLog(messageId: string | undefined, v?: MessageVerification, verdict?: string): RelayLog {
  return {
    messageId,
    chain: (v?.links ?? []).map((l) => ({ role: l.role, status: l.status, subject: l.subject })),
    ...(verdict ? { verdict } : {}),
  };
}

function reasonsOf(v: MessageVerification, link?: ChainLink): string {
  const all = [...(link?.reasons ?? []), ...v.reasons.filter((r) => r.code !== 'chain-incomplete' && r.code !== 'own-org-unknown')];
  return [...new Set(all.map((r) => r.message))].join(' ') || `the signature check ended "${v.state}"`;
}

async function verify(deps: RelayDeps, raw: Buffer, extraCrls: readonly Uint8Array[] = [], crlSource?: CrlSource): Promise<MessageVerification> {
  return verifyMessage(raw, {
    trustAnchors: deps.trustAnchors,
    decryptors: deps.org.decryptors,
    crls: [...(deps.crls ? await deps.crls() : []), ...extraCrls],
    ...(crlSource ? { crlSource } : {}),
    at: deps.now(),
    ownOrgDomains: deps.org.domains,
    // A member's client need not carry the org CA certificate: the node knows its own.
    extraCertificates: [deps.org.caCertificate],
  });
}

/** The member's current certificate in a slot: active member, newest unrevoked certificate valid now. */
async function currentCertificate(deps: RelayDeps, address: string, slot: '9C' | '9D'): Promise<Uint8Array | undefined> {
  const member = await deps.directory.getMember(address);
  if (!member || member.status !== 'active') return undefined;
  const now = deps.now().getTime();
  const c = (await deps.directory.certificates(address)).find((x) => x.slot === slot && !x.revokedAt && x.notBefore.getTime() <= now && now <= x.notAfter.getTime());
  return c?.der;
}

function blockedReason(r: InspectionResult): string | undefined {
  return r.decision.action === 'block' ? r.decision.reason : undefined;
}

/** `{ held }` for the copies when the policy holds the message for review. */
function heldOf(r: InspectionResult): { held?: string } {
  return r.decision.action === 'hold' ? { held: r.decision.reason } : {};
}

async function runInspection(deps: RelayDeps, content: Uint8Array, direction: 'outbound' | 'inbound' | 'internal', envelope: SmtpEnvelope): Promise<InspectionResult | { tempfail: string }> {
  try {
    return await deps.inspect({ content, direction, envelope });
  } catch (err) {
    return { tempfail: `The content inspection is not available right now (${(err as Error).message}).` };
  }
}

async function addLink(deps: RelayDeps, cms: Uint8Array, hop: Hop, envelope: SmtpEnvelope, inspection: InspectionResult): Promise<Uint8Array> {
  const now = deps.now();
  return countersign(cms, {
    target: lastLinkPath(cms),
    signer: deps.org.signer,
    signingTime: now,
    envelope,
    attestation: { ...inspection.attestation, hop },
    certificates: [deps.org.caCertificate],
  });
}

function bounceAll(rcptTo: readonly string[], e: Refusal): BounceOutcome {
  return { kind: 'bounce', rcptTo, reason: e.reason, code: e.code };
}

function shapeRefusal(e: MessageShapeError): Refusal {
  return new Refusal(e.code, e.userMessage);
}

/** Sending org node: a member's submission. */
export async function processSubmission(deps: RelayDeps, sub: Submission): Promise<PipelineResult> {
  const rcpts = sub.envelope.rcptTo.map(lc);
  const submitter = lc(sub.submitter);
  let opened: OpenedMessage;
  try {
    opened = await openMessage(sub.raw, deps.org.decryptors);
  } catch (e) {
    if (e instanceof MessageShapeError) return { outcomes: [bounceAll(rcpts, shapeRefusal(e))], log: chainLog(undefined) };
    throw e;
  }
  const v = await verify(deps, sub.raw);
  try {
    await checkSubmission(deps, v, submitter, sub.envelope);
  } catch (e) {
    if (e instanceof Refusal) return { outcomes: [bounceAll(rcpts, e)], log: chainLog(opened.messageId, v) };
    throw e;
  }
  const content = v.content?.bytes ?? new Uint8Array();
  const ownDomains = new Set(deps.org.domains.map(lc));
  const internal = rcpts.filter((r) => ownDomains.has(domainOf(r)));
  const external = rcpts.filter((r) => !ownDomains.has(domainOf(r)));
  const direction = external.length === 0 ? 'internal' : 'outbound';
  const inspection = await runInspection(deps, content, direction, sub.envelope);
  if ('tempfail' in inspection) return { outcomes: [{ kind: 'tempfail', rcptTo: rcpts, reason: inspection.tempfail }], log: chainLog(opened.messageId, v) };
  const log = chainLog(opened.messageId, v, inspection.attestation.verdict);
  const blocked = blockedReason(inspection);
  if (blocked) return { outcomes: [{ kind: 'bounce', rcptTo: rcpts, reason: blocked, code: 'inspection' }], log };

  const outcomes: Outcome[] = [];
  const mailFrom = sub.envelope.mailFrom;
  for (const rcpt of internal) {
    const cert = await currentCertificate(deps, rcpt, '9D');
    if (!cert) {
      outcomes.push({ kind: 'bounce', rcptTo: [rcpt], reason: `${rcpt} is not an active member of this organisation (or has no current encryption certificate).`, code: 'unknown-recipient' });
      continue;
    }
    const cms = await addLink(deps, opened.signed.cms, 'single-org', { mailFrom, rcptTo: [rcpt] }, inspection);
    outcomes.push({ kind: 'deliver', mailFrom, rcptTo: [rcpt], message: sealMessage(opened, cms, cert), ...heldOf(inspection) });
  }

  // Group the other recipients by destination org (one org may have several domains).
  const byDomain = new Map<string, DestinationOrg | undefined | Error>();
  const groups = new Map<string, { org: DestinationOrg; rcpts: string[] }>();
  const outside = new Map<string, string[]>();
  for (const rcpt of external) {
    const d = domainOf(rcpt);
    if (!byDomain.has(d)) {
      try {
        byDomain.set(d, await deps.resolveOrg(d));
      } catch (err) {
        byDomain.set(d, err instanceof Error ? err : new Error(String(err)));
      }
    }
    const org = byDomain.get(d);
    if (org instanceof Error) outcomes.push({ kind: 'tempfail', rcptTo: [rcpt], reason: `The SSMAX bundle of ${d} could not be obtained: ${org.message}` });
    else if (!org && deps.nonMemberPolicy === 'deliver-signed') outside.set(d, [...(outside.get(d) ?? []), rcpt]);
    else if (!org) outcomes.push({ kind: 'bounce', rcptTo: [rcpt], reason: `${d} is not an SSMAX organisation, and this organisation's policy refuses mail outside SSMAX (it could not be encrypted for the recipient).`, code: 'non-member-domain' });
    else {
      const g = groups.get(org.id) ?? { org, rcpts: [] };
      g.rcpts.push(rcpt);
      groups.set(org.id, g);
    }
  }
  for (const g of groups.values()) {
    const cms = await addLink(deps, opened.signed.cms, 'sending-org', { mailFrom, rcptTo: g.rcpts }, inspection);
    outcomes.push({ kind: 'relay', org: g.org.id, mailFrom, rcptTo: g.rcpts, message: sealMessage(opened, cms, g.org.encryptionCertificate), ...heldOf(inspection) });
  }
  // Outside SSMAX under 'deliver-signed': ① and the org's ② (which attests the inspection) travel signed only.
  for (const [domain, list] of outside) {
    const cms = await addLink(deps, opened.signed.cms, 'sending-org', { mailFrom, rcptTo: list }, inspection);
    outcomes.push({ kind: 'relay', org: domain, nonMember: true, mailFrom, rcptTo: list, message: sealSigned(opened, cms), ...heldOf(inspection) });
  }
  return { outcomes, log };
}

async function checkSubmission(deps: RelayDeps, v: MessageVerification, submitter: string, envelope: SmtpEnvelope): Promise<void> {
  const sender = v.links[0];
  if (v.state === 'unsigned' || !sender) throw new Refusal('signature', 'The message is not signed. Sign it with your staff card before sending.');
  // ① is `forwarder` when the signed content carries a forwarded message (its own chain stays inside, untouched).
  if ((sender.role !== 'sender' && sender.role !== 'forwarder') || v.links.length !== 1) throw new Refusal('chain', 'The message already carries organisation countersignatures or other signers; submit it as signed by you only.');
  if (sender.email !== undefined && lc(sender.email) !== submitter) {
    throw new Refusal('not-submitter', `The message is signed by ${sender.email}, but you are logged in as ${submitter}; you can only send mail signed with your own staff card.`);
  }
  if (sender.status !== 'valid' || v.state !== 'signed' || v.reasons.some((r) => r.code !== 'chain-incomplete' && r.code !== 'own-org-unknown')) {
    throw new Refusal('signature', `Your signature could not be accepted: ${reasonsOf(v, sender)}`);
  }
  if (!v.displayedFrom || lc(v.displayedFrom.address) !== submitter) {
    throw new Refusal('not-submitter', `The From address (${v.displayedFrom?.address ?? 'none'}) is not your address ${submitter}.`);
  }
  if (lc(envelope.mailFrom) !== submitter) throw new Refusal('envelope', `The SMTP sender ${envelope.mailFrom || '<>'} is not your address ${submitter}.`);
  const member = await deps.directory.getMember(submitter);
  if (!member || member.status !== 'active') throw new Refusal('member', `${submitter} is not an active member of this organisation (${member?.status ?? 'unknown'}); mail from this address is refused.`);
  const current = await currentCertificate(deps, submitter, '9C');
  const used = sender.path[0]?.sha256;
  if (!current || used !== sha256Hex(current)) {
    throw new Refusal('not-submitter', 'The message is signed with a certificate that is not your current staff card certificate (revoked, replaced or unknown to this organisation).');
  }
}

/** Receiving org node: mail from another org node. */
export async function processInbound(deps: RelayDeps, msg: InboundMessage): Promise<PipelineResult & { sendingOrgCertificate?: string }> {
  const rcpts = msg.envelope.rcptTo.map(lc);
  const ownDomains = new Set(deps.org.domains.map(lc));
  const foreign = rcpts.filter((r) => !ownDomains.has(domainOf(r)));
  const ours = rcpts.filter((r) => ownDomains.has(domainOf(r)));
  const outcomes: Outcome[] = [];
  if (foreign.length > 0) outcomes.push({ kind: 'bounce', rcptTo: foreign, reason: 'This node does not accept mail for these domains.', code: 'not-for-this-org' });
  if (ours.length === 0) return { outcomes, log: chainLog(undefined) };
  let opened: OpenedMessage;
  try {
    opened = await openMessage(msg.raw, deps.org.decryptors);
  } catch (e) {
    if (e instanceof MessageShapeError) return { outcomes: [...outcomes, bounceAll(ours, shapeRefusal(e))], log: chainLog(undefined) };
    throw e;
  }
  let peer: readonly Uint8Array[] = [];
  const senderDomain = domainOf(opened.from ?? '');
  if (deps.peerCrls && senderDomain && !ownDomains.has(senderDomain)) {
    try {
      peer = await deps.peerCrls(senderDomain);
    } catch (err) {
      return { outcomes: [...outcomes, { kind: 'tempfail', rcptTo: ours, reason: `The revocation list of ${senderDomain} could not be obtained: ${(err as Error).message}` }], log: chainLog(opened.messageId) };
    }
  }
  // With peer CRLs the node fetches no other URL: a certificate whose issuer has no current CRL among
  // the given ones (the sender org's, ours) is noted `revocation-unavailable` instead of passing silently.
  const onlyGiven: CrlSource | undefined = deps.peerCrls
    ? (urls) => Promise.resolve({ crls: [], problems: [`no current revocation list of ${senderDomain || 'the sending organisation'} covers it (${urls.join(', ')})`] })
    : undefined;
  const v = await verify(deps, msg.raw, peer, onlyGiven);
  const [sender, sendingOrg] = v.links;
  try {
    if (v.state === 'unsigned' || !sender) throw new Refusal('signature', 'The message is not signed; SSMAX org nodes relay only signed member mail.');
    if (v.state !== 'signed' || sender.status !== 'valid' || sendingOrg?.status !== 'valid' || (sendingOrg.role !== 'sending-org' && sendingOrg.role !== 'forwarder-org') || v.links.length !== 2 || v.reasons.some((r) => r.code !== 'chain-incomplete')) {
      const bad = v.links.find((l) => l.status !== 'valid');
      throw new Refusal('chain', `The signature chain was refused: ${reasonsOf(v, bad ?? (sendingOrg ? undefined : sender))}${sendingOrg ? '' : ' The sending organisation\'s countersignature is missing.'}`);
    }
    // The signing time of ① is the signer's claim (a stolen card can back-date it): at relay time a
    // revoked certificate is refused whenever it was revoked, not only before the claimed signing time.
    const revokedLater = [sender, sendingOrg].flatMap((l) => l.notes).filter((n) => n.code === 'revoked');
    if (revokedLater.length > 0) throw new Refusal('chain', `The signature chain was refused: ${[...new Set(revokedLater.map((n) => n.message))].join(' ')} An SSMAX node does not counter-sign mail from a revoked certificate.`);
    const named = new Set((sendingOrg.envelope?.rcptTo ?? []).map(lc));
    const notNamed = ours.filter((r) => !named.has(r));
    if (notNamed.length > 0) throw new Refusal('envelope', `The sending organisation did not address this message to ${notNamed.join(', ')}.`);
  } catch (e) {
    if (e instanceof Refusal) return { outcomes: [...outcomes, bounceAll(ours, e)], log: chainLog(opened.messageId, v) };
    throw e;
  }
  // SPEC §3: never counter-sign a link whose revocation was not checked. A missing or outdated CRL is
  // temporary (4xx: the sending node retries until the CRL is back or its queue lifetime ends).
  const unchecked = deps.peerCrls ? [sender, sendingOrg].flatMap((l) => l.notes).filter((n) => n.code === 'revocation-unavailable' || n.code === 'revocation-not-checked') : [];
  if (unchecked.length > 0) {
    return { outcomes: [...outcomes, { kind: 'tempfail', rcptTo: ours, reason: `Revocation could not be checked, so the message is not accepted yet: ${[...new Set(unchecked.map((n) => n.message))].join(' ')}` }], log: chainLog(opened.messageId, v) };
  }
  const inspection = await runInspection(deps, v.content?.bytes ?? new Uint8Array(), 'inbound', msg.envelope);
  if ('tempfail' in inspection) return { outcomes: [...outcomes, { kind: 'tempfail', rcptTo: ours, reason: inspection.tempfail }], log: chainLog(opened.messageId, v) };
  const log = chainLog(opened.messageId, v, inspection.attestation.verdict);
  const blocked = blockedReason(inspection);
  if (blocked) return { outcomes: [...outcomes, { kind: 'bounce', rcptTo: ours, reason: blocked, code: 'inspection' }], log };
  for (const rcpt of ours) {
    const cert = await currentCertificate(deps, rcpt, '9D');
    if (!cert) {
      outcomes.push({ kind: 'bounce', rcptTo: [rcpt], reason: `${rcpt} is not an active member of this organisation.`, code: 'unknown-recipient' });
      continue;
    }
    const cms = await addLink(deps, opened.signed.cms, 'receiving-org', { mailFrom: msg.envelope.mailFrom, rcptTo: [rcpt] }, inspection);
    outcomes.push({ kind: 'deliver', mailFrom: msg.envelope.mailFrom, rcptTo: [rcpt], message: sealMessage(opened, cms, cert), ...heldOf(inspection) });
  }
  const orgCert = sendingOrg.path[0]?.sha256;
  return { outcomes, log, ...(orgCert ? { sendingOrgCertificate: orgCert } : {}) };
}
