import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type Bridge } from '../../client/bridge/server';
import { ServiceHost } from '../../client/service-host';
import { runAxe, seriousFindings } from '../support/axe';
import { launchChromium, type ChromiumHandle } from '../harness/chromium';

/**
 * The renderer as the user sees it: built by Vite, served by the real loopback bridge from a real
 * service host on a temp data dir, driven in Debian's Chromium. Screenshots go to
 * .tmp/screenshots/ for a human to look at.
 */
const SCREENSHOTS = join(process.cwd(), '.tmp', 'screenshots');

/** The card service looks for pcscd at a socket where none runs: "No card reader", deterministically. */
const openHost = (dataDir: string): Promise<ServiceHost> =>
  ServiceHost.open({
    dataDir,
    runtime: 'bridge',
    card: { env: { ...process.env, PCSCLITE_CSOCK_NAME: join(dataDir, 'no-pcscd.comm') } },
  });

describe('the renderer through the loopback bridge in Chromium', () => {
  let buildDir: string;
  let dataDir: string;
  let host: ServiceHost;
  let bridge: Bridge;
  let browser: ChromiumHandle;
  let page: Page;
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    buildDir = await mkdtemp(join(tmpdir(), 'ssmax-renderer-'));
    dataDir = await mkdtemp(join(tmpdir(), 'ssmax-data-'));
    await mkdir(SCREENSHOTS, { recursive: true });
    // A fresh build of the current sources, into a temp dir so parallel runs never share one.
    const built = spawnSync(
      'npx',
      ['vite', 'build', '--config', 'vite.renderer.config.ts', '--outDir', buildDir, '--emptyOutDir'],
      {
        encoding: 'utf8',
      },
    );
    if (built.status !== 0) throw new Error(`renderer build failed:\n${built.stdout}\n${built.stderr}`);

    host = await openHost(dataDir);
    bridge = await startBridge({ host, staticDir: buildDir });
    browser = await launchChromium();
    page = await browser.newPage();
    // A CSP violation or a failed script shows up here; the app must run clean under its own CSP.
    page.on('console', (msg) => {
      if (msg.type() === 'error') consoleErrors.push(msg.text());
    });
    page.on('pageerror', (err) => consoleErrors.push(err.message));
    page.on('response', (res) => {
      if (res.status() >= 400) consoleErrors.push(`HTTP ${res.status()} for ${res.url()}`);
    });
  });

  afterAll(async () => {
    await browser?.stop();
    await bridge?.close();
    await rm(buildDir, { recursive: true, force: true });
    await rm(dataDir, { recursive: true, force: true });
  });

  it('shows the shell in English with honest empty states, under its CSP without errors', async () => {
    await page.goto(bridge.url);
    // No org pinned: the first-launch wizard comes first (test/renderer/flows.e2e.test.ts); set it aside.
    await page.getByRole('button', { name: 'Set up later' }).click();
    await expect.poll(() => page.locator('#folders-heading').textContent()).toBe('Folders');
    expect(await page.getByTestId('no-account').innerText()).toContain('No account yet');
    await expect.poll(() => page.getByTestId('card-status').innerText()).toBe('No card reader');
    expect(await page.getByTestId('org-status').innerText()).toBe('No organisation yet');
    expect(await page.locator('html').getAttribute('lang')).toBe('en');
    await page.screenshot({ path: join(SCREENSHOTS, 'mail-en.png') });
    expect(consoleErrors).toEqual([]);
  });

  it('switches to Japanese: the visible text changes at once and the choice is persisted in the data dir', async () => {
    await page.getByRole('button', { name: 'Settings' }).click();
    await expect.poll(() => page.locator('h1').textContent()).toBe('Settings');
    await page.screenshot({ path: join(SCREENSHOTS, 'settings-en.png') });
    await page.getByLabel('日本語').check();
    await expect.poll(() => page.locator('h1').textContent()).toBe('設定');
    // The status line follows the save's answer, which may land after the re-render in Japanese.
    await expect.poll(() => page.getByRole('status').innerText()).toBe('保存しました。表示言語は日本語になりました。');
    expect(await page.locator('html').getAttribute('lang')).toBe('ja');
    expect(await page.getByRole('button', { name: 'メール', exact: true }).count()).toBe(1);
    await page.screenshot({ path: join(SCREENSHOTS, 'settings-ja.png') });

    const onDisk = JSON.parse(await readFile(join(dataDir, 'settings.json'), 'utf8')) as {
      settings: { language: string };
    };
    expect(onDisk.settings.language).toBe('ja');

    await page.getByRole('button', { name: 'メール', exact: true }).click();
    expect(await page.getByTestId('no-account').innerText()).toContain('アカウントはまだありません');
    await expect.poll(() => page.getByTestId('card-status').innerText()).toBe('カードリーダーがありません');
    await page.screenshot({ path: join(SCREENSHOTS, 'mail-ja.png') });
    expect(consoleErrors).toEqual([]);
  });

  it('says so when the main process goes away, and after a restart (new port and token) comes up in Japanese', async () => {
    await bridge.close();
    await expect
      .poll(() => page.getByRole('alert').textContent())
      .toBe('SSMAXとの接続が切れました。SSMAXを再起動し、新しいアドレスを開いてください。');
    await page.screenshot({ path: join(SCREENSHOTS, 'connection-lost-ja.png') });
    host = await openHost(dataDir);
    bridge = await startBridge({ host, staticDir: buildDir });
    await page.goto(bridge.url);
    await page.getByRole('button', { name: '後で設定する' }).click();
    await expect.poll(() => page.locator('#folders-heading').textContent()).toBe('フォルダー');
    expect(await page.locator('html').getAttribute('lang')).toBe('ja');
    expect(consoleErrors).toEqual([]);
  });

  it('refuses a page opened with a wrong token or none, and says what to do', async () => {
    // Via about:blank: a change of fragment alone would not reload the page.
    await page.goto('about:blank');
    await page.goto(`${bridge.origin}/#token=not-the-token`);
    await expect.poll(() => page.getByRole('alert').textContent()).toBe('SSMAX refused the request.');
    expect(await page.locator('h1').innerText()).toBe('Cannot reach SSMAX');
    expect(bridge.sessions()).toBe(0);

    await page.goto('about:blank');
    await page.goto(`${bridge.origin}/`);
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/opened without its access token/);
    await page.screenshot({ path: join(SCREENSHOTS, 'refused-en.png') });
  });

  it('axe-core finds no serious or critical accessibility violations on the mail and settings screens', async () => {
    await page.goto('about:blank');
    await page.goto(bridge.url);
    await page.getByRole('button', { name: '後で設定する' }).click();
    await expect.poll(() => page.locator('#folders-heading').textContent()).toBe('フォルダー');
    const allViolations: unknown[] = [];
    const audit = async (screen: string): Promise<string[]> => {
      const result = await runAxe(page);
      allViolations.push(...result.map((v) => ({ screen, ...v })));
      return seriousFindings(result);
    };
    const mail = await audit('mail');
    await page.getByRole('button', { name: '設定' }).click();
    await expect.poll(() => page.locator('h1').textContent()).toBe('設定');
    const settings = await audit('settings');
    // Every finding, minor ones included, for a human to read next to the screenshots.
    await writeFile(join(SCREENSHOTS, 'axe-violations.json'), JSON.stringify(allViolations, null, 2));
    expect({ mail, settings }).toEqual({ mail: [], settings: [] });
  });
});
