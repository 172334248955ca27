import type { BrowserWindowConstructorOptions } from 'electron';

/**
 * The main window's options (Electron security checklist): isolated, sandboxed, no Node in the page
 * or its subframes, no webview, and no DevTools in a packaged build (a user, or malware that can
 * send keystrokes, must not get a console inside the app that holds the card session). Kept apart
 * from main.ts so a plain-Node test can check them (test/electron/window.test.ts).
 */
export function mainWindowOptions(opts: { preload: string; packaged: boolean }): BrowserWindowConstructorOptions {
  return {
    width: 1280,
    height: 800,
    show: false,
    title: 'SSMAX',
    webPreferences: {
      preload: opts.preload,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInSubFrames: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      spellcheck: false,
      devTools: !opts.packaged,
    },
  };
}
