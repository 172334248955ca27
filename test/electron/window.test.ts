import { describe, expect, it } from 'vitest';
import { LaunchSettingsInvalid, launchSettings } from '../../electron/launch';
import { mainWindowOptions } from '../../electron/window';

describe('main window options', () => {
  it('isolates and sandboxes the renderer; DevTools only outside a packaged build', () => {
    const packaged = mainWindowOptions({ preload: '/app/preload.cjs', packaged: true }).webPreferences!;
    expect(packaged).toMatchObject({
      preload: '/app/preload.cjs',
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInSubFrames: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      devTools: false,
    });
    expect(mainWindowOptions({ preload: '/p', packaged: false }).webPreferences?.devTools).toBe(true);
  });
});

describe('launch settings (electron/launch.ts)', () => {
  const base = { packaged: false, resourcesPath: '/opt/SSMAX/resources', appRoot: '/src/ssmax' };
  it('from a checkout: the root in build/trust, Electron\'s data folder unless SSMAX_DATA_DIR', () => {
    expect(launchSettings({ ...base, env: {} })).toEqual({ trustAnchorFile: '/src/ssmax/build/trust/ssmax-root.pem' });
    expect(launchSettings({ ...base, env: { SSMAX_DATA_DIR: '/home/u/ssmax', SSMAX_PROVISIONING_FILE: '/etc/ssmax/p.json' } })).toEqual({
      dataDir: '/home/u/ssmax',
      provisioningFile: '/etc/ssmax/p.json',
      trustAnchorFile: '/src/ssmax/build/trust/ssmax-root.pem',
    });
  });
  it('refuses relative paths (they would depend on where the app was started)', () => {
    expect(() => launchSettings({ ...base, env: { SSMAX_DATA_DIR: 'data' } })).toThrow(LaunchSettingsInvalid);
  });
});
