import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BrowserWindow, app, dialog, ipcMain, protocol, safeStorage, session } from 'electron';
import { ServiceHost } from '../client/service-host';
import { utilityProcessLauncher } from './card-service';
import { forwardEvents, registerIpcHandlers } from './ipc';
import { openDesktopSecretStore } from './secrets';
import { launchSettings } from './launch';
import { APP_ENTRY, APP_SCHEME, RemoteLoadGate, isTrustedIpcEvent, serveRendererFile } from './security';
import { mainWindowOptions } from './window';

/**
 * The Electron main process: one window, hardened per Electron's security checklist, hosting the
 * same service host the loopback bridge uses. Everything here is wiring; the behaviour lives in
 * client/ (services) and ./ipc.ts, ./security.ts (tested without Electron).
 */

// Layout after packaging: dist/electron/{main,preload}.js next to dist/renderer/.
const here = dirname(fileURLToPath(import.meta.url));
const RENDERER_DIR = join(here, '..', 'renderer');
const PRELOAD = join(here, 'preload.cjs');

// `npm start -- --data-dir … --provisioning …` (scripts/start.ts) and IT's packaged defaults (electron/launch.ts).
const launch = launchSettings({
  env: process.env,
  packaged: app.isPackaged,
  resourcesPath: process.resourcesPath,
  appRoot: join(here, '..', '..'),
});
if (launch.dataDir) app.setPath('userData', launch.dataDir);

protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true } }]);
// Every renderer sandboxed, whatever a future window forgets to set.
app.enableSandbox();

const windowIds = new Set<number>();
let mainWindow: BrowserWindow | null = null;
const remoteLoads = new RemoteLoadGate();

// Two instances would race on the settings file, the cache and the outbox.
if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', () => {
    if (mainWindow === null) return;
    if (mainWindow.isMinimized()) mainWindow.restore();
    mainWindow.focus();
  });
  app.on('web-contents-created', (_event, contents) => {
    // The app never navigates: links in mail open nothing here (a later "open in browser" goes
    // through a validated API call), and no page may open windows or attach webviews.
    contents.on('will-navigate', (event) => event.preventDefault());
    contents.on('will-redirect', (event) => event.preventDefault());
    contents.on('will-attach-webview', (event) => event.preventDefault());
    contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  });
  app.on('window-all-closed', () => app.quit());
  app.whenReady().then(start, (err: unknown) => {
    console.error('ssmax: start-up failed', err);
    app.exit(1);
  });
}

async function start(): Promise<void> {
  const dataDir = app.getPath('userData');
  const host = await ServiceHost.open({
    dataDir,
    runtime: 'electron',
    defaultLanguage: app.getLocale().toLowerCase().startsWith('ja') ? 'ja' : 'en',
    version: app.getVersion(),
    versions: { electron: process.versions.electron, chrome: process.versions.chrome },
    // Account passwords encrypted by the OS keychain (safeStorage), never in accounts.json.
    secrets: await openDesktopSecretStore(dataDir, safeStorage),
    // The SSMAX root shipped beside the app (resources/trust/, replaceable by IT) and IT's provisioning file.
    firstLaunch: {
      trustAnchorFile: launch.trustAnchorFile,
      ...(launch.provisioningFile ? { provisioningFile: launch.provisioningFile } : {}),
    },
    // PC/SC runs in a utility process, never in this one (native/card-service).
    card: { launcher: utilityProcessLauncher(join(here, 'card-service.js')) },
    // Attachments are saved where the user says, through the OS save dialog (Danger never gets here).
    open: {
      onRemoteContentAllowed: (urls) => remoteLoads.allow(urls),
      chooseSavePath: async (suggestedName) => {
        const options = { defaultPath: join(app.getPath('downloads'), suggestedName) };
        const r = mainWindow ? await dialog.showSaveDialog(mainWindow, options) : await dialog.showSaveDialog(options);
        return r.canceled || !r.filePath ? null : r.filePath;
      },
    },
  });

  // No camera, microphone, notifications, geolocation, clipboard-read… for any page.
  session.defaultSession.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  session.defaultSession.setPermissionCheckHandler(() => false);
  protocol.handle(APP_SCHEME, (request) => serveRendererFile(RENDERER_DIR, request.url));
  // Pages load nothing from the network: the app is ssmax://, mail's remote content is blocked
  // (SPEC: blocked by default) except the exact images of a mail the user chose to load, and network
  // work (IMAP, SMTP, org bundles) is done by the main process in Node, not through this session.
  session.defaultSession.webRequest.onBeforeRequest(
    { urls: ['http://*/*', 'https://*/*', 'ws://*/*', 'wss://*/*', 'ftp://*/*'] },
    (details, callback) => callback({ cancel: remoteLoads.refuses(details) }),
  );

  registerIpcHandlers(ipcMain, host, (event) => isTrustedIpcEvent(event, windowIds));
  createWindow(host);
}

function createWindow(host: ServiceHost): void {
  const win = new BrowserWindow(mainWindowOptions({ preload: PRELOAD, packaged: app.isPackaged }));
  const id = win.webContents.id;
  windowIds.add(id);
  const stopEvents = forwardEvents(host, (channel, payload) => {
    if (!win.isDestroyed()) win.webContents.send(channel, payload);
  });
  win.on('closed', () => {
    windowIds.delete(id);
    stopEvents();
    mainWindow = null;
  });
  win.once('ready-to-show', () => win.show());
  mainWindow = win;
  void win.loadURL(APP_ENTRY);
}
