import { spawnSync } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { startBridge, type Bridge } from '../../client/bridge/server';
import { openDemoClient, type OpenedDemoClient } from '../../demo/client';
import type { DemoWorld } from '../../demo/world';
import type { ChromiumHandle } from '../harness/chromium';

/**
 * The UI end-to-end tests against the demo world: the renderer built once by Vite, and a demo user's
 * screens in Chromium the way `npm run demo` serves them in bridge mode (their card in the one reader,
 * their service host, the loopback bridge, a page). Nobody answers the PIN behind the user's back:
 * the tests type it into the UI's dialog.
 */

/** Builds the renderer into a fresh temp dir and returns it (the caller removes it). */
export async function buildRenderer(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ssmax-renderer-'));
  const built = spawnSync(
    'npx',
    ['vite', 'build', '--config', 'vite.renderer.config.ts', '--outDir', dir, '--emptyOutDir'],
    { encoding: 'utf8' },
  );
  if (built.status !== 0) throw new Error(`renderer build failed:\n${built.stdout}\n${built.stderr}`);
  return dir;
}

export interface DemoUserPage {
  readonly user: string;
  readonly pin: string;
  readonly client: OpenedDemoClient;
  readonly bridge: Bridge;
  readonly page: Page;
  /** Browser console errors and page errors seen so far. */
  readonly consoleErrors: string[];
  /** Closes the page, the bridge and the service host (the card stays in the reader). */
  close(): Promise<void>;
}

/**
 * Switches the reader to `user`'s card and opens their client in a new page (what the demo's
 * bridge mode does when another user is typed). Close the previous user's page first.
 */
export async function openDemoUserPage(
  world: DemoWorld,
  user: string,
  browser: ChromiumHandle,
  staticDir: string,
): Promise<DemoUserPage> {
  if (world.cardHolder !== user) await world.insertCard(user);
  const c = world.clientFor(user);
  const client = await openDemoClient(c, { answerPin: false });
  let bridge: Bridge | undefined;
  try {
    bridge = await startBridge({ host: client.host, staticDir });
    const page = await browser.newPage();
    const consoleErrors: string[] = [];
    page.on('console', (msg) => {
      if (msg.type() === 'error') consoleErrors.push(msg.text());
    });
    page.on('pageerror', (err) => consoleErrors.push(err.message));
    await page.goto(bridge.url);
    const b = bridge;
    return {
      user,
      pin: c.pin,
      client,
      bridge: b,
      page,
      consoleErrors,
      async close() {
        await page.close().catch(() => undefined);
        await b.close();
        await client.close();
      },
    };
  } catch (err) {
    await bridge?.close().catch(() => undefined);
    await client.close().catch(() => undefined);
    throw err;
  }
}

/** Types the user's PIN into the PIN dialog if it is showing (the card's PIN cache may spare the prompt). */
export async function answerPinIfAsked(u: DemoUserPage): Promise<boolean> {
  if (!(await u.page.getByTestId('pin-dialog').isVisible())) return false;
  await u.page.locator('#pin-input').fill(u.pin);
  await u.page.getByTestId('pin-ok').click();
  return true;
}

/** The inbox row whose (opened or clear) subject contains `subject`. */
export const messageRow = (page: Page, subject: string): Locator =>
  page.getByTestId('message-row').filter({ hasText: subject });

/** Rows of encrypted mail not opened yet: RFC 9788's placeholder stands for the subject. */
export const hiddenRows = (page: Page): Locator => page.getByTestId('message-row').filter({ hasText: '[...]' });
