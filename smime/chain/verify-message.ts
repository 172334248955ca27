/**
 * verifyMessage: one received message → one MessageVerification (model.ts), by SPEC §5
 * "Client, receive". Unwraps the cryptographic layers (decrypt pkcs7-mime enveloped /
 * authEnveloped with the given Decryptors, opaque signed-data, multipart/signed), verifies ① and its
 * countersignature chain ② ③ (or the one single-org link), forwards (④ ⑤ around a message/rfc822
 * that is verified on its own), and derives the state. Never throws: anything malformed or over a
 * limit gives state `failed` with a reason.
 */
import { DecryptionError, OID, UnsupportedAlgorithmError, decryptContent, verifySignedData, type SignatureCheck, type SignedDataResult } from '../cms';
import { readContentInfo } from '../cms/content-info';
import { SmimeError } from '../errors';
import type { Decryptor } from '../keys';
import { MimeError, MimeLimitError, analyzeSmime, compareHeaders, extractProtectedHeaders, parseMessage, type HeaderComparison, type MimeEntity, type MimeHeaders, type ParseOptions, type SmimeLayer } from '../mime';
import type { CertificateRole } from '../pki/oids';
import { displayedSender, domainOf, sameAddress } from './address';
import { derBlocks, readCertInfo, type CertInfo } from './certificate';
import type { ChainLink, ChainReason, ChainReasonCode, ChainRole, MessageVerification, SignedContent } from './model';
import { describePath, dnsWithin, readCertInfos, readCrl, reason, statusOf, validatePath, type CrlInfo, type PathResult, type SourcedCrls } from './path';

/** What a CRL source answers for a certificate's distribution point URLs (DER or PEM CRLs, and why any failed). */
export interface CrlAnswer {
  readonly crls: readonly (Uint8Array | string)[];
  readonly problems: readonly string[];
}

/**
 * Fetches CRLs from distribution points (the client does it over HTTP(S), with its cache; the core
 * never does I/O). It should not throw: a failure is a `problems` entry. CRLs are authenticated
 * here by their signature, whatever transport brought them.
 */
export type CrlSource = (urls: readonly string[]) => Promise<CrlAnswer>;

export interface VerifyMessageOptions {
  /** SSMAX root(s) and any other anchors (e.g. a LAMPS CA for ordinary S/MIME): DER or PEM. */
  readonly trustAnchors: readonly (Uint8Array | string)[];
  /** Keys to decrypt with (the card's 9D, an org key …); tried in order. */
  readonly decryptors?: readonly Decryptor[];
  /** CRLs (DER or PEM) of the org CAs and of the root. */
  readonly crls?: readonly (Uint8Array | string)[];
  /**
   * Asked for the CRLs at a certificate's distribution points when `crls` holds no current CRL of
   * its issuer. A certificate it cannot find a CRL for is noted `revocation-unavailable` (why);
   * one that names no distribution point is not noted.
   */
  readonly crlSource?: CrlSource;
  /** Evaluation time ("now"); default the current time. */
  readonly at?: Date;
  /** The user's own org's mail domains: ③ must be made by this org. */
  readonly ownOrgDomains?: readonly string[];
  /** The user's own org CA certificate (DER or PEM, e.g. from the pinned org bundle): ③ must be issued under it. Takes precedence over ownOrgDomains. */
  readonly ownOrgCa?: Uint8Array | string;
  /** The user's address: ③'s SMTP envelope must name it; its domain is the own org when ownOrgDomains is absent. */
  readonly recipient?: string;
  /** Further certificates to build paths with (e.g. from org bundles). */
  readonly extraCertificates?: readonly Uint8Array[];
  /** MIME parse limits (defaults: smime/mime DEFAULT_PARSE_LIMITS). */
  readonly limits?: ParseOptions;
}

/** Allowed clock skew between signing times. */
const SKEW_MS = 5 * 60_000;
/** Cryptographic layers (encryption / signature) unwrapped at most. */
const MAX_LAYERS = 4;
/** Countersignature levels followed at most (②, ③ and one beyond to report it). */
const MAX_COUNTERSIGNATURE_DEPTH = 4;
/** Forwards inside forwards verified at most. */
const MAX_FORWARD_DEPTH = 3;

interface Context {
  readonly anchors: readonly CertInfo[];
  readonly crls: readonly CrlInfo[];
  readonly decryptors: readonly Decryptor[];
  readonly now: Date;
  readonly extra: readonly Uint8Array[];
  readonly limits: ParseOptions | undefined;
  /** Own org: by domains, or (for a forward) by the org CA that delivered it to the forwarder. */
  readonly ownDomains: readonly string[];
  readonly ownOrgCa: string | undefined;
  readonly recipient: string | undefined;
  readonly forwardDepth: number;
  /**
   * A forwarded message came inside an encrypted forward. A forward carries the original without its
   * encryption layer (SPEC §4), so an hp=cipher original inside an encrypted forward still travelled
   * encrypted: its header protection mode agrees with how it was sent.
   */
  readonly insideEncrypted: boolean;
  /** Parsed certificates by DER, shared by all links and forwards of one verification. */
  readonly certCache: Map<string, CertInfo | null>;
  /** CRLs from the source by distribution point list, asked once per verification. */
  readonly crlsFor: ((urls: readonly string[]) => Promise<SourcedCrls>) | undefined;
}

function sourcedCrls(source: CrlSource): (urls: readonly string[]) => Promise<SourcedCrls> {
  const asked = new Map<string, Promise<SourcedCrls>>();
  const ask = async (urls: readonly string[]): Promise<SourcedCrls> => {
    let answer: CrlAnswer;
    try {
      answer = await source(urls);
    } catch (cause) {
      return { crls: [], problems: [cause instanceof Error ? cause.message : 'the CRL could not be fetched'] };
    }
    const crls: CrlInfo[] = [];
    const problems = [...answer.problems];
    for (const der of answer.crls.flatMap((x) => derBlocks(x, 'X509 CRL'))) {
      try {
        crls.push(readCrl(der));
      } catch {
        problems.push('a fetched CRL could not be read');
      }
    }
    return { crls, problems };
  };
  return (urls) => {
    const key = urls.join('\n');
    let hit = asked.get(key);
    if (!hit) {
      hit = ask(urls);
      asked.set(key, hit);
    }
    return hit;
  };
}

function certInfo(ctx: Context, der: Uint8Array): CertInfo | undefined {
  const key = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
  let hit = ctx.certCache.get(key);
  if (hit === undefined) {
    try {
      hit = readCertInfo(der);
    } catch {
      hit = null;
    }
    ctx.certCache.set(key, hit);
  }
  return hit ?? undefined;
}

function certInfos(ctx: Context, ders: readonly Uint8Array[]): CertInfo[] {
  return ders.flatMap((d) => certInfo(ctx, d) ?? []);
}

/** Verifies a complete message (wire bytes). Never throws. */
export async function verifyMessage(raw: Uint8Array, options: VerifyMessageOptions): Promise<MessageVerification> {
  const warnings: ChainReason[] = [];
  let ctx: Context;
  try {
    const anchors = readCertInfos(options.trustAnchors.flatMap((a) => derBlocks(a)));
    const crls: CrlInfo[] = [];
    for (const c of (options.crls ?? []).flatMap((x) => derBlocks(x, 'X509 CRL'))) {
      try {
        crls.push(readCrl(c));
      } catch {
        warnings.push(reason('crl-invalid', 'A CRL could not be read and was ignored.'));
      }
    }
    const ownDomains = (options.ownOrgDomains ?? (options.recipient ? [domainOf(options.recipient)] : [])).map((d) => d.toLowerCase());
    ctx = {
      anchors,
      crls,
      decryptors: options.decryptors ?? [],
      now: options.at ?? new Date(),
      extra: options.extraCertificates ?? [],
      limits: options.limits,
      ownDomains,
      ownOrgCa: ownOrgCaFingerprint(options.ownOrgCa),
      recipient: options.recipient,
      forwardDepth: 0,
      insideEncrypted: false,
      certCache: new Map(),
      crlsFor: options.crlSource ? sourcedCrls(options.crlSource) : undefined,
    };
  } catch (cause) {
    return failed([errorReason(cause)]);
  }
  const result = await verifyGuarded(raw, ctx);
  return warnings.length ? { ...result, warnings: [...warnings, ...result.warnings] } : result;
}

function ownOrgCaFingerprint(input: Uint8Array | string | undefined): string | undefined {
  if (input === undefined) return undefined;
  const der = derBlocks(input)[0];
  if (!der) throw new SmimeError('The own org CA certificate cannot be read.');
  return readCertInfo(der).sha256;
}

async function verifyGuarded(raw: Uint8Array, ctx: Context): Promise<MessageVerification> {
  try {
    return await verifyInner(raw, ctx);
  } catch (cause) {
    return failed([errorReason(cause)]);
  }
}

function errorReason(cause: unknown): ChainReason {
  if (cause instanceof MimeLimitError) return reason('limit-exceeded', cause.userMessage);
  if (cause instanceof DecryptionError) return reason('decryption-failed', cause.userMessage);
  if (cause instanceof UnsupportedAlgorithmError) return reason('unsupported-algorithm', cause.userMessage);
  if (cause instanceof MimeError || cause instanceof SmimeError) return reason('malformed', cause.userMessage);
  return reason('malformed', 'The message could not be processed: it is malformed.');
}

function failed(reasons: ChainReason[], extra: Partial<MessageVerification> = {}): MessageVerification {
  return {
    state: 'failed',
    reasons,
    warnings: [],
    links: [],
    displayedFrom: undefined,
    headers: [],
    partiallySigned: false,
    external: false,
    content: undefined,
    forwards: [],
    ...extra,
  };
}

interface Unwrapped {
  readonly layer: SmimeLayer;
  readonly encrypted: boolean;
  readonly partial: boolean;
  readonly warnings: ChainReason[];
}

type Step = { kind: 'signed'; value: Unwrapped } | { kind: 'stop'; result: MessageVerification };

/** Decrypts until a signature layer (or none) is reached. */
async function unwrap(outer: MimeEntity, ctx: Context): Promise<Step> {
  let root = outer;
  let encrypted = false;
  const warnings: ChainReason[] = [];
  for (let depth = 0; depth < MAX_LAYERS; depth++) {
    const s = analyzeSmime(root);
    if (s.coverage === 'none') {
      return { kind: 'stop', result: { ...failed([reason('unsigned', encrypted ? 'The message was encrypted but carries no signature.' : 'The message is not signed.')]), state: 'unsigned', forwards: await verifyForwards(s.forwards.map((f) => f.entity), ctx, undefined, encrypted) } };
    }
    const partial = s.coverage === 'partial';
    const layer = s.layers[0] ?? s.nestedLayers[0];
    if (!layer) return { kind: 'stop', result: failed([reason('unsupported-structure', 'The S/MIME structure of the message is not recognised.')]) };
    if (layer.kind === 'multipart-signed') return { kind: 'signed', value: { layer, encrypted, partial, warnings } };
    const der = layer.der();
    const ci = readContentInfo(der);
    if (ci.contentType === OID.signedData) return { kind: 'signed', value: { layer, encrypted, partial, warnings } };
    if (ci.contentType !== OID.envelopedData && ci.contentType !== OID.authEnvelopedData) {
      return { kind: 'stop', result: failed([reason('unsupported-structure', 'The message uses a CMS content type that is not supported (compressed or certificates only).')]) };
    }
    if (partial) return { kind: 'stop', result: failed([reason('partially-signed', 'Only part of this message is encrypted; the rest was added without protection.')], { partiallySigned: true }) };
    if (ctx.decryptors.length === 0) return { kind: 'stop', result: failed([reason('not-decrypted', 'The message is encrypted and no key to decrypt it was given.')]) };
    let plain: Uint8Array | undefined;
    let lastError: unknown;
    for (const d of ctx.decryptors) {
      try {
        plain = (await decryptContent(der, d)).content;
        break;
      } catch (cause) {
        lastError = cause;
      }
    }
    if (!plain) return { kind: 'stop', result: failed([lastError instanceof SmimeError && !(lastError instanceof DecryptionError) ? errorReason(lastError) : reason('decryption-failed', lastError instanceof SmimeError ? lastError.userMessage : 'The message could not be decrypted.')]) };
    encrypted = true;
    root = parseMessage(plain, ctx.limits).root;
  }
  return { kind: 'stop', result: failed([reason('limit-exceeded', `The message has more than ${MAX_LAYERS} encryption or signature layers.`)]) };
}

function mapCmsReasons(check: SignatureCheck): ChainReason[] {
  return check.reasons.map((r) => reason(r.code as ChainReasonCode, r.message));
}

interface Evaluated {
  link: Omit<ChainLink, 'role' | 'status' | 'reasons'> & { reasons: ChainReason[] };
  cert: CertInfo | undefined;
  path: PathResult | undefined;
  time: Date;
}

async function evaluate(check: SignatureCheck, sd: SignedDataResult, ctx: Context, role: CertificateRole, parentTime: Date | undefined): Promise<Evaluated> {
  const reasons = mapCmsReasons(check);
  const notes: ChainReason[] = [];
  let cert: CertInfo | undefined;
  let path: PathResult | undefined;
  const time = check.signingTime ?? ctx.now;
  if (!check.signingTime) notes.push(reason('signing-time-invalid', 'The signature carries no signing time; it was checked at the current time.'));
  else if (check.signingTime.getTime() > ctx.now.getTime() + SKEW_MS) reasons.push(reason('signing-time-invalid', `The signing time ${check.signingTime.toISOString()} is in the future.`));
  if (parentTime && time.getTime() + SKEW_MS < parentTime.getTime())
    reasons.push(reason('link-order', `This countersignature (${time.toISOString()}) is older than the signature it countersigns (${parentTime.toISOString()}).`));
  if (check.certificate) {
    try {
      cert = certInfo(ctx, check.certificate) ?? readCertInfo(check.certificate);
      path = await validatePath(cert, {
        anchors: ctx.anchors,
        intermediates: certInfos(ctx, [...sd.certificates, ...ctx.extra]),
        crls: ctx.crls,
        time,
        now: ctx.now,
        role,
        ...(ctx.crlsFor ? { crlsFor: ctx.crlsFor } : {}),
      });
      reasons.push(...path.reasons);
      notes.push(...path.notes);
    } catch (cause) {
      reasons.push(reason('certificate-malformed', cause instanceof SmimeError ? cause.userMessage : "The signer's certificate is malformed."));
    }
  }
  return {
    cert,
    path,
    time,
    link: {
      position: check.path,
      subject: cert?.subject ?? '',
      name: cert?.commonName,
      email: cert?.emails[0],
      domains: cert?.dnsNames ?? [],
      orgName: cert?.orgName,
      staffId: cert?.staffId,
      path: describePath(path?.path ?? (cert ? [cert] : [])),
      signingTime: check.signingTime,
      envelope: check.envelope,
      attestation: check.attestation,
      reasons,
      notes,
    },
  };
}

function finish(e: Evaluated, role: ChainRole): ChainLink {
  return { ...e.link, role, status: statusOf(e.link.reasons), reasons: e.link.reasons };
}

/** The org (CA certificate fingerprint) a link's certificate was issued under. */
function orgOf(e: Evaluated): string | undefined {
  return e.path?.profile === 'ssmax' ? e.path.orgCa?.sha256 : undefined;
}

function isOwnOrg(e: Evaluated, ctx: Context): boolean {
  const ca = orgOf(e);
  if (ctx.ownOrgCa !== undefined) return ca !== undefined && ca === ctx.ownOrgCa;
  return ca !== undefined && (e.cert?.dnsNames ?? []).some((d) => ctx.ownDomains.some((own) => dnsWithin(d, own) && dnsWithin(own, d)));
}

async function verifyInner(raw: Uint8Array, ctx: Context): Promise<MessageVerification> {
  const msg = parseMessage(raw, ctx.limits);
  const outerHeaders = msg.root.headers;
  const step = await unwrap(msg.root, ctx);
  if (step.kind === 'stop') return step.result;
  const { layer, encrypted, partial } = step.value;
  const warnings: ChainReason[] = [...step.value.warnings];
  const fatal: ChainReason[] = [];
  const soft: ChainReason[] = [];
  if (msg.malformed) warnings.push(reason('malformed', `The message structure has defects (${[...new Set(msg.defects.map((d) => d.code))].join(', ')}).`));
  if (partial) fatal.push(reason('partially-signed', 'Only part of this message is signed; the rest was added without a signature and is not shown as signed.'));

  // The signature and the signed content.
  let sd: SignedDataResult;
  let signedBytes: Uint8Array | undefined;
  if (layer.kind === 'multipart-signed') {
    signedBytes = layer.signedContent();
    sd = verifySignedData(layer.signature(), { detachedContent: signedBytes, extraCertificates: ctx.extra });
  } else {
    sd = verifySignedData(layer.der(), { extraCertificates: ctx.extra });
    signedBytes = sd.content;
  }
  if (sd.signers.length === 0) fatal.push(reason('no-signers', 'The signature block contains no signature.'));

  let content: SignedContent | undefined;
  let protectedHeaders: ReturnType<typeof extractProtectedHeaders>;
  let forwardEntities: MimeEntity[] = [];
  if (signedBytes) {
    const inner = parseMessage(signedBytes, ctx.limits);
    if (inner.defects.some((d) => d.code !== 'mixed-line-endings')) fatal.push(reason('malformed', 'The signed content is structurally damaged.'));
    const innerStructure = analyzeSmime(inner.root);
    if (innerStructure.coverage !== 'none') fatal.push(reason('unsupported-structure', 'The signed content is itself signed or encrypted again (nested S/MIME layers are not accepted).'));
    else if (!partial) forwardEntities = innerStructure.forwards.map((f) => f.entity);
    protectedHeaders = extractProtectedHeaders(inner.root, { encrypted: encrypted || ctx.insideEncrypted });
    if (!partial) content = { bytes: signedBytes, entity: inner.root, encrypted, headerProtection: protectedHeaders?.mode };
  }

  // Displayed sender and header protection.
  const headerSource: MimeHeaders = protectedHeaders?.headers ?? outerHeaders;
  const sender = displayedSender(headerSource, protectedHeaders?.duplicates ?? []);
  fatal.push(...sender.reasons);
  const headers: HeaderComparison[] = compareHeaders(protectedHeaders, outerHeaders);
  if (protectedHeaders) {
    for (const h of headers) {
      if (h.status === 'match') continue;
      if (h.name === 'From' && h.status === 'differs') fatal.push(reason('header-from-mismatch', `The outer From (${h.outer ?? ''}) differs from the signed From (${h.inner ?? ''}).`));
      else if (h.declaredBySender !== true && h.status !== 'missing-outer') warnings.push(reason('header-mismatch', `The ${h.name} header differs from its signed value.`));
    }
    if (protectedHeaders.envelopeMismatch) warnings.push(reason('header-mismatch', 'The header protection mode does not match how the message was sent (encrypted or not).'));
  }

  // Forwards inside the signed content.
  const forwarding = forwardEntities.length > 0;

  // ① and the countersignature chain.
  const links: ChainLink[] = [];
  const [top, ...others] = sd.signers;
  let external = false;
  let forwarderOrgCa: string | undefined;
  let forwarderAddress: string | undefined;
  if (top) {
    const topCertRole = top.certificate ? certInfo(ctx, top.certificate)?.ssmaxRole : undefined;
    const marksExternal = topCertRole === 'org-signing' && top.attestation?.hop === 'receiving-org';
    const first = await evaluate(top, sd, ctx, marksExternal ? 'org-signing' : 'employee-signature', undefined);
    const chain: Evaluated[] = [first];
    let level = top.countersignatures;
    let parentTime = first.time;
    for (let depth = 0; level.length > 0; depth++) {
      if (depth >= MAX_COUNTERSIGNATURE_DEPTH) {
        fatal.push(reason('chain-ambiguous', 'The chain of countersignatures is longer than SSMAX allows.'));
        break;
      }
      if (level.length > 1) fatal.push(reason('chain-ambiguous', 'A signature is countersigned more than once; the chain is ambiguous.'));
      const next = level[0] as SignatureCheck;
      const e = await evaluate(next, sd, ctx, 'org-signing', parentTime);
      chain.push(e);
      for (const extra of level.slice(1)) links.push(finish(await evaluate(extra, sd, ctx, 'org-signing', parentTime), 'external-org'));
      parentTime = e.time;
      level = next.countersignatures;
    }

    if (marksExternal) {
      external = true;
      const ownOk = isOwnOrg(first, ctx);
      if (!ownOk) first.link.reasons.push(reason('not-own-org', 'The external-mail marking was not made by your organisation.'));
      links.unshift(finish(first, 'receiving-org'));
      for (const e of chain.slice(1)) {
        e.link.reasons.push(reason('chain-ambiguous', 'A countersignature follows the receiving org, which ends the chain.'));
        links.push(finish(e, 'external-org'));
      }
    } else {
      const senderRole: ChainRole = forwarding ? 'forwarder' : 'sender';
      const senderOrgRole: ChainRole = forwarding ? 'forwarder-org' : 'sending-org';
      // ① address = displayed From.
      if (first.cert && sender.mailbox && !first.cert.emails.some((e) => sameAddress(e, sender.mailbox?.address ?? ''))) {
        first.link.reasons.push(reason('from-mismatch', `The message says it is from ${sender.mailbox.address}, but it was signed by ${first.cert.emails.join(', ') || 'a certificate without a mail address'}.`));
      }
      const senderOrg = orgOf(first);
      if (first.path?.profile === 'generic') soft.push(reason('generic-pki', 'The signature is ordinary S/MIME (not under the SSMAX root): the sender is signed, not verified by an organisation chain.'));
      const orgLinks = chain.slice(1);
      const ownKnown = ctx.ownOrgCa !== undefined || ctx.ownDomains.length > 0;
      const roled: Array<[Evaluated, ChainRole]> = [[first, senderRole]];
      orgLinks.forEach((e, i) => {
        const hop = e.link.attestation?.hop;
        if (i === 0) {
          const single = orgLinks.length === 1 && ownKnown && isOwnOrg(e, ctx);
          const role: ChainRole = single ? 'single-org' : senderOrgRole;
          if (senderOrg === undefined || orgOf(e) !== senderOrg) e.link.reasons.push(reason('wrong-org', "This org countersignature was not made by the organisation that issued the sender's certificate."));
          const expectHop = single ? ['single-org', 'receiving-org'] : ['sending-org', 'single-org'];
          if (!e.link.attestation) e.link.reasons.push(reason('attestation-missing', 'The org countersignature carries no inspection attestation.'));
          else if (!expectHop.includes(hop ?? '')) e.link.reasons.push(reason('link-order', `The org countersignature says it was made as ${hop ?? 'unknown'}, not as the sending org.`));
          roled.push([e, role]);
          if (single) checkRecipient(e, ctx);
        } else if (i === 1) {
          if (ownKnown && !isOwnOrg(e, ctx)) e.link.reasons.push(reason('not-own-org', 'The receiving-org countersignature was not made by your organisation.'));
          if (!e.link.attestation) e.link.reasons.push(reason('attestation-missing', 'The org countersignature carries no inspection attestation.'));
          else if (hop !== 'receiving-org') e.link.reasons.push(reason('link-order', `The org countersignature says it was made as ${hop ?? 'unknown'}, not as the receiving org.`));
          checkRecipient(e, ctx);
          roled.push([e, 'receiving-org']);
        } else {
          e.link.reasons.push(reason('chain-ambiguous', 'More org countersignatures than sender org and receiving org.'));
          roled.push([e, 'external-org']);
        }
      });
      if (orgLinks.length === 0) {
        if (first.path?.profile !== 'generic') soft.push(reason('chain-incomplete', 'No organisation countersigned this message.'));
      }
      else if (!ownKnown) soft.push(reason('own-org-unknown', 'Your organisation is not known, so the receiving-org link could not be checked.'));
      else if (orgLinks.length === 1 && roled[1]?.[1] !== 'single-org') soft.push(reason('chain-incomplete', 'Your organisation has not countersigned this message (no receiving-org link).'));
      links.unshift(...roled.map(([e, r]) => finish(e, r)));
      forwarderOrgCa = senderOrg;
      forwarderAddress = first.cert?.emails[0];
    }
    for (const o of others) {
      const e = await evaluate(o, sd, ctx, 'employee-signature', undefined);
      links.push(finish(e, 'additional-signer'));
    }
    if (others.length > 0) {
      if (links.some((l) => l.role === 'additional-signer' && l.status !== 'valid')) fatal.push(reason('signer-invalid', 'One of the signatures of this message is not valid.'));
      else soft.push(reason('multiple-signers', 'The message has more than one signer; SSMAX mail has exactly one.'));
    }
  }

  const forwards = forwarding ? await verifyForwards(forwardEntities, ctx, forwarderOrgCa === undefined ? undefined : { orgCa: forwarderOrgCa, recipient: forwarderAddress }, encrypted) : [];
  if (forwards.some((f) => f.state !== 'verified')) warnings.push(reason('forward-not-verified', 'A forwarded message inside is not verified; see its own chain.'));

  const linkReasons = links.filter((l) => l.status !== 'valid').flatMap((l) => l.reasons);
  let state: MessageVerification['state'];
  if (fatal.length > 0 || linkReasons.length > 0) state = 'failed';
  else if (external) state = 'unsigned';
  else if (soft.length > 0) state = 'signed';
  else state = 'verified';
  const reasons = dedupe([...fatal, ...linkReasons, ...(external ? [reason('external', 'Mail from outside SSMAX, delivered by your organisation marked as external: the sender is not verified.')] : []), ...(state === 'failed' ? [] : soft)]);
  return {
    state,
    reasons: state === 'verified' ? [] : reasons,
    warnings: dedupe(warnings),
    links,
    displayedFrom: sender.mailbox ? { name: sender.mailbox.name, address: sender.mailbox.address } : undefined,
    headers,
    partiallySigned: partial,
    external,
    content,
    forwards,
  };
}

function checkRecipient(e: Evaluated, ctx: Context): void {
  const rcpt = e.link.envelope?.rcptTo;
  if (ctx.recipient && rcpt && !rcpt.some((r) => sameAddress(r, ctx.recipient ?? ''))) {
    e.link.reasons.push(reason('recipient-not-in-envelope', `Your organisation delivered this message to ${rcpt.join(', ')}, not to ${ctx.recipient}.`));
  }
}

function dedupe(list: ChainReason[]): ChainReason[] {
  const seen = new Set<string>();
  return list.filter((r) => {
    const k = `${r.code}\u0000${r.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/**
 * A forward is verified as a message of its own; its receiving org is the org that delivered it to
 * the forwarder (the forwarder's org CA), and its recipient the forwarder.
 */
async function verifyForwards(
  entities: readonly MimeEntity[],
  ctx: Context,
  forwarder: { orgCa: string; recipient: string | undefined } | undefined,
  encrypted: boolean,
): Promise<MessageVerification[]> {
  const out: MessageVerification[] = [];
  for (const entity of entities) {
    if (ctx.forwardDepth + 1 > MAX_FORWARD_DEPTH) {
      out.push(failed([reason('limit-exceeded', `Forwarded messages are nested more than ${MAX_FORWARD_DEPTH} deep.`)]));
      continue;
    }
    const inner = entity.message;
    if (!inner) continue;
    const bytes = inner.raw();
    const insideEncrypted = encrypted || ctx.insideEncrypted;
    const sub: Context = forwarder
      ? { ...ctx, ownOrgCa: forwarder.orgCa, ownDomains: [], recipient: forwarder.recipient, forwardDepth: ctx.forwardDepth + 1, insideEncrypted }
      : { ...ctx, forwardDepth: ctx.forwardDepth + 1, recipient: undefined, insideEncrypted };
    out.push(await verifyGuarded(bytes, sub));
  }
  return out;
}
