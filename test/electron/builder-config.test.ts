import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import config from '../../electron-builder.config';
import { launchSettings } from '../../electron/launch';
import { ICON_SIZES } from '../../scripts/icon';

/** The packaging configuration (electron-builder.config.ts), checked without running electron-builder. */
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
  main: string;
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const files = (config.files ?? []) as string[];

describe('electron-builder configuration', () => {
  it('identifies the app and packs only the built bundles, in an asar archive', () => {
    expect(config.appId).toMatch(/^[a-z]+(\.[a-z0-9-]+){2,}$/);
    expect(config.productName).toBe('SSMAX');
    expect(config.asar).toBe(true);
    expect(config.extraMetadata?.main).toBe(pkg.main);
    expect(pkg.main).toBe('dist/electron/main.js');
    expect(files).toEqual(expect.arrayContaining(['package.json', 'dist/electron/**/*', 'dist/renderer/**/*', '!**/*.map']));
    // No sources, tests, keys or the repository's other folders.
    const positive = files.filter((f) => !f.startsWith('!'));
    expect(positive.every((f) => f === 'package.json' || f.startsWith('dist/'))).toBe(true);
    // Native addons unpacked (they cannot load from inside the archive).
    expect(config.asarUnpack).toEqual(expect.arrayContaining(['**/*.node']));
  });

  it('every bundle main.ts loads is built by npm run build:electron into dist/electron', () => {
    const main = readFileSync('electron/main.ts', 'utf8');
    for (const f of ['preload.cjs', 'card-service.js']) expect(main).toContain(`'${f}'`);
    for (const mode of ['main', 'preload', 'card-service']) expect(pkg.scripts['build:electron']).toContain(`--mode ${mode}`);
    expect(readFileSync('vite.electron.config.ts', 'utf8')).toContain("'preload.cjs'");
  });

  it('ships the SSMAX root outside the archive, where the packaged app reads it and IT can replace it', () => {
    const resources = (config.extraResources ?? []) as { from: string; to: string }[];
    expect(resources).toContainEqual({ from: 'build/trust/ssmax-root.pem', to: 'trust/ssmax-root.pem' });
    const packaged = launchSettings({ env: {}, packaged: true, resourcesPath: '/opt/SSMAX/resources', appRoot: '/x' });
    expect(packaged.trustAnchorFile).toBe('/opt/SSMAX/resources/trust/ssmax-root.pem');
  });

  it('hardens the binary: no run-as-node, no NODE_OPTIONS, no inspector, asar integrity', () => {
    expect(config.electronFuses).toMatchObject({
      runAsNode: false,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true,
    });
  });

  it('builds AppImage and deb for Linux with the icon set, and needs pcscd on Debian', () => {
    expect(config.linux?.target).toEqual(['AppImage', 'deb']);
    expect(config.linux?.icon).toBe('build/icons');
    for (const size of ICON_SIZES) expect(existsSync(`build/icons/${size}x${size}.png`), `${size}px icon`).toBe(true);
    expect(config.deb?.depends).toEqual(expect.arrayContaining(['pcscd', 'libsecret-1-0']));
    expect(existsSync(String(config.mac?.entitlements))).toBe(true);
  });

  it('electron and electron-builder are build tools, never shipped dependencies', () => {
    expect(pkg.devDependencies).toHaveProperty('electron');
    expect(pkg.devDependencies).toHaveProperty('electron-builder');
    expect(pkg.dependencies).not.toHaveProperty('electron');
    expect(pkg.dependencies).not.toHaveProperty('electron-builder');
    expect(pkg.scripts.dist).toBe('tsx scripts/dist.ts');
    expect(pkg.scripts.start).toBe('tsx scripts/start.ts');
  });
});
