import type { HashName, SignatureAlgorithm } from '../keys';
import { Tag, decodeOid, expectTag, integer, nullValue, oid, readInteger, seq, der, ctx, type Element } from './der';
import { UnsupportedAlgorithmError } from './errors';
import { OID } from './oids';

/**
 * Algorithm identifiers: what we emit, and what we accept when reading. Deliberately rejected,
 * with an `UnsupportedAlgorithmError`: SHA-1 and MD5 (collisions), DSA (not in S/MIME 4.0),
 * RC2 and DES (broken ciphers). 3DES is read-only (legacy mail, RFC 4134 vectors), never emitted.
 */

const hashByOid: Record<string, HashName> = { [OID.sha256]: 'SHA-256', [OID.sha384]: 'SHA-384', [OID.sha512]: 'SHA-512' };
const oidByHash: Record<HashName, string> = { 'SHA-256': OID.sha256, 'SHA-384': OID.sha384, 'SHA-512': OID.sha512 };
const weakNames: Record<string, string> = {
  [OID.sha1]: 'SHA-1',
  [OID.md5]: 'MD5',
  [OID.sha1WithRSAEncryption]: 'SHA-1 with RSA',
  [OID.ecdsaWithSha1]: 'ECDSA with SHA-1',
  [OID.dsa]: 'DSA',
  [OID.dsaWithSha1]: 'DSA with SHA-1',
  [OID.rc2Cbc]: 'RC2',
  [OID.dhSinglePassStdDhSha1Kdf]: 'ECDH with SHA-1 KDF',
};

export function rejectWeak(algorithmOid: string): never {
  const name = weakNames[algorithmOid];
  throw new UnsupportedAlgorithmError(name ?? algorithmOid, name ? `The message uses ${name}, which SSMAX does not accept (too weak).` : undefined);
}

export function digestAlgorithmIdentifier(hash: HashName): Uint8Array {
  // RFC 5754 §2: parameters absent for the SHA-2 family.
  return seq(oid(oidByHash[hash]));
}

export function readDigestAlgorithm(el: Element): HashName {
  const [idEl] = expectTag(el, Tag.SEQUENCE, 'AlgorithmIdentifier').children();
  const id = decodeOid(expectTag(idEl, Tag.OID, 'algorithm OID'));
  return hashByOid[id] ?? rejectWeak(id);
}

export function hashOid(hash: HashName): string {
  return oidByHash[hash];
}

const rsaPkcs1ByHash: Record<HashName, string> = {
  'SHA-256': OID.sha256WithRSAEncryption,
  'SHA-384': OID.sha384WithRSAEncryption,
  'SHA-512': OID.sha512WithRSAEncryption,
};
const ecdsaByHash: Record<HashName, string> = { 'SHA-256': OID.ecdsaWithSha256, 'SHA-384': OID.ecdsaWithSha384, 'SHA-512': OID.ecdsaWithSha512 };

function pssParams(hash: HashName, saltLength: number): Uint8Array {
  // RFC 4055 §3.1: hashAlgorithm [0], maskGenAlgorithm [1] MGF1(hash), saltLength [2].
  const hashAlg = digestAlgorithmIdentifier(hash);
  return seq(der(ctx(0), hashAlg), der(ctx(1), seq(oid(OID.mgf1), hashAlg)), der(ctx(2), integer(saltLength)));
}

/** SignerInfo.signatureAlgorithm for what a Signer produces. */
export function signatureAlgorithmIdentifier(alg: SignatureAlgorithm): Uint8Array {
  switch (alg.name) {
    case 'RSASSA-PKCS1-v1_5':
      return seq(oid(rsaPkcs1ByHash[alg.hash]), nullValue());
    case 'RSA-PSS':
      return seq(oid(OID.rsassaPss), pssParams(alg.hash, alg.saltLength));
    case 'ECDSA':
      return seq(oid(ecdsaByHash[alg.hash]));
  }
}

/** How to verify a SignerInfo signature with node:crypto. */
export type VerifyAlgorithm =
  | { readonly kind: 'rsa-pkcs1'; readonly hash: HashName | undefined }
  | { readonly kind: 'rsa-pss'; readonly hash: HashName; readonly saltLength: number }
  | { readonly kind: 'ecdsa'; readonly hash: HashName | undefined };

/**
 * Reads SignerInfo.signatureAlgorithm. `hash` undefined means "the digestAlgorithm's hash"
 * (rsaEncryption / id-ecPublicKey as signature algorithm, which OpenSSL and others emit).
 */
export function readSignatureAlgorithm(el: Element): VerifyAlgorithm {
  const [idEl, params] = expectTag(el, Tag.SEQUENCE, 'signature AlgorithmIdentifier').children();
  const id = decodeOid(expectTag(idEl, Tag.OID, 'algorithm OID'));
  switch (id) {
    case OID.rsaEncryption:
      return { kind: 'rsa-pkcs1', hash: undefined };
    case OID.sha256WithRSAEncryption:
      return { kind: 'rsa-pkcs1', hash: 'SHA-256' };
    case OID.sha384WithRSAEncryption:
      return { kind: 'rsa-pkcs1', hash: 'SHA-384' };
    case OID.sha512WithRSAEncryption:
      return { kind: 'rsa-pkcs1', hash: 'SHA-512' };
    case OID.ecPublicKey:
      return { kind: 'ecdsa', hash: undefined };
    case OID.ecdsaWithSha256:
      return { kind: 'ecdsa', hash: 'SHA-256' };
    case OID.ecdsaWithSha384:
      return { kind: 'ecdsa', hash: 'SHA-384' };
    case OID.ecdsaWithSha512:
      return { kind: 'ecdsa', hash: 'SHA-512' };
    case OID.rsassaPss:
      return readPssParams(params);
    default:
      return rejectWeak(id);
  }
}

function readPssParams(params: Element | undefined): VerifyAlgorithm {
  // Defaults of RFC 4055 are SHA-1 / MGF1-SHA-1 / 20: absent fields therefore mean SHA-1, which we reject.
  let hash: HashName | undefined;
  let mgfHash: HashName | undefined;
  let saltLength = 20;
  for (const field of params ? expectTag(params, Tag.SEQUENCE, 'RSASSA-PSS-params').children() : []) {
    const [inner] = field.children();
    if (!inner) continue;
    if (field.tag === ctx(0)) hash = readDigestAlgorithm(inner);
    else if (field.tag === ctx(1)) {
      const [mgfOid, mgfParams] = expectTag(inner, Tag.SEQUENCE, 'MGF AlgorithmIdentifier').children();
      if (decodeOid(expectTag(mgfOid, Tag.OID, 'MGF OID')) !== OID.mgf1 || !mgfParams) throw new UnsupportedAlgorithmError('PSS mask generation other than MGF1');
      mgfHash = readDigestAlgorithm(mgfParams);
    } else if (field.tag === ctx(2)) saltLength = Number(readInteger(inner));
  }
  if (!hash) return rejectWeak(OID.sha1);
  if (mgfHash !== hash) throw new UnsupportedAlgorithmError('RSA-PSS with a different MGF1 hash');
  return { kind: 'rsa-pss', hash, saltLength };
}
