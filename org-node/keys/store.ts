import type { webcrypto } from 'node:crypto';
import type { Decryptor, Signer } from '../../smime/keys';
import { OrgNodeError } from '../errors';

/**
 * Where the organisation keeps its private keys (SPEC §2, §10): an encrypted PKCS#8 key file for a
 * small office and the tests, a PKCS#11 token (HSM) at scale. Both hand out the S/MIME core's
 * `Signer` / `Decryptor`, so the CMS code never knows where a key lives, and an issuing key for the
 * PKI profile builders (`smime/pki`), which sign certificates and CRLs with a WebCrypto key.
 */

export type OrgKeyAlgorithm = 'RSA-2048' | 'P-256';

/** What the key is for. A key has exactly one purpose; the CA key never signs mail and vice versa. */
export type OrgKeyPurpose = 'ca' | 'signing' | 'encryption';

export interface OrgKeyInfo {
  /** Stable identifier (32 hex digits): file name in the key directory, CKA_ID on a token. */
  readonly id: string;
  readonly purpose: OrgKeyPurpose;
  readonly algorithm: OrgKeyAlgorithm;
  /** The public key, SubjectPublicKeyInfo DER (goes into the CSR or certificate). */
  readonly spki: Uint8Array;
}

export interface OrgKeyStore {
  readonly kind: 'file' | 'pkcs11';
  /** Generates a new key pair; the private half never leaves the store unencrypted (file) or at all (token). */
  generate(purpose: OrgKeyPurpose, algorithm: OrgKeyAlgorithm): Promise<OrgKeyInfo>;
  list(): Promise<OrgKeyInfo[]>;
  get(id: string): Promise<OrgKeyInfo>;
  /** A signer for CMS (org countersignatures, the org bundle) with the key's certificate. */
  signer(id: string, certificate: Uint8Array): Promise<Signer>;
  /** The recipient operation (raw RSA or ECDH) for the key's encryption certificate. */
  decryptor(id: string, certificate: Uint8Array): Promise<Decryptor>;
  /** A WebCrypto private key the `smime/pki` builders can issue certificates, CRLs and CSRs with. */
  issuingKey(id: string): Promise<webcrypto.CryptoKey>;
  close(): Promise<void>;
}

/** The store could not be opened or used (missing token, unreadable key directory, ...). */
export class KeyStoreError extends OrgNodeError {}

/** The passphrase of an encrypted key file, or the PIN of a token, is wrong. */
export class WrongSecretError extends KeyStoreError {}

/** No key with this id is in the store. */
export class KeyNotFoundError extends KeyStoreError {}

/** The key exists but not for this use (e.g. decrypting with the CA key). */
export class KeyPurposeError extends KeyStoreError {}

export function assertPurpose(info: OrgKeyInfo, allowed: readonly OrgKeyPurpose[], use: string): void {
  if (!allowed.includes(info.purpose)) throw new KeyPurposeError(`Key ${info.id} is an org ${info.purpose} key and cannot be used for ${use}.`);
}
