import type { SafeStorage } from 'electron';
import { FileSecretStore, type SecretCipher } from '../client/secrets/secret-store';

/**
 * Account passwords in the desktop app: `secrets.json` with every value encrypted by Electron's
 * `safeStorage` (Keychain on macOS, DPAPI on Windows, Secret Service/KWallet on Linux). On Linux
 * without a keyring, Electron falls back to a hard-coded key (`basic_text`): that is no protection,
 * so then — and when safeStorage is unavailable — the store is the plain 0600 file of browser mode,
 * and the log says so once (client/secrets/README.md).
 */
export function safeStorageCipher(safeStorage: SafeStorage, platform: NodeJS.Platform = process.platform): SecretCipher | undefined {
  if (!safeStorage.isEncryptionAvailable()) return undefined;
  if (platform === 'linux' && safeStorage.getSelectedStorageBackend() === 'basic_text') return undefined;
  return {
    name: 'electron-safeStorage',
    encrypt: (plain) => safeStorage.encryptString(plain),
    decrypt: (encrypted) => safeStorage.decryptString(encrypted),
  };
}

/** Opens the secret store for the data dir; call after `app` is ready (safeStorage needs it). */
export async function openDesktopSecretStore(dataDir: string, safeStorage: SafeStorage): Promise<FileSecretStore> {
  const cipher = safeStorageCipher(safeStorage);
  if (!cipher)
    console.error('ssmax: no OS keychain is available (safeStorage); account passwords are kept in a file readable by this user only (secrets.json, 0600).');
  const store = await FileSecretStore.open(dataDir, cipher ? { cipher } : {});
  // Passwords saved in browser mode (plain) are encrypted now that the keychain is here.
  await store.upgrade().catch((err: unknown) => console.error('ssmax: could not encrypt the saved passwords:', err));
  return store;
}
