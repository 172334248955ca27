import { X509Certificate, createPublicKey, randomBytes, type webcrypto } from 'node:crypto';
import { createRequire } from 'node:module';
import type * as Pkcs11Types from 'pkcs11js';
import { ecdsaRawToDer, encodeDigestInfo, KeyOperationError, type Decryptor, type SignRequest, type Signer, type SignatureAlgorithm } from '../../smime/keys';
import { signerIssuingKey } from '../../smime/pki';
import { KeyNotFoundError, KeyStoreError, WrongSecretError, assertPurpose, type OrgKeyAlgorithm, type OrgKeyInfo, type OrgKeyPurpose, type OrgKeyStore } from './store';

/**
 * Org keys in a PKCS#11 token (an HSM in production, SoftHSM2 in the tests). Private keys are
 * generated on the token as sensitive, non-extractable token objects; signing (CKM_ECDSA /
 * CKM_RSA_PKCS over a DigestInfo), raw RSA decryption (CKM_RSA_X_509) and ECDH (CKM_ECDH1_DERIVE)
 * run on the token. A key is found by CKA_ID (16 random bytes = the key id); its purpose is in the
 * label `ssmax-<purpose>-<id>` so that `pkcs11-tool --list-objects` shows what each key is for.
 */

// pkcs11js is CommonJS and defines its constants at run time: an ESM namespace import (as tsx
// builds it) sees only the statically detectable names, so the constants would be undefined.
const pkcs11js = createRequire(import.meta.url)('pkcs11js') as typeof Pkcs11Types;

export interface Pkcs11StoreOptions {
  /** Path of the PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so. */
  readonly modulePath: string;
  /** Token label (as given at token initialisation). */
  readonly tokenLabel: string;
  /** User PIN (from an env var or a file, never the command line). */
  readonly pin: string;
}

/** The module could not be loaded or the token is not there. */
export class TokenUnavailableError extends KeyStoreError {}

interface LoadedModule {
  readonly lib: Pkcs11Types.PKCS11;
  users: number;
}

// C_Initialize may be called once per process and module: share the loaded module between stores.
const modules = new Map<string, LoadedModule>();

function loadModule(path: string): LoadedModule {
  const existing = modules.get(path);
  if (existing) {
    existing.users += 1;
    return existing;
  }
  const lib = new pkcs11js.PKCS11();
  try {
    lib.load(path);
  } catch (cause) {
    throw new TokenUnavailableError(`Cannot load the PKCS#11 module ${path}.`, { cause });
  }
  try {
    lib.C_Initialize();
  } catch (cause) {
    if (!(cause instanceof pkcs11js.Pkcs11Error && cause.code === pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
      lib.close();
      throw new TokenUnavailableError(`The PKCS#11 module ${path} failed to initialise.`, { cause });
    }
  }
  const loaded = { lib, users: 1 };
  modules.set(path, loaded);
  return loaded;
}

function releaseModule(path: string): void {
  const loaded = modules.get(path);
  if (!loaded) return;
  loaded.users -= 1;
  if (loaded.users > 0) return;
  modules.delete(path);
  try {
    loaded.lib.C_Finalize();
  } finally {
    loaded.lib.close();
  }
}

const P256_OID_DER = Buffer.from('06082a8648ce3d030107', 'hex');
const LABEL_PREFIX = 'ssmax-';

function isPurpose(value: string): value is OrgKeyPurpose {
  return value === 'ca' || value === 'signing' || value === 'encryption';
}

export class Pkcs11OrgKeyStore implements OrgKeyStore {
  readonly kind = 'pkcs11' as const;
  readonly #modulePath: string;
  readonly #lib: Pkcs11Types.PKCS11;
  readonly #session: Buffer;
  #closed = false;
  // A session runs one cryptographic operation at a time (C_SignInit … C_Sign): async callers
  // (concurrent enrollments, parallel mail) queue here instead of getting CKR_OPERATION_ACTIVE.
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(modulePath: string, lib: Pkcs11Types.PKCS11, session: Buffer) {
    this.#modulePath = modulePath;
    this.#lib = lib;
    this.#session = session;
  }

  /** Finds the token by label, opens a read-write session and logs in. */
  static async open(options: Pkcs11StoreOptions): Promise<Pkcs11OrgKeyStore> {
    const { lib } = loadModule(options.modulePath);
    try {
      const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trim() === options.tokenLabel);
      if (!slot) throw new TokenUnavailableError(`No PKCS#11 token labelled "${options.tokenLabel}" in ${options.modulePath}.`);
      const session = lib.C_OpenSession(slot, pkcs11js.CKF_RW_SESSION | pkcs11js.CKF_SERIAL_SESSION);
      try {
        lib.C_Login(session, pkcs11js.CKU_USER, options.pin);
      } catch (cause) {
        // Login state is per application and token: another store of this process already logged in
        // (with a PIN the token accepted), so this session is usable as it is.
        if (cause instanceof pkcs11js.Pkcs11Error && cause.code === pkcs11js.CKR_USER_ALREADY_LOGGED_IN) {
          return new Pkcs11OrgKeyStore(options.modulePath, lib, session);
        }
        lib.C_CloseSession(session);
        if (cause instanceof pkcs11js.Pkcs11Error && cause.code === pkcs11js.CKR_PIN_INCORRECT) {
          throw new WrongSecretError(`The PIN of token "${options.tokenLabel}" is wrong.`, { cause });
        }
        if (cause instanceof pkcs11js.Pkcs11Error && cause.code === pkcs11js.CKR_PIN_LOCKED) {
          throw new WrongSecretError(`The PIN of token "${options.tokenLabel}" is locked; the token's security officer must reset it.`, { cause });
        }
        throw new TokenUnavailableError(`Cannot log in to token "${options.tokenLabel}".`, { cause });
      }
      return new Pkcs11OrgKeyStore(options.modulePath, lib, session);
    } catch (err) {
      releaseModule(options.modulePath);
      if (err instanceof KeyStoreError) throw err;
      throw new TokenUnavailableError(`The PKCS#11 token "${options.tokenLabel}" cannot be used.`, { cause: err });
    }
  }

  async generate(purpose: OrgKeyPurpose, algorithm: OrgKeyAlgorithm): Promise<OrgKeyInfo> {
    const idBytes = randomBytes(16);
    const id = idBytes.toString('hex');
    const label = `${LABEL_PREFIX}${purpose}-${id}`;
    const signs = purpose !== 'encryption';
    const common = [
      { type: pkcs11js.CKA_TOKEN, value: true },
      { type: pkcs11js.CKA_ID, value: idBytes },
      { type: pkcs11js.CKA_LABEL, value: label },
    ];
    const privateTemplate = [
      ...common,
      { type: pkcs11js.CKA_PRIVATE, value: true },
      { type: pkcs11js.CKA_SENSITIVE, value: true },
      { type: pkcs11js.CKA_EXTRACTABLE, value: false },
      { type: pkcs11js.CKA_SIGN, value: signs },
      ...(algorithm === 'P-256' ? [{ type: pkcs11js.CKA_DERIVE, value: !signs }] : [{ type: pkcs11js.CKA_DECRYPT, value: !signs }]),
    ];
    try {
      if (algorithm === 'P-256') {
        this.#lib.C_GenerateKeyPair(
          this.#session,
          { mechanism: pkcs11js.CKM_EC_KEY_PAIR_GEN },
          [...common, { type: pkcs11js.CKA_EC_PARAMS, value: P256_OID_DER }, { type: pkcs11js.CKA_VERIFY, value: signs }],
          privateTemplate,
        );
      } else {
        await this.#lib.C_GenerateKeyPairAsync(
          this.#session,
          { mechanism: pkcs11js.CKM_RSA_PKCS_KEY_PAIR_GEN },
          [
            ...common,
            { type: pkcs11js.CKA_MODULUS_BITS, value: 2048 },
            { type: pkcs11js.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) },
            { type: pkcs11js.CKA_VERIFY, value: signs },
            { type: pkcs11js.CKA_ENCRYPT, value: !signs },
          ],
          privateTemplate,
        );
      }
    } catch (cause) {
      throw new KeyStoreError(`The token could not generate an ${algorithm} key.`, { cause });
    }
    return this.get(id);
  }

  async list(): Promise<OrgKeyInfo[]> {
    const keys = this.#find([{ type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PUBLIC_KEY }]);
    const infos: OrgKeyInfo[] = [];
    for (const handle of keys) {
      const info = this.#infoOf(handle);
      if (info) infos.push(info);
    }
    return infos.sort((a, b) => a.id.localeCompare(b.id));
  }

  async get(id: string): Promise<OrgKeyInfo> {
    const [handle] = this.#objects(id, pkcs11js.CKO_PUBLIC_KEY);
    const info = handle === undefined ? undefined : this.#infoOf(handle);
    if (!info) throw new KeyNotFoundError(`No org key ${id} on the token.`);
    return info;
  }

  async signer(id: string, certificate: Uint8Array): Promise<Signer> {
    const info = await this.get(id);
    assertPurpose(info, ['signing', 'ca'], 'signing');
    checkCertificateKey(info, certificate);
    return this.#tokenSigner(id, info, certificate);
  }

  async decryptor(id: string, certificate: Uint8Array): Promise<Decryptor> {
    const info = await this.get(id);
    assertPurpose(info, ['encryption'], 'decryption');
    checkCertificateKey(info, certificate);
    const key = this.#privateHandle(id);
    const lib = this.#lib;
    const session = this.#session;
    const exclusive = <T>(op: () => Promise<T>): Promise<T> => this.#exclusive(op);
    if (info.algorithm === 'RSA-2048') {
      return {
        kind: 'rsa',
        certificate,
        modulusLength: 256,
        async rsaRawDecrypt(block: Uint8Array): Promise<Uint8Array> {
          if (block.length !== 256) throw new KeyOperationError('The RSA input block does not have the modulus length.');
          try {
            const out = await exclusive(async () => {
              lib.C_DecryptInit(session, { mechanism: pkcs11js.CKM_RSA_X_509 }, key);
              return lib.C_DecryptAsync(session, Buffer.from(block), Buffer.alloc(256));
            });
            const result = new Uint8Array(256);
            result.set(out, 256 - out.length);
            return result;
          } catch (cause) {
            throw new KeyOperationError('The token refused the RSA private operation.', { cause });
          }
        },
      };
    }
    return {
      kind: 'ecdh',
      certificate,
      namedCurve: 'P-256',
      async ecdh(peerPublicPoint: Uint8Array): Promise<Uint8Array> {
        let secret: Buffer | undefined;
        const ecdhParams: Pkcs11Types.ECDH1 = { type: pkcs11js.CK_PARAMS_EC_DH, kdf: pkcs11js.CKD_NULL, publicData: Buffer.from(peerPublicPoint) };
        try {
          secret = lib.C_DeriveKey(
            session,
            { mechanism: pkcs11js.CKM_ECDH1_DERIVE, parameter: ecdhParams },
            key,
            [
              // A session object readable only to copy Z out; destroyed right after.
              { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
              { type: pkcs11js.CKA_KEY_TYPE, value: pkcs11js.CKK_GENERIC_SECRET },
              { type: pkcs11js.CKA_VALUE_LEN, value: 32 },
              { type: pkcs11js.CKA_TOKEN, value: false },
              { type: pkcs11js.CKA_SENSITIVE, value: false },
              { type: pkcs11js.CKA_EXTRACTABLE, value: true },
            ],
          );
          const [value] = lib.C_GetAttributeValue(session, secret, [{ type: pkcs11js.CKA_VALUE }]);
          return new Uint8Array(value?.value as Buffer);
        } catch (cause) {
          throw new KeyOperationError('ECDH on the token failed (invalid public point?).', { cause });
        } finally {
          if (secret) lib.C_DestroyObject(session, secret);
        }
      },
    };
  }

  async issuingKey(id: string): Promise<webcrypto.CryptoKey> {
    const info = await this.get(id);
    assertPurpose(info, ['ca', 'signing'], 'issuing certificates');
    // The CA key issues before it has a certificate of its own (its CSR, the self-signed root), and
    // signerIssuingKey reads only the Signer's algorithm and sign(): the certificate stays empty.
    return signerIssuingKey(this.#tokenSigner(id, info, new Uint8Array(0)));
  }

  #tokenSigner(id: string, info: OrgKeyInfo, certificate: Uint8Array): Signer {
    const algorithm: SignatureAlgorithm =
      info.algorithm === 'P-256' ? { name: 'ECDSA', hash: 'SHA-256', namedCurve: 'P-256' } : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    const signDigest = this.#digestSigner(id, info.algorithm);
    return {
      certificate,
      algorithm,
      async sign(request: SignRequest): Promise<Uint8Array> {
        if (request.digest.length !== 32) throw new KeyOperationError('The token signs SHA-256 digests only.');
        const signature = await signDigest(request.digest);
        return info.algorithm === 'P-256' ? ecdsaRawToDer(signature) : signature;
      },
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#lib.C_CloseSession(this.#session);
    } finally {
      releaseModule(this.#modulePath);
    }
  }

  /** Signs a SHA-256 digest on the token; returns WebCrypto form (ECDSA r||s, RSA octets). */
  #digestSigner(id: string, algorithm: OrgKeyAlgorithm): (digest: Uint8Array) => Promise<Uint8Array> {
    const key = this.#privateHandle(id);
    return async (digest) => {
      try {
        const input = algorithm === 'P-256' ? Buffer.from(digest) : Buffer.from(encodeDigestInfo('SHA-256', digest));
        return await this.#exclusive(async () => {
          this.#lib.C_SignInit(this.#session, { mechanism: algorithm === 'P-256' ? pkcs11js.CKM_ECDSA : pkcs11js.CKM_RSA_PKCS }, key);
          return new Uint8Array(await this.#lib.C_SignAsync(this.#session, input, Buffer.alloc(512)));
        });
      } catch (cause) {
        throw new KeyOperationError('The token refused to sign.', { cause });
      }
    };
  }

  #exclusive<T>(op: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(op, op);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #privateHandle(id: string): Buffer {
    const [handle] = this.#objects(id, pkcs11js.CKO_PRIVATE_KEY);
    if (!handle) throw new KeyNotFoundError(`The private half of org key ${id} is not on the token.`);
    return handle;
  }

  #objects(id: string, cls: number): Buffer[] {
    if (!/^[0-9a-f]{32}$/.test(id)) throw new KeyNotFoundError(`"${id}" is not an org key id.`);
    return this.#find([
      { type: pkcs11js.CKA_CLASS, value: cls },
      { type: pkcs11js.CKA_ID, value: Buffer.from(id, 'hex') },
    ]);
  }

  #find(template: Pkcs11Types.Template): Buffer[] {
    if (this.#closed) throw new KeyStoreError('The token session is closed.');
    this.#lib.C_FindObjectsInit(this.#session, template);
    try {
      return this.#lib.C_FindObjects(this.#session, 100);
    } finally {
      this.#lib.C_FindObjectsFinal(this.#session);
    }
  }

  /** Reads an SSMAX public key object; undefined for objects that are not ours. */
  #infoOf(handle: Buffer): OrgKeyInfo | undefined {
    const [label, idAttr, keyType] = this.#lib.C_GetAttributeValue(this.#session, handle, [
      { type: pkcs11js.CKA_LABEL },
      { type: pkcs11js.CKA_ID },
      { type: pkcs11js.CKA_KEY_TYPE },
    ]);
    const labelText = label?.value?.toString() ?? '';
    const match = /^ssmax-(ca|signing|encryption)-([0-9a-f]{32})$/.exec(labelText);
    const id = (idAttr?.value as Buffer | undefined)?.toString('hex');
    if (!match || !isPurpose(match[1] ?? '') || id === undefined || id !== match[2]) return undefined;
    const purpose = match[1] as OrgKeyPurpose;
    const type = ulong(keyType?.value as Buffer);
    if (type === pkcs11js.CKK_EC) {
      const [point] = this.#lib.C_GetAttributeValue(this.#session, handle, [{ type: pkcs11js.CKA_EC_POINT }]);
      // CKA_EC_POINT is the DER OCTET STRING around 04||X||Y (65 bytes): skip the 2-byte header.
      const raw = point?.value as Buffer;
      const q = raw.length === 67 && raw[0] === 0x04 ? raw.subarray(2) : raw;
      const jwk = { kty: 'EC', crv: 'P-256', x: q.subarray(1, 33).toString('base64url'), y: q.subarray(33, 65).toString('base64url') };
      return { id, purpose, algorithm: 'P-256', spki: new Uint8Array(createPublicKey({ key: jwk, format: 'jwk' }).export({ format: 'der', type: 'spki' })) };
    }
    if (type === pkcs11js.CKK_RSA) {
      const [n, e] = this.#lib.C_GetAttributeValue(this.#session, handle, [{ type: pkcs11js.CKA_MODULUS }, { type: pkcs11js.CKA_PUBLIC_EXPONENT }]);
      const jwk = { kty: 'RSA', n: (n?.value as Buffer).toString('base64url'), e: (e?.value as Buffer).toString('base64url') };
      return { id, purpose, algorithm: 'RSA-2048', spki: new Uint8Array(createPublicKey({ key: jwk, format: 'jwk' }).export({ format: 'der', type: 'spki' })) };
    }
    return undefined;
  }
}

/** A CK_ULONG attribute as the module returns it: native-endian, 4 or 8 bytes (little-endian here). */
function ulong(value: Buffer): number {
  return value.length === 8 ? Number(value.readBigUInt64LE(0)) : value.readUInt32LE(0);
}

/** A certificate must carry this key's public key, or the token would sign under someone else's name. */
function checkCertificateKey(info: OrgKeyInfo, certificate: Uint8Array): void {
  let spki: Buffer;
  try {
    spki = new X509Certificate(certificate).publicKey.export({ format: 'der', type: 'spki' });
  } catch (cause) {
    throw new KeyOperationError('The certificate could not be read.', { cause });
  }
  if (!spki.equals(Buffer.from(info.spki))) throw new KeyOperationError(`The certificate does not belong to org key ${info.id}.`);
}
