import { createPrivateKey, createPublicKey, generateKeyPair as generateKeyPairCb, randomBytes, webcrypto, type KeyObject } from 'node:crypto';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SoftwareSigner, softwareDecryptor, type Decryptor, type Signer } from '../../smime/keys';
import { KeyNotFoundError, KeyStoreError, WrongSecretError, assertPurpose, type OrgKeyAlgorithm, type OrgKeyInfo, type OrgKeyPurpose, type OrgKeyStore } from './store';

const generateKeyPair = promisify(generateKeyPairCb);

/**
 * Org keys as encrypted PKCS#8 files (PEM "ENCRYPTED PRIVATE KEY": PBES2, PBKDF2-HMAC-SHA256,
 * AES-256-CBC — what OpenSSL 3 writes, so `openssl pkey` can read them for recovery). One pair of
 * files per key in the key directory: `<id>.key.pem` and `<id>.json` (purpose, algorithm). Files are
 * created 0600 and never overwritten. The passphrase comes from the caller (see `readSecret`).
 */
export class FileOrgKeyStore implements OrgKeyStore {
  readonly kind = 'file' as const;
  readonly #dir: string;
  readonly #passphrase: string;
  readonly #cache = new Map<string, KeyObject>();

  private constructor(dir: string, passphrase: string) {
    this.#dir = dir;
    this.#passphrase = passphrase;
  }

  /**
   * Opens (creating if needed) the key directory. If it holds keys, one is decrypted now so that a
   * wrong passphrase is reported at startup rather than at the first mail.
   */
  static async open(dir: string, passphrase: string): Promise<FileOrgKeyStore> {
    if (passphrase.length < 8) throw new KeyStoreError('The key passphrase must have at least 8 characters.');
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
    } catch (cause) {
      throw new KeyStoreError(`Cannot create the key directory ${dir}.`, { cause });
    }
    const store = new FileOrgKeyStore(dir, passphrase);
    const [first] = await store.list();
    if (first) await store.#privateKey(first.id);
    return store;
  }

  async generate(purpose: OrgKeyPurpose, algorithm: OrgKeyAlgorithm): Promise<OrgKeyInfo> {
    const { privateKey } =
      algorithm === 'P-256'
        ? await generateKeyPair('ec', { namedCurve: 'prime256v1' })
        : await generateKeyPair('rsa', { modulusLength: 2048, publicExponent: 0x10001 });
    const id = randomBytes(16).toString('hex');
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: this.#passphrase });
    const meta = { id, purpose, algorithm, createdAt: new Date().toISOString() };
    try {
      await writeFile(join(this.#dir, `${id}.key.pem`), pem, { mode: 0o600, flag: 'wx' });
      await writeFile(join(this.#dir, `${id}.json`), `${JSON.stringify(meta, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    } catch (cause) {
      throw new KeyStoreError(`Cannot write the new key to ${this.#dir}.`, { cause });
    }
    this.#cache.set(id, privateKey);
    return { id, purpose, algorithm, spki: spkiOf(privateKey) };
  }

  async list(): Promise<OrgKeyInfo[]> {
    let names: string[];
    try {
      names = await readdir(this.#dir);
    } catch (cause) {
      throw new KeyStoreError(`Cannot read the key directory ${this.#dir}.`, { cause });
    }
    const ids = names.filter((n) => /^[0-9a-f]{32}\.json$/.test(n)).map((n) => n.slice(0, 32));
    return Promise.all(ids.sort().map((id) => this.get(id)));
  }

  async get(id: string): Promise<OrgKeyInfo> {
    const meta = await this.#meta(id);
    // An encrypted PKCS#8 file has no clear public key: decrypt once (cached) to derive it.
    const key = await this.#privateKey(id);
    return { id, purpose: meta.purpose, algorithm: meta.algorithm, spki: spkiOf(key) };
  }

  async signer(id: string, certificate: Uint8Array): Promise<Signer> {
    assertPurpose(await this.get(id), ['signing', 'ca'], 'signing');
    return new SoftwareSigner(await this.#privateKey(id), certificate);
  }

  async decryptor(id: string, certificate: Uint8Array): Promise<Decryptor> {
    assertPurpose(await this.get(id), ['encryption'], 'decryption');
    return softwareDecryptor(await this.#privateKey(id), certificate);
  }

  async issuingKey(id: string): Promise<webcrypto.CryptoKey> {
    const info = await this.get(id);
    assertPurpose(info, ['ca', 'signing'], 'issuing certificates');
    const pkcs8 = (await this.#privateKey(id)).export({ format: 'der', type: 'pkcs8' });
    const algorithm = info.algorithm === 'P-256' ? { name: 'ECDSA', namedCurve: 'P-256' } : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    return webcrypto.subtle.importKey('pkcs8', pkcs8, algorithm, false, ['sign']);
  }

  async close(): Promise<void> {
    this.#cache.clear();
  }

  async #meta(id: string): Promise<{ purpose: OrgKeyPurpose; algorithm: OrgKeyAlgorithm }> {
    if (!/^[0-9a-f]{32}$/.test(id)) throw new KeyNotFoundError(`"${id}" is not an org key id.`);
    try {
      const meta = JSON.parse(await readFile(join(this.#dir, `${id}.json`), 'utf8')) as { purpose: OrgKeyPurpose; algorithm: OrgKeyAlgorithm };
      return { purpose: meta.purpose, algorithm: meta.algorithm };
    } catch (cause) {
      throw new KeyNotFoundError(`No org key ${id} in ${this.#dir}.`, { cause });
    }
  }

  async #pem(id: string): Promise<string> {
    try {
      return await readFile(join(this.#dir, `${id}.key.pem`), 'utf8');
    } catch (cause) {
      throw new KeyNotFoundError(`The private key file of org key ${id} is missing from ${this.#dir}.`, { cause });
    }
  }

  async #privateKey(id: string): Promise<KeyObject> {
    const cached = this.#cache.get(id);
    if (cached) return cached;
    const pem = await this.#pem(id);
    let key: KeyObject;
    try {
      key = createPrivateKey({ key: pem, format: 'pem', passphrase: this.#passphrase });
    } catch (cause) {
      throw new WrongSecretError(`Cannot decrypt the org key file ${id}.key.pem: wrong passphrase?`, { cause });
    }
    this.#cache.set(id, key);
    return key;
  }
}

function spkiOf(key: KeyObject): Uint8Array {
  return new Uint8Array(createPublicKey(key).export({ format: 'der', type: 'spki' }));
}
