import { appendFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Logger, type Page } from 'playwright-core';
import {
  HarnessError,
  disposeWorkDir,
  makeWorkDir,
  tailOf,
  withTimeout,
  type ServiceHandle,
  type StopOptions,
} from './process';
import { findProcesses } from './procfs';

/**
 * Debian's Chromium driven by playwright-core (which ships no browser of its own), with a fresh
 * profile in a temp dir so that no state leaks between runs or from a developer's own browser.
 */

export const CHROMIUM_EXECUTABLE = '/usr/bin/chromium';

/**
 * Why each flag: root in a container has no user namespaces for the sandbox; no GPU here; and no
 * background traffic (updates, sync, safe-browsing lists, QUIC probes): the tests run offline
 * and must not wait on, or be slowed by, the network.
 */
export const CHROMIUM_ARGS: readonly string[] = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
  '--disable-quic',
];

/** Makes Chromium write its log to chrome_debug.log in the profile, for logTail(). */
const LOGGING_ARGS: readonly string[] = ['--enable-logging', '--v=0'];

export interface ChromiumOptions {
  /** Viewport of new pages. Default 1280×800. */
  viewport?: { width: number; height: number };
  /** Launch timeout. Default 60 s (a cold start on a loaded 2-core machine takes a few seconds). */
  launchTimeoutMs?: number;
}

export interface ChromiumHandle extends ServiceHandle {
  readonly context: BrowserContext;
  readonly userDataDir: string;
  /** A directory in the temp dir for screenshots and other artifacts; kept with the logs on failure. */
  readonly artifactsDir: string;
  /** PIDs of the Chromium processes (browser, renderers, helpers) using this profile right now. */
  pids(): number[];
  newPage(): Promise<Page>;
}

const NAME = 'chromium';

export async function launchChromium(opts: ChromiumOptions = {}): Promise<ChromiumHandle> {
  const dir = await makeWorkDir(NAME);
  const userDataDir = join(dir, 'profile');
  const artifactsDir = join(dir, 'artifacts');
  const logFile = join(dir, 'chromium.log');
  await mkdir(userDataDir);
  await mkdir(artifactsDir);

  // Playwright's own log (API calls, warnings) goes to chromium.log; Chromium's log goes to
  // chrome_debug.log in the profile (--enable-logging), since Playwright does not hand over
  // the browser's stderr for a persistent context.
  const logger: Logger = {
    isEnabled: (_name, severity) => severity !== 'verbose',
    log: (name, severity, message) => {
      appendFileSync(logFile, `${new Date().toISOString()} ${name} ${severity}: ${String(message)}\n`);
    },
  };

  // Every process of this instance has our unique profile path on its command line.
  const pids = (): number[] => findProcesses((p) => p.cmdline.includes(userDataDir)).map((p) => p.pid);

  const logTail = (lines = 30): string =>
    `${tailOf(logFile, lines)}\n--- chrome_debug.log ---\n${tailOf(join(userDataDir, 'chrome_debug.log'), lines)}`;

  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM_EXECUTABLE,
      args: [...CHROMIUM_ARGS, ...LOGGING_ARGS],
      headless: true,
      viewport: opts.viewport ?? { width: 1280, height: 800 },
      timeout: opts.launchTimeoutMs ?? 60_000,
      logger,
    });
  } catch (err) {
    killLeftovers(pids());
    await disposeWorkDir(NAME, dir, { keepDir: true });
    throw new HarnessError(`launch failed: ${(err as Error).message}\n${logTail(30)}`, NAME, {
      cause: err,
    });
  }

  const stop = async (stopOpts?: StopOptions): Promise<void> => {
    try {
      await withTimeout(context.close(), 15_000, 'chromium context close');
    } catch (err) {
      appendFileSync(logFile, `close failed: ${(err as Error).message}\n`);
    }
    // Normally nothing is left; a wedged browser is killed by PID so no process outlives the test.
    killLeftovers(pids());
    await disposeWorkDir(NAME, dir, stopOpts);
  };

  return {
    name: NAME,
    dir,
    context,
    userDataDir,
    artifactsDir,
    pids,
    newPage: () => context.newPage(),
    logTail,
    stop,
  };
}

function killLeftovers(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* exited meanwhile */
    }
  }
}
