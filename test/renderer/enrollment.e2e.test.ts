import { execFile, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type Bridge } from '../../client/bridge/server';
import { ServiceHost } from '../../client/service-host';
import { runAxe, seriousFindings } from '../support/axe';
import { launchChromium, type ChromiumHandle } from '../harness/chromium';
import { startPcscd, type PcscdHandle } from '../harness/pcsc';
import { startVirtualCard, type VirtualCardHandle } from '../harness/virtual-card';
import { startOrgNodeWorld, type OrgNodeWorld } from '../support/org-node-world';

/**
 * IT enrolls a factory-fresh virtual PIV card (pcscd + vpcd) through the enrollment wizard in
 * Chromium, over the real loopback bridge and service host, against a real org node's HTTPS
 * enrollment API with a one-time code from its directory. The new PIN goes through the PIN dialog
 * (typed twice). The result is then judged by tools nobody here wrote: yubico-piv-tool reads the
 * card's status and certificates, OpenSSL reads those, the new PIN and PUK verify and the factory
 * ones do not. Then a second fresh card with the now used code: the node refuses the code before
 * the card is touched (step `check-code`), the refusal in plain words, that card still factory-fresh
 * (factory PIN, no certificate) and nothing issued. Screenshots `enroll-*.png` in .tmp/screenshots/.
 */
const execp = promisify(execFile);
const SCREENSHOTS = join(process.cwd(), '.tmp', 'screenshots');
const DOMAIN = 'card.example.jp';
const EMAIL = `ken@${DOMAIN}`;
const NAME = 'Ken Watanabe';
const NEW_PIN = '24681357';
const NEW_PUK = '97531864';
const NEW_MGMT = '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff';
const STEPS = ['insert-card', 'check-code', 'initialise', 'generate-keys', 'request-certificates', 'write-certificates', 'check', 'done'] as const;

describe('IT enrolls a fresh card through the wizard; third-party tools judge the card', () => {
  let buildDir: string;
  let dataDir: string;
  let world: OrgNodeWorld;
  let pcscd: PcscdHandle;
  let card: VirtualCardHandle;
  let host: ServiceHost;
  let bridge: Bridge;
  let browser: ChromiumHandle;
  let page: Page;
  let code: string;
  const consoleErrors: string[] = [];
  const serious: string[] = [];

  const shot = (name: string): Promise<Buffer> => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
  const setLanguage = async (language: 'en' | 'ja'): Promise<void> => {
    await host.settings.update({ language });
    await expect.poll(() => page.locator('html').getAttribute('lang')).toBe(language);
  };
  const audit = async (screen: string): Promise<void> => {
    serious.push(...seriousFindings(await runAxe(page), screen));
  };
  /** A third-party tool against the card in the virtual reader: exit status and all it printed. */
  const tool = async (cmd: string, args: string[], input?: string): Promise<{ ok: boolean; out: string }> => {
    try {
      const run = execp(cmd, args, { env: { ...process.env, ...pcscd.env }, timeout: 60_000, encoding: 'utf8' });
      if (input !== undefined) run.child.stdin?.end(input);
      const { stdout, stderr } = await run;
      return { ok: true, out: stdout + stderr };
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string };
      return { ok: false, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
    }
  };
  const piv = (...args: string[]) => tool('yubico-piv-tool', ['-r', 'Virtual PCD', ...args]);
  const must = async (p: Promise<{ ok: boolean; out: string }>): Promise<string> => {
    const r = await p;
    if (!r.ok) throw new Error(`${r.out}\n--- card log ---\n${card.logTail(40)}`);
    return r.out;
  };
  /**
   * The step statuses the wizard shows, recorded in the page as `step:status` whenever one changes
   * (the steps can pass faster than a poll; script text, as this project's Node typings have no DOM).
   */
  const recordSteps = (): Promise<void> =>
    page.evaluate(`(() => {
      const log = (globalThis.stepLog = []);
      const note = (el) => log.push(el.getAttribute('data-step') + ':' + el.getAttribute('data-status'));
      new MutationObserver((records) => {
        for (const r of records) {
          if (r.type === 'attributes' && r.target.hasAttribute('data-step')) note(r.target);
          for (const n of r.addedNodes) if (n.nodeType === 1) n.querySelectorAll('[data-step]').forEach(note);
        }
      }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-status'] });
    })()`);
  const stepLog = (): Promise<string[]> => page.evaluate('globalThis.stepLog');
  const statusOf = (step: string): Promise<string | null> => page.locator(`[data-step=${step}]`).getAttribute('data-status');
  const pinDialog = () => page.getByTestId('pin-dialog');

  /** The PIN dialog asks for the new PIN: a mismatch is refused in the dialog, then the PIN twice. */
  const chooseNewPin = async (mismatchFirst: boolean): Promise<void> => {
    await expect.poll(() => pinDialog().isVisible(), { timeout: 60_000 }).toBe(true);
    expect(await pinDialog().getByRole('heading').innerText()).toBe('Choose the new PIN');
    expect(await pinDialog().innerText()).toContain('To set up a staff ID card');
    // While the dialog waits, the code has passed the node's check, the card is being initialised and nothing else has happened yet.
    expect(await statusOf('insert-card')).toBe('done');
    expect(await statusOf('check-code')).toBe('done');
    expect(await statusOf('initialise')).toBe('current');
    expect(await statusOf('generate-keys')).toBe('pending');
    if (mismatchFirst) {
      await pinDialog().getByLabel('New PIN (6–8 digits)').fill(NEW_PIN);
      await pinDialog().getByLabel('New PIN again').fill('24681358');
      await pinDialog().getByRole('button', { name: 'OK' }).click();
      await expect.poll(() => pinDialog().getByRole('alert').innerText()).toBe('The two entries differ: type the same new PIN twice.');
      expect(await pinDialog().isVisible()).toBe(true);
      await shot('enroll-pin-mismatch-en');
      await audit('pin dialog mismatch');
    }
    await pinDialog().getByLabel('New PIN (6–8 digits)').fill(NEW_PIN);
    await pinDialog().getByLabel('New PIN again').fill(NEW_PIN);
    await pinDialog().getByRole('button', { name: 'OK' }).click();
    await expect.poll(() => pinDialog().isVisible()).toBe(false);
  };

  beforeAll(async () => {
    buildDir = await mkdtemp(join(tmpdir(), 'ssmax-renderer-'));
    dataDir = await mkdtemp(join(tmpdir(), 'ssmax-enroll-data-'));
    await mkdir(SCREENSHOTS, { recursive: true });
    const built = spawnSync('npx', ['vite', 'build', '--config', 'vite.renderer.config.ts', '--outDir', buildDir, '--emptyOutDir'], { encoding: 'utf8' });
    if (built.status !== 0) throw new Error(`renderer build failed:\n${built.stdout}\n${built.stderr}`);

    world = await startOrgNodeWorld('Card Corp', DOMAIN);
    await world.org.directory.addMember({ address: EMAIL, name: NAME, staffId: 'CC-1001' }, 'test');
    ({ code } = await world.org.directory.createEnrollmentCode(EMAIL, 600_000, 'test'));
    pcscd = await startPcscd();
    card = await startVirtualCard(pcscd, { stateFile: join(dataDir, 'card-a.json') });
    // IT's own computer: first launch pinned the org (its enrollment API is on the bundle's origin).
    await writeFile(join(dataDir, 'provisioning.json'), world.provisioning({ imap: undefined }));
    host = await ServiceHost.open({ dataDir, runtime: 'bridge', card: { env: { ...process.env, ...pcscd.env }, requestTimeoutMs: 60_000, pinTtlMs: 0 } });
    await host.accounts.confirm((await host.accounts.discover(world.address)).id);
    bridge = await startBridge({ host, staticDir: buildDir });
    browser = await launchChromium();
    page = await browser.newPage();
    await page.setViewportSize({ width: 1280, height: 900 });
    page.on('console', (msg) => {
      if (msg.type() === 'error') consoleErrors.push(msg.text());
    });
    page.on('pageerror', (err) => consoleErrors.push(err.message));
  }, 240_000);

  afterAll(async () => {
    await browser?.stop();
    await bridge?.close();
    await host?.close();
    await card?.stop();
    await pcscd?.stop();
    await world?.close();
    if (buildDir) await rm(buildDir, { recursive: true, force: true });
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('the wizard: holder, one-time code, new PUK and management key, the new PIN twice in the PIN dialog → every step done, the serials in the summary', async () => {
    await page.goto(bridge.url);
    await page.getByRole('button', { name: 'Card enrollment (IT)' }).click();
    await expect.poll(() => page.locator('h1').innerText()).toBe('Enroll a staff ID card (IT)');
    await page.getByLabel('Full name', { exact: true }).fill(NAME);
    await page.getByLabel('Mail address', { exact: true }).fill(EMAIL);
    await page.getByLabel('Staff ID', { exact: true }).fill('CC-1001');
    await page.getByLabel('Enrollment code (from the org CA)').fill(code);
    await page.getByLabel('New PUK', { exact: true }).fill(NEW_PUK);
    await page.getByLabel('New PUK again', { exact: true }).fill(NEW_PUK);
    await page.getByLabel('New management key (hex)', { exact: true }).fill(NEW_MGMT);
    await page.getByLabel('New management key again', { exact: true }).fill(NEW_MGMT);
    await shot('enroll-form-en');
    await recordSteps();
    await page.getByRole('button', { name: 'Start enrollment' }).click();

    await chooseNewPin(true);
    await expect.poll(() => page.getByTestId('enrollment-summary').isVisible(), { timeout: 90_000 }).toBe(true);
    for (const step of STEPS) expect(await statusOf(step)).toBe('done');
    // Each step was shown in progress, in order, before the end (no step skipped or out of order).
    const log = await stepLog();
    const current = [...new Set(log.filter((l) => l.endsWith(':current')).map((l) => l.split(':')[0]))];
    const order = current.map((s) => STEPS.indexOf(s as (typeof STEPS)[number]));
    expect(order).toEqual([...order].sort((x, y) => x - y));
    expect(current.slice(0, 3)).toEqual(['insert-card', 'check-code', 'initialise']);
    expect(log.filter((l) => l.endsWith(':failed'))).toEqual([]);

    // The serials shown are the ones the org node recorded as issued to Ken.
    const issued = (await world.org.directory.certificates(EMAIL)).filter((c) => !c.revokedAt);
    expect(issued.map((c) => c.slot).sort()).toEqual(['9C', '9D']);
    const summary = page.getByTestId('enrollment-summary');
    const serials = await summary.locator('code').allInnerTexts();
    const sig = issued.find((c) => c.slot === '9C')!.serial.toLowerCase();
    const km = issued.find((c) => c.slot === '9D')!.serial.toLowerCase();
    expect(serials).toContain(sig);
    expect(serials).toContain(km);
    const text = await summary.innerText();
    expect(text).toContain(NAME);
    expect(text).toContain(EMAIL);
    expect(text).toContain('CC-1001');
    // The summary is printed and handed over: no secret on it.
    for (const secret of [NEW_PIN, NEW_PUK, NEW_MGMT]) expect(await page.locator('body').innerText()).not.toContain(secret);
    await shot('enroll-done-en');
    await audit('enrollment done');
    await setLanguage('ja');
    await expect.poll(() => summary.getByRole('heading').innerText()).toBe('発行の概要');
    expect(await summary.innerText()).toContain('署名用証明書（9C）のシリアル番号');
    await shot('enroll-done-ja');
    await setLanguage('en');
  }, 150_000);

  it('yubico-piv-tool and OpenSSL: 9C and 9D hold Ken’s certificates with the serials shown; the new PIN and PUK verify, the factory ones do not', async () => {
    const status = await must(piv('-a', 'status'));
    expect(status).toMatch(/Slot 9c:/);
    expect(status).toMatch(/Slot 9d:/);
    const summary = await page.getByTestId('enrollment-summary').locator('code').allInnerTexts();
    for (const slot of ['9c', '9d']) {
      const certPem = await must(piv('-a', 'read-certificate', '-s', slot));
      const x509 = await must(tool('openssl', ['x509', '-noout', '-subject', '-serial', '-ext', 'subjectAltName,keyUsage'], certPem));
      expect(x509, slot).toContain(NAME);
      expect(x509, slot).toContain(`email:${EMAIL}`);
      const serial = /serial=([0-9A-F]+)/.exec(x509)?.[1]?.toLowerCase();
      expect(summary, slot).toContain(serial);
      expect(x509, slot).toMatch(slot === '9c' ? /Digital Signature/ : /Key Agreement|Key Encipherment/);
    }
    expect(await must(piv('-a', 'verify-pin', '-P', NEW_PIN))).toContain('Successfully verified PIN');
    const factoryPin = await piv('-a', 'verify-pin', '-P', '123456');
    expect(factoryPin.ok, factoryPin.out).toBe(false);
    // change-puk to itself: succeeds only with the PUK the wizard set.
    const factoryPuk = await piv('-a', 'change-puk', '-P', '12345678', '-N', '12345678');
    expect(factoryPuk.ok, factoryPuk.out).toBe(false);
    await must(piv('-a', 'change-puk', '-P', NEW_PUK, '-N', NEW_PUK));
  }, 90_000);

  it('another fresh card with the now used code: refused at the code check before the card is touched (no PIN asked), the refusal in plain words, the card still factory-fresh, none issued', async () => {
    await card.stop();
    card = await startVirtualCard(pcscd, { stateFile: join(dataDir, 'card-b.json') });
    await page.getByRole('button', { name: 'Enroll another card' }).click();
    // The holder's details stay; the secrets are cleared. The used code goes in again.
    expect(await page.getByLabel('Enrollment code (from the org CA)').inputValue()).toBe(code);
    expect(await page.getByLabel('New PUK', { exact: true }).inputValue()).toBe('');
    await recordSteps();
    await page.getByRole('button', { name: 'Start enrollment' }).click();
    await expect.poll(() => page.getByTestId('enrollment-error').isVisible(), { timeout: 90_000 }).toBe(true);
    const error = page.getByTestId('enrollment-error');
    expect(await error.innerText()).toContain('The org CA refused the enrollment code (wrong, used or expired). Ask for a new code.');
    // The code was checked before the card was touched: no new PIN asked, no "already initialised" note.
    expect(await pinDialog().isVisible()).toBe(false);
    expect(await page.getByTestId('enrollment-initialised').count()).toBe(0);
    expect(await statusOf('insert-card')).toBe('done');
    expect(await statusOf('check-code')).toBe('failed');
    expect(await statusOf('initialise')).toBe('pending');
    expect(await statusOf('generate-keys')).toBe('pending');
    expect(await statusOf('request-certificates')).toBe('pending');
    expect(await page.getByTestId('enrollment-summary').count()).toBe(0);
    await shot('enroll-refused-en');
    await audit('enrollment refused');
    await setLanguage('ja');
    await expect.poll(() => error.innerText()).toContain('組織CAが発行コードを拒否しました');
    await shot('enroll-refused-ja');
    await setLanguage('en');

    // What the wizard says about the card is what the card holds: still the factory PIN (the new one
    // refused), and no certificate in 9C or 9D; the node issued nothing more than Ken's first pair.
    const status = await must(piv('-a', 'status'));
    expect(status).not.toMatch(/Slot 9c:/);
    expect(status).not.toMatch(/Slot 9d:/);
    for (const slot of ['9c', '9d']) expect((await piv('-a', 'read-certificate', '-s', slot)).ok, slot).toBe(false);
    expect(await must(piv('-a', 'verify-pin', '-P', '123456'))).toContain('Successfully verified PIN');
    expect((await piv('-a', 'verify-pin', '-P', NEW_PIN)).ok).toBe(false);
    expect((await world.org.directory.certificates(EMAIL)).length).toBe(2);

    expect(serious).toEqual([]);
    expect(consoleErrors).toEqual([]);
  }, 150_000);
});
