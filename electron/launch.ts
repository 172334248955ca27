import { isAbsolute, join } from 'node:path';

/**
 * Where the desktop app finds its data folder, IT's provisioning file and the built-in SSMAX root.
 * Pure (no Electron import) so that test/electron/launch.test.ts checks it in plain Node.
 *
 * - `SSMAX_DATA_DIR` (absolute): the data folder instead of Electron's `userData`
 *   (`~/.config/SSMAX` on Linux); `npm start -- --data-dir DIR` sets it.
 * - `SSMAX_PROVISIONING_FILE` (absolute): IT's provisioning file instead of
 *   `<data folder>/provisioning.json`; `npm start -- --provisioning FILE` sets it.
 * - The built-in root: in a packaged app `resources/trust/ssmax-root.pem`, outside the asar so that
 *   IT can replace the file (electron-builder `extraResources`); from a checkout
 *   `build/trust/ssmax-root.pem` (scripts/make-trust-root.ts).
 */
export interface LaunchSettings {
  dataDir?: string;
  provisioningFile?: string;
  trustAnchorFile: string;
}

export class LaunchSettingsInvalid extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LaunchSettingsInvalid';
  }
}

export function launchSettings(o: {
  env: NodeJS.ProcessEnv;
  packaged: boolean;
  /** Electron's `process.resourcesPath`. */
  resourcesPath: string;
  /** The checkout (two levels above dist/electron/main.js). */
  appRoot: string;
}): LaunchSettings {
  const absolute = (name: string): string | undefined => {
    const v = o.env[name];
    if (v === undefined || v === '') return undefined;
    if (!isAbsolute(v)) throw new LaunchSettingsInvalid(`${name} must be an absolute path (got ${v}).`);
    return v;
  };
  const dataDir = absolute('SSMAX_DATA_DIR');
  const provisioningFile = absolute('SSMAX_PROVISIONING_FILE');
  return {
    ...(dataDir ? { dataDir } : {}),
    ...(provisioningFile ? { provisioningFile } : {}),
    trustAnchorFile: o.packaged ? join(o.resourcesPath, 'trust', 'ssmax-root.pem') : join(o.appRoot, 'build', 'trust', 'ssmax-root.pem'),
  };
}
