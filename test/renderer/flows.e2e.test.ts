import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type Bridge } from '../../client/bridge/server';
import { ServiceHost } from '../../client/service-host';
import { runAxe, seriousFindings } from '../support/axe';
import { launchChromium, type ChromiumHandle } from '../harness/chromium';
import { startDovecot, type DovecotHandle } from '../harness/dovecot';
import { startOrgNodeWorld, type OrgNodeWorld } from '../support/org-node-world';

/**
 * The first-launch wizard, compose and the IT enrollment screen as a user drives them in Chromium,
 * through the real loopback bridge and service host, against a real org node serving its bundle
 * over HTTPS (test/support/org-node-world) and a real Dovecot for the mail account. Screenshots in
 * both languages go to .tmp/screenshots/; axe-core must find nothing serious on these screens.
 */
const SCREENSHOTS = join(process.cwd(), '.tmp', 'screenshots');

describe('first launch, compose and enrollment in Chromium through the loopback bridge', () => {
  let buildDir: string;
  let dataDir: string;
  let world: OrgNodeWorld;
  let dovecot: DovecotHandle;
  let host: ServiceHost;
  let bridge: Bridge;
  let browser: ChromiumHandle;
  let page: Page;
  const consoleErrors: string[] = [];
  const serious: string[] = [];

  const audit = async (screen: string): Promise<void> => {
    serious.push(...seriousFindings(await runAxe(page), screen));
  };
  const shot = (name: string): Promise<Buffer> => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
  const setLanguage = async (language: 'en' | 'ja'): Promise<void> => {
    await host.settings.update({ language });
    await expect.poll(() => page.locator('html').getAttribute('lang')).toBe(language);
  };

  beforeAll(async () => {
    buildDir = await mkdtemp(join(tmpdir(), 'ssmax-renderer-'));
    dataDir = await mkdtemp(join(tmpdir(), 'ssmax-data-'));
    await mkdir(SCREENSHOTS, { recursive: true });
    const built = spawnSync('npx', ['vite', 'build', '--config', 'vite.renderer.config.ts', '--outDir', buildDir, '--emptyOutDir'], { encoding: 'utf8' });
    if (built.status !== 0) throw new Error(`renderer build failed:\n${built.stdout}\n${built.stderr}`);

    world = await startOrgNodeWorld();
    dovecot = await startDovecot({ users: [{ address: world.address, password: 'hanako-imap-pw' }] });
    // IT's provisioning file in the data dir: the address, the bundle URL, the SSMAX root to trust.
    await writeFile(join(dataDir, 'provisioning.json'), world.provisioning({ imap: undefined }));
    host = await ServiceHost.open({
      dataDir,
      runtime: 'bridge',
      // No pcscd at this socket: "no card reader", deterministically.
      card: { env: { ...process.env, PCSCLITE_CSOCK_NAME: join(dataDir, 'no-pcscd.comm') } },
    });
    bridge = await startBridge({ host, staticDir: buildDir });
    browser = await launchChromium();
    page = await browser.newPage();
    await page.setViewportSize({ width: 1280, height: 900 });
    page.on('console', (msg) => {
      if (msg.type() === 'error') consoleErrors.push(msg.text());
    });
    page.on('pageerror', (err) => consoleErrors.push(err.message));
  });

  afterAll(async () => {
    await browser?.stop();
    await bridge?.close();
    await host?.close();
    await dovecot?.stop();
    await world?.close();
    await rm(buildDir, { recursive: true, force: true });
    await rm(dataDir, { recursive: true, force: true });
  });

  it('a tampered bundle is refused with the reason, and nothing is pinned', async () => {
    const real = Buffer.from(await world.org.currentBundle());
    const at = real.indexOf('"name": "Launch Corp"');
    expect(at).toBeGreaterThan(0);
    const tampered = Buffer.from(real);
    tampered.write('"name": "Lunch Corp" ', at, 'latin1');
    const restore = await world.serveBundle(new Uint8Array(tampered));
    try {
      await page.goto(bridge.url);
      // The address comes from IT's provisioning file.
      await expect.poll(() => page.getByLabel('Your mail address').inputValue()).toBe(world.address);
      await shot('first-launch-address-en');
      await page.getByRole('button', { name: 'Find my organisation' }).click();
      await expect.poll(() => page.getByTestId('org-refused').isVisible()).toBe(true);
      expect(await page.getByTestId('refused-reason').innerText()).toMatch(/signature-invalid|verif/i);
      // No way forward with that bundle: only "use another address".
      expect(await page.getByTestId('org-refused').getByRole('button').allInnerTexts()).toEqual(['Use another address']);
      await shot('first-launch-refused-en');
      await audit('first-launch refused');
      expect((await host.org.status()).state).toBe('none');
    } finally {
      await restore();
    }
  });

  it('the served bundle: the wizard shows the org name and fingerprint; confirm pins it; the IMAP login is checked; done → mail', async () => {
    await page.getByRole('button', { name: 'Use another address' }).click();
    await page.getByRole('button', { name: 'Find my organisation' }).click();
    await expect.poll(() => page.getByTestId('org-name').innerText()).toBe('Launch Corp');
    const shown = await page.getByTestId('org-fingerprint').getAttribute('data-value');
    const discovered = (await host.accounts.list()).length;
    expect(discovered).toBe(0);
    expect(shown).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    // The grouped display is the same hex as the value.
    expect((await page.getByTestId('org-fingerprint').innerText()).replace(/\s/g, '')).toBe(shown?.replace(/:/g, ''));
    await shot('first-launch-found-en');
    await audit('first-launch found');
    await setLanguage('ja');
    await expect.poll(() => page.getByRole('button', { name: 'これは私の組織です — 確定' }).isVisible()).toBe(true);
    await shot('first-launch-found-ja');
    await setLanguage('en');

    await page.getByRole('button', { name: 'This is my organisation — confirm' }).click();
    await expect.poll(() => page.getByTestId('account-setup').isVisible()).toBe(true);
    const status = await host.org.status();
    expect(status.state).toBe('pinned');
    expect(status.org?.name).toBe('Launch Corp');
    expect(status.org?.encryptionKeyFingerprint).toBe(shown);

    // Manual IMAP settings (the provisioning file gave none): a wrong password is refused in plain words.
    await page.getByLabel('IMAP server').fill(dovecot.imap.host);
    await page.getByLabel('Port').fill(String(dovecot.imap.port));
    await page.getByLabel('Security').selectOption('none');
    await page.getByLabel('Password').fill('wrong');
    await page.getByRole('button', { name: 'Connect' }).click();
    await expect.poll(() => page.getByTestId('account-setup').getByRole('alert').innerText()).toContain('refused the user name or password');
    await shot('first-launch-account-en');
    await page.getByLabel('Password').fill('hanako-imap-pw');
    await page.getByRole('button', { name: 'Connect' }).click();
    await expect.poll(() => page.getByTestId('first-launch-done').isVisible()).toBe(true);
    await page.getByRole('button', { name: 'Open my mail' }).click();
    await expect.poll(() => page.locator('#folders-heading').isVisible()).toBe(true);
    expect((await host.accounts.list()).map((a) => a.email)).toEqual([world.address]);

    await page.getByRole('button', { name: 'Settings' }).click();
    await expect.poll(() => page.getByTestId('pinned-org-name').innerText()).toBe('Launch Corp');
    expect(await page.getByTestId('pinned-org-state').innerText()).toBe('Pinned and verified');
    await page.getByRole('button', { name: 'Check for an update now' }).click();
    await expect.poll(() => page.getByTestId('org-refresh-status').innerText()).toBe('Checked.');
    await shot('settings-org-en');
    await audit('settings org');
  });

  it('compose: an encrypted ZIP attached → the PPAP warning, nothing queued; signing status names the org', async () => {
    const zipDir = await mkdtemp(join(tmpdir(), 'ssmax-ppap-'));
    await writeFile(join(zipDir, 'figures.csv'), 'q3,100\n');
    const zipped = spawnSync('zip', ['-q', '-P', 'secret', join(zipDir, 'figures.zip'), 'figures.csv'], { cwd: zipDir, encoding: 'utf8' });
    expect(zipped.status, zipped.stderr).toBe(0);

    await page.getByRole('button', { name: 'New message' }).click();
    await expect.poll(() => page.getByTestId('compose-security').innerText()).toContain('Launch Corp');
    expect(await page.getByTestId('compose-security').innerText()).toContain('9C');
    await page.getByLabel('To', { exact: true }).fill('taro@other.example.jp');
    await page.getByLabel('Subject').fill('Q3 figures');
    await page.getByRole('textbox', { name: 'Message', exact: true }).fill('Figures attached.');
    await page.locator('input[type=file]').setInputFiles(join(zipDir, 'figures.zip'));
    await expect.poll(() => page.getByTestId('attachment').innerText()).toMatch(/figures\.zip\s+\d+ B/);
    await expect.poll(() => page.getByTestId('attachment').locator('progress').count()).toBe(0);
    await shot('compose-en');
    await audit('compose');
    // Rich text: the marks typed by the toolbar show in the preview (axe-clean with the toolbar open), then back to plain.
    const body = page.getByRole('textbox', { name: 'Message', exact: true });
    await page.getByLabel('Rich text (bold, italic, lists, links)').check();
    await body.fill('Figures attached.\nkey points\nsee the dashboard');
    await body.evaluate((el) => (el as unknown as { setSelectionRange(a: number, b: number): void }).setSelectionRange(18, 28));
    await page.getByRole('toolbar', { name: 'Formatting' }).getByRole('button', { name: 'Bold' }).click();
    await body.press('Control+End');
    await page.getByRole('button', { name: 'Bulleted list' }).click();
    expect(await body.inputValue()).toBe('Figures attached.\n**key points**\n- see the dashboard');
    expect(await page.getByTestId('rich-preview').locator('strong').innerText()).toBe('key points');
    expect(await page.getByTestId('rich-preview').locator('li').innerText()).toBe('see the dashboard');
    await shot('compose-rich-en');
    await audit('compose rich text');
    await page.getByLabel('Rich text (bold, italic, lists, links)').uncheck();
    await body.fill('Figures attached.');
    await page.getByRole('button', { name: 'Sign and send' }).click();
    await expect.poll(() => page.getByTestId('ppap-warning').isVisible()).toBe(true);
    expect(await page.getByTestId('ppap-warning').innerText()).toContain('figures.zip');
    expect(await host.outbox.list()).toEqual([]);
    await shot('compose-ppap-en');
    await audit('compose ppap');
    await setLanguage('ja');
    await expect.poll(() => page.getByTestId('ppap-warning').innerText()).toContain('パスワード付きZIP（PPAP）');
    await shot('compose-ppap-ja');
    await page.getByRole('button', { name: '戻って添付ファイルを変更する' }).click();
    await shot('compose-ja');
    await rm(zipDir, { recursive: true, force: true });
  });

  it('the IT enrollment screen in both languages; with no card reader, start stops and says why in plain words', async () => {
    await setLanguage('ja');
    await page.getByRole('button', { name: 'ICカード発行（IT）' }).click();
    await expect.poll(() => page.locator('h1').innerText()).toBe('社員証・職員証（ICカード）の発行（IT部門）');
    await shot('enrollment-ja');
    await audit('enrollment ja');
    await setLanguage('en');
    await page.getByLabel('Full name', { exact: true }).fill('Dan Ito');
    await page.getByLabel('Mail address', { exact: true }).fill('dan@launch.example.jp');
    await page.getByLabel('Staff ID', { exact: true }).fill('L-0042');
    await page.getByLabel('Enrollment code (from the org CA)').fill('K7Q2-99XZ');
    await shot('enrollment-en');
    await page.getByRole('button', { name: 'Start enrollment' }).click();
    await expect.poll(() => page.getByTestId('enrollment-error').isVisible()).toBe(true);
    expect(await page.getByTestId('enrollment-error').innerText()).toContain('No card in the reader');
    expect(await page.locator('[data-step=insert-card]').getAttribute('data-status')).toBe('failed');
    await shot('enrollment-error-en');
    await audit('enrollment error');
    expect(serious).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });
});
