/**
 * Recognition of S/MIME structures in a parsed MIME tree (RFC 8551 §3), and of what is *not*
 * covered by them.
 *
 * One MIME tree holds at most what can be seen without cryptography: after the CMS layer decrypts an
 * enveloped-data or unwraps an opaque signed-data, the caller parses the inner bytes and analyses
 * that tree again. The model therefore describes, per tree, the S/MIME layers at its root (the
 * cryptographic envelope), the payload when it is visible, and every content entity outside any
 * layer, so that verification can say "partially signed" and the UI never shows unsigned text as
 * signed (SPEC §5: the displayed content must be exactly the signed content).
 */
import { toCanonicalCrlf } from './canonical';
import { MimeError } from './errors';
import { walkEntities, type MimeEntity } from './parse';

export type SmimeType =
  'signed-data' | 'enveloped-data' | 'authEnveloped-data' | 'compressed-data' | 'certs-only';

/** A digest named by micalg (RFC 8551 §3.5.3), in WebCrypto spelling. */
export type MicalgDigest = 'SHA-1' | 'SHA-224' | 'SHA-256' | 'SHA-384' | 'SHA-512';

const MICALG_TO_DIGEST: Record<string, MicalgDigest> = {
  'sha-1': 'SHA-1',
  sha1: 'SHA-1',
  'sha-224': 'SHA-224',
  'sha-256': 'SHA-256',
  'sha-384': 'SHA-384',
  'sha-512': 'SHA-512',
};

const DIGEST_TO_MICALG: Record<MicalgDigest, string> = {
  'SHA-1': 'sha-1',
  'SHA-224': 'sha-224',
  'SHA-256': 'sha-256',
  'SHA-384': 'sha-384',
  'SHA-512': 'sha-512',
};

/** micalg parameter value for a digest (RFC 8551 §3.5.3.2). */
export function micalgFor(digest: MicalgDigest): string {
  return DIGEST_TO_MICALG[digest];
}

/** Digests named by a micalg parameter ("sha-256", or a comma list for several signers); unknown names are kept out. */
export function parseMicalg(value: string | undefined): MicalgDigest[] {
  if (!value) return [];
  return value
    .split(',')
    .map((s) => MICALG_TO_DIGEST[s.trim().toLowerCase()])
    .filter((d): d is MicalgDigest => d !== undefined);
}

const SIGNATURE_TYPES = new Set(['application/pkcs7-signature', 'application/x-pkcs7-signature']);
const PKCS7_MIME_TYPES = new Set(['application/pkcs7-mime', 'application/x-pkcs7-mime']);
const SMIME_TYPES: Record<string, SmimeType> = {
  'signed-data': 'signed-data',
  'enveloped-data': 'enveloped-data',
  'authenveloped-data': 'authEnveloped-data',
  'compressed-data': 'compressed-data',
  'certs-only': 'certs-only',
};

/** multipart/signed with protocol application/pkcs7-signature (RFC 8551 §3.5.3). */
export interface MultipartSignedLayer {
  readonly kind: 'multipart-signed';
  readonly entity: MimeEntity;
  /** First part: the signed content, headers included. */
  readonly signedPart: MimeEntity;
  /** Second part: application/pkcs7-signature. */
  readonly signatureEntity: MimeEntity;
  /** Digests the micalg parameter announces (informative; the SignerInfo is authoritative). */
  readonly micalg: MicalgDigest[];
  /** Exact bytes of the signed part in CRLF-canonical form: what the signature is checked over. */
  signedContent(): Buffer;
  /** The detached CMS SignedData, DER. */
  signature(): Buffer;
}

/** application/pkcs7-mime (RFC 8551 §3.2): opaque signed-data, enveloped-data, authEnveloped-data … */
export interface Pkcs7MimeLayer {
  readonly kind: 'pkcs7-mime';
  readonly entity: MimeEntity;
  /** From the smime-type parameter; undefined when it is missing or unknown (the CMS content type decides). */
  readonly smimeType: SmimeType | undefined;
  /** The CMS ContentInfo, DER. */
  der(): Buffer;
}

export type SmimeLayer = MultipartSignedLayer | Pkcs7MimeLayer;

export type SmimeFindingCode =
  | 'signed-part-inside-unsigned-content'
  | 'unsigned-part-in-multipart-signed'
  | 'malformed-multipart-signed'
  | 'unsupported-signature-protocol'
  | 'missing-smime-type'
  | 'legacy-x-pkcs7-type'
  | 'wrapped-message';

export interface SmimeFinding {
  readonly code: SmimeFindingCode;
  readonly path: string;
  readonly message: string;
}

/**
 * How much of this tree the S/MIME layers cover.
 * - `complete`: the root is an S/MIME layer and nothing lies outside it;
 * - `partial`: some layer exists but content lies outside it (unsigned text next to or around a
 *   signed part, a third part in multipart/signed …) — never to be shown as signed as a whole;
 * - `none`: no S/MIME layer at all.
 */
export type SmimeCoverage = 'complete' | 'partial' | 'none';

export interface ForwardedMessage {
  /** The message/rfc822 entity. */
  readonly entity: MimeEntity;
  /** Analysis of the forwarded message itself (its own signatures are the original sender's). */
  readonly structure: SmimeStructure;
}

export interface SmimeStructure {
  readonly root: MimeEntity;
  /** S/MIME layers from the root inwards (e.g. multipart/signed whose signed part is itself signed). */
  readonly layers: SmimeLayer[];
  /**
   * The cryptographic payload when it is visible in this tree (the innermost signed part, or the
   * inner message of a message/rfc822 forwarded="no" wrapper); undefined
   * when the innermost layer is opaque (pkcs7-mime: the payload is inside the DER) or there is no layer.
   */
  readonly payload: MimeEntity | undefined;
  readonly coverage: SmimeCoverage;
  /** S/MIME layers found below unprotected content (the cause of `partial`, when the root is no layer). */
  readonly nestedLayers: SmimeLayer[];
  /** Leaf entities with content that no layer covers (only listed when some layer exists). */
  readonly unprotectedParts: MimeEntity[];
  /** message/rfc822 entities (forwards), each analysed on its own. */
  readonly forwards: ForwardedMessage[];
  readonly findings: SmimeFinding[];
}

function layerOf(entity: MimeEntity, findings: SmimeFinding[]): SmimeLayer | undefined {
  const type = entity.mediaType;
  if (type === 'multipart/signed') {
    const protocol = entity.contentType.params['protocol']?.toLowerCase();
    if (protocol === undefined || !SIGNATURE_TYPES.has(protocol)) {
      findings.push({
        code: 'unsupported-signature-protocol',
        path: entity.path,
        message: `A signed part uses protocol "${protocol ?? 'none'}", which is not S/MIME; it is treated as unsigned.`,
      });
      return undefined;
    }
    const [signedPart, signatureEntity] = entity.children;
    if (!signedPart || !signatureEntity || !SIGNATURE_TYPES.has(signatureEntity.mediaType)) {
      findings.push({
        code: 'malformed-multipart-signed',
        path: entity.path,
        message: 'A multipart/signed entity does not consist of content followed by an S/MIME signature.',
      });
      return undefined;
    }
    return {
      kind: 'multipart-signed',
      entity,
      signedPart,
      signatureEntity,
      micalg: parseMicalg(entity.contentType.params['micalg']),
      signedContent: () => toCanonicalCrlf(signedPart.raw()),
      signature: () => signatureEntity.body(),
    };
  }
  if (PKCS7_MIME_TYPES.has(type)) {
    if (type.startsWith('application/x-')) {
      findings.push({
        code: 'legacy-x-pkcs7-type',
        path: entity.path,
        message: `Legacy media type ${type}.`,
      });
    }
    const raw = entity.contentType.params['smime-type']?.toLowerCase();
    const smimeType = raw === undefined ? undefined : SMIME_TYPES[raw];
    if (smimeType === undefined) {
      findings.push({
        code: 'missing-smime-type',
        path: entity.path,
        message: 'An S/MIME part does not say what it contains (smime-type).',
      });
    }
    return { kind: 'pkcs7-mime', entity, smimeType, der: () => entity.body() };
  }
  // application/octet-stream with a .p7m name (RFC 8551 §3.2.2 allows it for gateways).
  if (type === 'application/octet-stream' && /\.p7m$/i.test(entity.filename ?? '')) {
    findings.push({
      code: 'missing-smime-type',
      path: entity.path,
      message: 'An S/MIME part is sent as application/octet-stream (smime.p7m).',
    });
    return { kind: 'pkcs7-mime', entity, smimeType: undefined, der: () => entity.body() };
  }
  return undefined;
}

/** True for an entity a user would see as content: any leaf except an empty or whitespace-only text part. */
function hasContent(entity: MimeEntity): boolean {
  if (entity.isMultipart && entity.children.length > 0) return false;
  if (entity.contentType.type !== 'text') return true;
  try {
    return entity.body().some((b) => b !== 0x20 && b !== 0x09 && b !== 0x0d && b !== 0x0a);
  } catch {
    return true;
  }
}

function collectForwards(entity: MimeEntity, depthBudget: number, out: ForwardedMessage[]): void {
  for (const e of walkEntities(entity)) {
    if (e.message) out.push({ entity: e, structure: analyzeInner(e.message, depthBudget - 1) });
  }
}

/** Analyse a parsed tree (the root of a message or of a decrypted/unwrapped payload). */
export function analyzeSmime(root: MimeEntity): SmimeStructure {
  return analyzeInner(root, 64);
}

function analyzeInner(root: MimeEntity, depthBudget: number): SmimeStructure {
  if (depthBudget <= 0) throw new MimeError('Forwarded messages are nested too deeply.');
  const findings: SmimeFinding[] = [];
  const layers: SmimeLayer[] = [];
  const unprotectedParts: MimeEntity[] = [];
  const nestedLayers: SmimeLayer[] = [];
  const forwards: ForwardedMessage[] = [];

  // The cryptographic envelope: layers from the root inwards.
  let current: MimeEntity | undefined = root;
  let payload: MimeEntity | undefined;
  while (current) {
    const layer = layerOf(current, findings);
    if (!layer) {
      payload = layers.length > 0 ? current : undefined;
      break;
    }
    layers.push(layer);
    if (layer.kind === 'pkcs7-mime') break;
    // Anything after the signature part is not covered by the signature.
    for (const extra of layer.entity.children.slice(2)) {
      findings.push({
        code: 'unsigned-part-in-multipart-signed',
        path: extra.path,
        message: 'A signed message carries an extra part that the signature does not cover.',
      });
      for (const e of walkEntities(extra)) if (hasContent(e)) unprotectedParts.push(e);
    }
    current = layer.signedPart;
  }

  if (layers.length === 0) {
    // No envelope at the root: look for layers further down (e.g. a list footer added around a signed part).
    const covered = new Set<MimeEntity>();
    const visit = (e: MimeEntity): void => {
      const layer = layerOf(e, []);
      if (layer) {
        nestedLayers.push(layer);
        for (const inside of walkEntities(e)) covered.add(inside);
        findings.push({
          code: 'signed-part-inside-unsigned-content',
          path: e.path,
          message: 'Only part of this message is signed or encrypted; the rest was added without protection.',
        });
        return;
      }
      for (const c of e.children) visit(c);
    };
    visit(root);
    if (nestedLayers.length > 0) {
      for (const e of walkEntities(root)) if (!covered.has(e) && hasContent(e)) unprotectedParts.push(e);
    }
    // Re-run layerOf with findings for the nested layers so their own problems are reported.
    for (const l of nestedLayers) layerOf(l.entity, findings);
  }

  // RFC 8551 §3.1 / RFC 9788 §4.10 "wrapped message": the whole payload is a message/rfc822 marked
  // forwarded="no". It is the message itself, not a forward; its header section is the (legacy)
  // protected one. Without the marker a lone message/rfc822 stays a forward: the two cannot be told
  // apart, and taking a forward's headers for the sender's own would be the worse mistake.
  if (
    payload?.message &&
    payload.mediaType === 'message/rfc822' &&
    payload.contentType.params['forwarded']?.toLowerCase() === 'no'
  ) {
    findings.push({
      code: 'wrapped-message',
      path: payload.path,
      message:
        'The signed content is a wrapped message (legacy header protection); its inner headers are the protected ones.',
    });
    payload = payload.message;
  }
  if (payload) collectForwards(payload, depthBudget, forwards);
  else if (layers.length === 0) collectForwards(root, depthBudget, forwards);

  const coverage: SmimeCoverage =
    layers.length === 0 && nestedLayers.length === 0
      ? 'none'
      : layers.length > 0 && unprotectedParts.length === 0
        ? 'complete'
        : 'partial';
  return { root, layers, payload, coverage, nestedLayers, unprotectedParts, forwards, findings };
}
