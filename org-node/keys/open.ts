import { isAbsolute, join } from 'node:path';
import { readSecret } from '../secrets';
import { FileOrgKeyStore } from './file-store';
import { Pkcs11OrgKeyStore } from './pkcs11-store';
import type { OrgKeyStore } from './store';

/** Where a node's keys are, as written in its config file. */
export type KeyStoreConfig =
  | { readonly kind: 'file'; readonly dir: string; readonly passphraseFile?: string }
  | { readonly kind: 'pkcs11'; readonly module: string; readonly token: string; readonly pinFile?: string };

/** Secret sources given on the command line (files only) override the config's. */
export interface SecretFiles {
  readonly passphraseFile?: string;
  readonly pinFile?: string;
}

export const PASSPHRASE_ENV = 'SSMAX_KEY_PASSPHRASE';
export const PIN_ENV = 'SSMAX_TOKEN_PIN';

/** Opens the configured store; the passphrase or PIN comes from a file or the environment. */
export async function openKeyStore(config: KeyStoreConfig, baseDir: string, secrets: SecretFiles = {}): Promise<OrgKeyStore> {
  if (config.kind === 'file') {
    const file = secrets.passphraseFile ?? config.passphraseFile;
    const passphrase = await readSecret({ envVar: PASSPHRASE_ENV, what: 'key passphrase', ...(file ? { file } : {}) });
    return FileOrgKeyStore.open(isAbsolute(config.dir) ? config.dir : join(baseDir, config.dir), passphrase);
  }
  const file = secrets.pinFile ?? config.pinFile;
  const pin = await readSecret({ envVar: PIN_ENV, what: 'token PIN', ...(file ? { file } : {}) });
  return Pkcs11OrgKeyStore.open({ modulePath: config.module, tokenLabel: config.token, pin });
}
