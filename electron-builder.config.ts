import type { Configuration } from 'electron-builder';

/**
 * electron-builder configuration (`npm run dist`, scripts/dist.ts). Typed, and checked by
 * test/electron/builder-config.test.ts. Packages what `npm run build:renderer` and
 * `npm run build:electron` produced — `dist/electron/{main,card-service}.js`, `dist/electron/preload.cjs`,
 * `dist/renderer/` — plus the production npm dependencies (devDependencies never ship). Signing for
 * Windows and macOS: build/README.md.
 */
const config: Configuration = {
  appId: 'org.ssmax.desktop',
  productName: 'SSMAX',
  copyright: 'SSMAX',
  directories: { output: 'out/dist', buildResources: 'build' },
  // `electron .` from a checkout uses package.json `main` too; the packaged app gets the same entry.
  extraMetadata: { main: 'dist/electron/main.js' },
  files: ['package.json', 'dist/electron/**/*', 'dist/renderer/**/*', '!**/*.map', '!**/*.ts', '!**/*.tsx'],
  // The app's code in one archive (with the asar integrity fuse below, a modified archive refuses to start).
  asar: true,
  // Native addons (PC/SC, SQLite, PKCS#11) cannot be loaded from inside an asar archive.
  asarUnpack: ['**/*.node'],
  // The built-in SSMAX root beside the archive, not inside it, so that IT can replace the file
  // (electron/launch.ts reads resources/trust/ssmax-root.pem). scripts/dist.ts refuses to package without it.
  extraResources: [{ from: 'build/trust/ssmax-root.pem', to: 'trust/ssmax-root.pem' }],
  // Rebuild the native addons for Electron's ABI.
  npmRebuild: true,
  electronFuses: {
    // The app binary can never be used as a plain Node interpreter, nor take Node options or a debugger from outside.
    runAsNode: false,
    enableNodeOptionsEnvironmentVariable: false,
    enableNodeCliInspectArguments: false,
    enableCookieEncryption: true,
    enableEmbeddedAsarIntegrityValidation: true,
    onlyLoadAppFromAsar: true,
    grantFileProtocolExtraPrivileges: false,
  },
  linux: {
    target: ['AppImage', 'deb'],
    icon: 'build/icons',
    category: 'Network;Email',
    executableName: 'ssmax',
    synopsis: 'Organisational S/MIME mail client (staff-card signatures, verified chains)',
    description:
      'SSMAX signs mail with the staff ID card, encrypts it only to the organisation key, and shows the verified signature chain sender → sending organisation → receiving organisation.',
    maintainer: 'SSMAX <it@ssmax.invalid>',
  },
  deb: {
    // electron-builder's defaults, plus the PC/SC daemon the staff card is read through.
    depends: ['libgtk-3-0', 'libnotify4', 'libnss3', 'libxss1', 'libxtst6', 'xdg-utils', 'libatspi2.0-0', 'libuuid1', 'libsecret-1-0', 'pcscd', 'libpcsclite1'],
  },
  win: { target: ['nsis'], icon: 'build/icons/512x512.png' },
  nsis: { oneClick: false, perMachine: true, allowToChangeInstallationDirectory: true },
  mac: {
    target: ['dmg'],
    icon: 'build/icons/512x512.png',
    category: 'public.app-category.productivity',
    hardenedRuntime: true,
    entitlements: 'build/entitlements.mac.plist',
    entitlementsInherit: 'build/entitlements.mac.plist',
  },
};

export default config;
