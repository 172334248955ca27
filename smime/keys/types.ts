/**
 * Key-operation interfaces of the S/MIME core.
 *
 * A private key may live on a staff smartcard (PIV 9C / 9D), in a PKCS#11 token of the org node, or
 * in a software key file. The CMS code never touches key material: it asks a `Signer` to sign a
 * digest and a `Decryptor` to do the one private operation a recipient needs (raw RSA or ECDH).
 * Implementations must be interchangeable, so the contract below is exact about byte formats.
 */

/** Hash functions we accept for signatures and digests (SHA-1 is deliberately absent). */
export type HashName = 'SHA-256' | 'SHA-384' | 'SHA-512';

/** The signature algorithm a `Signer` produces, which also fixes the SignerInfo signatureAlgorithm. */
export type SignatureAlgorithm =
  /** RSASSA-PKCS1-v1_5 (RFC 8017 §8.2): the EMSA block wraps a DER DigestInfo. */
  | { readonly name: 'RSASSA-PKCS1-v1_5'; readonly hash: HashName }
  /** RSASSA-PSS (RFC 8017 §8.1, RFC 4056 in CMS) with MGF1 over the same hash and the given salt length. */
  | { readonly name: 'RSA-PSS'; readonly hash: HashName; readonly saltLength: number }
  /** ECDSA on P-256 (RFC 5753 / RFC 5758); only P-256 is in the SSMAX profile. */
  | { readonly name: 'ECDSA'; readonly hash: HashName; readonly namedCurve: 'P-256' };

/** What a signer is asked to sign. */
export interface SignRequest {
  /**
   * hash(data) with `algorithm.hash`. This is what a token signs: a card implementation builds the
   * RSA padding from it (see `encodeEmsaPkcs1v15` / `encodeEmsaPss`) and runs a raw RSA operation,
   * or passes it to on-card ECDSA.
   */
  readonly digest: Uint8Array;
  /**
   * The bytes that were hashed (in CMS: the DER of the signed attributes, a few hundred bytes).
   * Given so that software keys can use the ordinary sign-the-message API of node:crypto; a token
   * implementation ignores it. Implementations that use it must check hash(data) = digest.
   */
  readonly data: Uint8Array;
}

/**
 * A private signing key with its certificate (card slot 9C, the org signing key, ...).
 */
export interface Signer {
  /** The signer's certificate, DER. Identifies the signer in the SignerInfo (issuerAndSerialNumber). */
  readonly certificate: Uint8Array;
  /** The algorithm `sign` produces; must match the certificate's public key. */
  readonly algorithm: SignatureAlgorithm;
  /**
   * Signs and returns the signature value exactly as CMS SignerInfo.signature carries it:
   * RSA (both paddings): the integer as a big-endian octet string of the modulus length;
   * ECDSA: the DER `Ecdsa-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }` (RFC 5753 §2.1.1; see
   * `ecdsaRawToDer` when a token returns r||s).
   * Errors (card removed, PIN needed, ...) are thrown as `KeyOperationError` or a subclass.
   */
  sign(request: SignRequest): Promise<Uint8Array>;
}

/** A recipient private key whose RSA private operation is available raw (no padding inside). */
export interface RsaDecryptor {
  readonly kind: 'rsa';
  /** The recipient certificate, DER (key-management cert 9D, or the org encryption cert). */
  readonly certificate: Uint8Array;
  /** Modulus size in bytes (256 for RSA-2048). */
  readonly modulusLength: number;
  /**
   * The raw RSA private operation m = c^d mod n (RFC 8017 RSADP), input and output big-endian and
   * exactly `modulusLength` bytes long (left-padded with zeros). Cards (PIV GENERAL AUTHENTICATE)
   * only offer this, so the host removes OAEP or PKCS#1 v1.5 padding itself (see `cms/`).
   */
  rsaRawDecrypt(block: Uint8Array): Promise<Uint8Array>;
}

/** A recipient private key on P-256 that can do ECDH (card 9D with an EC key, org encryption key). */
export interface EcdhDecryptor {
  readonly kind: 'ecdh';
  readonly certificate: Uint8Array;
  readonly namedCurve: 'P-256';
  /**
   * ECDH (RFC 5753 / SEC 1 §3.3.1): returns the shared secret Z, i.e. the 32-byte big-endian
   * x-coordinate of d·Q. `peerPublicPoint` is the originator's point, uncompressed (0x04 || X || Y).
   * The implementation must reject points not on the curve (node:crypto and cards do).
   */
  ecdh(peerPublicPoint: Uint8Array): Promise<Uint8Array>;
}

/** The one private operation a CMS recipient needs. */
export type Decryptor = RsaDecryptor | EcdhDecryptor;
