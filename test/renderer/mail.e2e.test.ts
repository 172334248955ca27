import { spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type Bridge } from '../../client/bridge/server';
import { openDemoClient, type OpenedDemoClient } from '../../demo/client';
import { startDemoWorld, type DemoClient, type DemoWorld } from '../../demo/world';
import { runAxe, seriousFindings } from '../support/axe';
import { launchChromium, type ChromiumHandle } from '../harness/chromium';

/**
 * Bob's mail screens in Chromium through the loopback bridge, against the two-org demo world
 * (real nodes, Dovecot, clamd, pcscd with Bob's enrolled virtual card; mail seeded through the real
 * path). The PIN is typed into the UI's dialog — nothing answers it behind the user's back.
 * Screenshots in English and Japanese go to .tmp/screenshots/mail-*.png.
 */
const SCREENSHOTS = join(process.cwd(), '.tmp', 'screenshots');

const SUBJECT = {
  verified: 'Quarterly figures for the joint project',
  spoof: 'URGENT: change of bank account',
  eicar: 'Invoice (contains the EICAR test file)',
  external: 'Special offer for B Corp',
  zip: 'Price list (password to follow)',
  notes: 'Meeting notes',
};

describe('mail screens against the demo world (Bob)', () => {
  let stateDir: string;
  let buildDir: string;
  let world: DemoWorld;
  let bob: DemoClient;
  let client: OpenedDemoClient;
  let bridge: Bridge;
  let browser: ChromiumHandle;
  let page: Page;
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'ssmax-mail-e2e-'));
    buildDir = await mkdtemp(join(tmpdir(), 'ssmax-renderer-'));
    await mkdir(SCREENSHOTS, { recursive: true });
    const built = spawnSync(
      'npx',
      ['vite', 'build', '--config', 'vite.renderer.config.ts', '--outDir', buildDir, '--emptyOutDir'],
      { encoding: 'utf8' },
    );
    if (built.status !== 0) throw new Error(`renderer build failed:\n${built.stdout}\n${built.stderr}`);
    world = await startDemoWorld({ stateDir, reset: true, card: 'bob' });
    bob = world.clientFor('bob');
    client = await openDemoClient(bob, { answerPin: false });
    bridge = await startBridge({ host: client.host, staticDir: buildDir });
    browser = await launchChromium({ viewport: { width: 1440, height: 960 } });
    page = await browser.newPage();
    page.on('console', (msg) => {
      if (msg.type() === 'error') consoleErrors.push(msg.text());
    });
    page.on('pageerror', (err) => consoleErrors.push(err.message));
  }, 300_000);

  afterAll(async () => {
    await browser?.stop();
    await bridge?.close();
    await client?.close();
    await world?.stop();
    if (buildDir) await rm(buildDir, { recursive: true, force: true });
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  const row = (subject: string): Locator => page.getByTestId('message-row').filter({ hasText: subject });
  const pinDialog = (): Locator => page.getByTestId('pin-dialog');
  const shot = (name: string): Promise<Buffer> => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });

  /** Opens a row; types the PIN if the card asks (the PIN cache may spare the prompt). */
  async function open(subject: string): Promise<void> {
    await row(subject).click();
    await expect
      .poll(async () => {
        await answerPinIfAsked();
        return page.getByTestId('message-subject').filter({ hasText: subject }).count();
      }, { timeout: 60_000 })
      .toBe(1);
  }

  /** Rows of encrypted mail: the outer subject is RFC 9788's placeholder until the message is opened. */
  const hidden = (): Locator => page.getByTestId('message-row').filter({ hasText: '[...]' });

  async function answerPinIfAsked(): Promise<void> {
    if (await pinDialog().isVisible()) {
      await page.locator('#pin-input').fill(bob.pin);
      await page.getByTestId('pin-ok').click();
    }
  }

  it('the inbox lists the seeded mail, virtualized, with a badge per row (not opened yet: never green)', async () => {
    await page.goto(bridge.url);
    await expect.poll(() => page.getByTestId('message-row').count(), { timeout: 60_000 }).toBeGreaterThanOrEqual(6);
    expect(await page.locator('[data-testid="folder"][aria-current="true"]').innerText()).toContain('Inbox');
    // Mail in the clear shows its subject; encrypted mail only the protected-header placeholder.
    expect(await row(SUBJECT.spoof).count()).toBe(1);
    expect(await row(SUBJECT.external).count()).toBe(1);
    expect(await hidden().count()).toBeGreaterThanOrEqual(4);
    // Before opening, the cache knows no state: no row may look verified.
    expect(await page.locator('.trust-badge.trust-verified').count()).toBe(0);
    expect(await page.locator('[data-testid="message-row"] .trust-badge').first().getAttribute('data-trust')).toBe('unopened');
    await shot('mail-inbox-unopened-en');
  });

  it('PIN dialog: a wrong PIN fails the open with the tries left; Cancel is honoured; the right PIN opens the message', async () => {
    const first = hidden().first();
    const uid = await first.getAttribute('data-uid');
    await first.click();
    await expect.poll(() => pinDialog().isVisible(), { timeout: 30_000 }).toBe(true);
    expect(await pinDialog().innerText()).toContain('decrypt');
    await shot('mail-pin-dialog-en');
    await page.locator('#pin-input').fill('000000');
    await page.getByTestId('pin-ok').click();
    await expect.poll(() => page.getByTestId('open-error').getAttribute('data-code'), { timeout: 30_000 }).toBe('WrongPin');
    await expect.poll(() => pinDialog().isVisible()).toBe(false);
    const triesText = await page.getByTestId('open-error-tries').innerText();
    const tries = Number(/(\d+)\s*$/.exec(triesText)?.[1]);
    expect(tries).toBeGreaterThan(0);
    await shot('mail-wrong-pin-en');

    // Never retried automatically: nothing asks again until the user does.
    expect(await pinDialog().isVisible()).toBe(false);
    await page.getByRole('button', { name: 'Try again' }).click();
    await expect.poll(() => pinDialog().isVisible(), { timeout: 30_000 }).toBe(true);
    expect(await page.getByTestId('pin-tries').innerText()).toContain(String(tries));
    await page.getByTestId('pin-cancel').click();
    await expect.poll(() => page.getByTestId('open-error').getAttribute('data-code'), { timeout: 30_000 }).toBe('PinCancelled');
    expect(await pinDialog().isVisible()).toBe(false);

    await page.getByRole('button', { name: 'Try again' }).click();
    await expect.poll(() => pinDialog().isVisible(), { timeout: 30_000 }).toBe(true);
    await page.locator('#pin-input').fill(bob.pin);
    await page.getByTestId('pin-ok').click();
    await expect.poll(() => page.getByTestId('opened-message').count(), { timeout: 60_000 }).toBe(1);
    // Opened: the list shows the protected subject now.
    expect(await page.locator(`[data-testid="message-row"][data-uid="${uid}"]`).innerText()).not.toContain('[...]');
  });

  it('opening every encrypted message shows its real subject and state in the list', async () => {
    for (let i = 0; i < 10 && (await hidden().count()) > 0; i++) {
      const next = hidden().first();
      const uid = await next.getAttribute('data-uid');
      await next.click();
      await expect
        .poll(
          async () => {
            await answerPinIfAsked();
            return page.locator(`[data-testid="message-row"][data-uid="${uid}"]`).innerText();
          },
          { timeout: 60_000 },
        )
        .not.toContain('[...]');
    }
    for (const s of Object.values(SUBJECT)) expect(await row(s).count()).toBe(1);
  });

  it('the verified message: three valid links ① ② ③ and no warning', async () => {
    await open(SUBJECT.verified);
    expect(await page.getByTestId('chain-panel').first().getAttribute('data-state')).toBe('verified');
    const links = page.locator('[data-testid="chain-panel"] > ol > [data-testid="chain-link"]');
    const pairs: (string | null)[][] = [];
    for (const l of await links.all()) pairs.push([await l.getAttribute('data-role'), await l.getAttribute('data-status')]);
    expect(pairs).toEqual([
      ['sender', 'valid'],
      ['sending-org', 'valid'],
      ['receiving-org', 'valid'],
    ]);
    expect(await links.first().innerText()).toContain('alice@a.example');
    expect(await page.locator('[data-testid="chain-panel"] [data-testid^="warn-"]').count()).toBe(0);
    await shot('mail-verified-en');
    await links.first().locator('summary').click();
    await shot('mail-verified-certificate-en');
  });

  it('the spoofed message shows failed, with the reason in plain words', async () => {
    await open(SUBJECT.spoof);
    const panel = page.getByTestId('chain-panel').first();
    expect(await panel.getAttribute('data-state')).toBe('failed');
    expect(await page.locator('[data-testid="opened-message"] .trust-badge').getAttribute('data-trust')).toBe('failed');
    expect(await row(SUBJECT.spoof).locator('.trust-badge').getAttribute('data-trust')).toBe('failed');
    const sender = panel.locator('[data-testid="chain-link"][data-role="sender"]');
    expect(await sender.getAttribute('data-status')).not.toBe('valid');
    expect(await panel.innerText()).toContain('Verification failed');
    expect(await sender.getByTestId('link-reasons').innerText()).toMatch(/SSMAX root|nobody vouches|not signed|chain/i);
    await shot('mail-failed-en');
  });

  it('the EICAR attachment shows Danger and has no save button', async () => {
    await open(SUBJECT.eicar);
    const danger = page.locator('[data-testid="attachment"][data-verdict="Danger"]');
    expect(await danger.count()).toBe(1);
    expect(await danger.getByTestId('attachment-verdict').innerText()).toContain('Danger');
    expect(await danger.getByTestId('attachment-save').count()).toBe(0);
    expect(await danger.innerText()).toContain('cannot be saved');
    await shot('mail-eicar-en');
  });

  it('external and PPAP mail: loud external warning, Unsupported verdict; the inbox badges follow the core', async () => {
    await open(SUBJECT.external);
    expect(await page.getByTestId('chain-panel').first().getAttribute('data-state')).toBe('external');
    expect(await page.getByTestId('warn-external').count()).toBe(1);
    await open(SUBJECT.zip);
    expect(await page.locator('[data-testid="attachment"][data-verdict="Unsupported"]').count()).toBe(1);
    await open(SUBJECT.notes);
    expect(await row(SUBJECT.verified).locator('.trust-badge').getAttribute('data-trust')).toBe('verified');
    expect(await row(SUBJECT.spoof).locator('.trust-badge').getAttribute('data-trust')).toBe('failed');
    expect(await row(SUBJECT.external).locator('.trust-badge').getAttribute('data-trust')).toBe('external');
    await open(SUBJECT.verified);
    await shot('mail-inbox-en');
  });

  it('keyboard: j/k and arrows move, Enter opens', async () => {
    await page.getByTestId('message-list').focus();
    await page.keyboard.press('Home');
    await page.keyboard.press('j');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('k');
    await page.keyboard.press('Enter');
    const second = await page.locator('#msg-row-1').innerText();
    await expect.poll(() => page.getByTestId('message-subject').innerText(), { timeout: 30_000 }).toBe(
      second.split('\n').find((l) => Object.values(SUBJECT).some((s) => l.includes(s))) ?? '',
    );
  });

  it('HTML mail: a sandboxed frame without scripts, remote content blocked until the user loads it for this message', async () => {
    // A "tracker" on loopback that counts who fetched its pixel.
    let pixelHits = 0;
    const tracker = createServer((req, res) => {
      if (req.url === '/pixel.png') pixelHits++;
      res.writeHead(204).end();
    });
    await new Promise<void>((resolve) => tracker.listen(0, '127.0.0.1', resolve));
    const pixel = `http://127.0.0.1:${(tracker.address() as AddressInfo).port}/pixel.png`;
    // Unsigned HTML mail put straight into the mailbox (as any outside sender's mail could be).
    const raw = [
      'From: Newsletter <news@outside.example>',
      'To: bob@b.example',
      'Subject: HTML newsletter with a tracking pixel',
      'Date: Sun, 06 Dec 2026 09:00:00 +0000',
      'Message-ID: <html-e2e-1@outside.example>',
      'MIME-Version: 1.0',
      'Content-Type: text/html; charset=utf-8',
      '',
      `<p style="color:#a00">Hello Bob, <b>big news</b>.</p><img src="${pixel}" alt="pixel"><script>document.title="pwned"</script>`,
      '',
    ].join('\r\n');
    const imap = new ImapFlow({
      host: bob.imap.host,
      port: bob.imap.port,
      secure: false,
      doSTARTTLS: false,
      auth: { user: bob.imap.username, pass: bob.imap.password },
      logger: false,
    });
    await imap.connect();
    try {
      await imap.append('INBOX', raw, []);
    } finally {
      await imap.logout();
    }
    await expect.poll(() => row('HTML newsletter').count(), { timeout: 60_000 }).toBe(1);
    await open('HTML newsletter');
    const frame = page.getByTestId('html-body');
    expect(await frame.getAttribute('sandbox')).toBe('');
    expect(await page.getByTestId('remote-blocked').innerText()).toContain('Remote content was blocked');
    const body = page.frameLocator('[data-testid="html-body"]').locator('body');
    await expect.poll(() => body.innerText()).toContain('big news');
    expect(await page.frameLocator('[data-testid="html-body"]').locator('script').count()).toBe(0);
    expect(await page.frameLocator('[data-testid="html-body"]').locator('img[src^="http"]').count()).toBe(0);
    await shot('mail-html-blocked-en');
    expect(pixelHits).toBe(0);
    await page.getByTestId('load-remote').click();
    await expect.poll(() => page.getByTestId('remote-loaded').count(), { timeout: 30_000 }).toBe(1);
    expect(await page.frameLocator('[data-testid="html-body"]').locator('img[src^="http"]').count()).toBe(1);
    // The user's choice really loads it (the frame's policy and the app's must both allow it).
    await expect.poll(() => pixelHits, { timeout: 10_000 }).toBeGreaterThan(0);
    // Opening another message forgets the choice: it is per message.
    await open(SUBJECT.external);
    await open('HTML newsletter');
    expect(await page.getByTestId('remote-blocked').count()).toBe(1);
    tracker.close();
  });

  it('server-side search narrows the list', async () => {
    // Encrypted mail is opaque to the server: search finds what is in the clear.
    await page.locator('#mail-search').fill('bank account');
    await page.locator('#mail-search').press('Enter');
    await expect.poll(() => page.getByTestId('message-row').count(), { timeout: 30_000 }).toBe(1);
    expect(await row(SUBJECT.spoof).count()).toBe(1);
    await page.locator('#mail-search').fill('');
    await expect.poll(() => page.getByTestId('message-row').count(), { timeout: 30_000 }).toBeGreaterThanOrEqual(6);
  });

  it('in Japanese: inbox, verified, failed and the PIN dialog', async () => {
    await client.host.settings.update({ language: 'ja' });
    await expect.poll(() => page.locator('#folders-heading').textContent()).toBe('フォルダー');
    await open(SUBJECT.verified);
    expect(await page.getByTestId('chain-panel').first().innerText()).toContain('メール送信者の署名');
    await shot('mail-inbox-ja');
    await page.locator('[data-testid="chain-panel"] > ol > [data-testid="chain-link"] summary').first().click();
    await shot('mail-verified-ja');
    await open(SUBJECT.spoof);
    expect(await page.getByTestId('chain-panel').first().innerText()).toContain('検証失敗');
    await shot('mail-failed-ja');
    await open(SUBJECT.eicar);
    await shot('mail-eicar-ja');
    // A fresh card session asks for the PIN again.
    await world.removeCard();
    await world.insertCard('bob');
    await expect.poll(() => page.getByTestId('card-status').innerText(), { timeout: 30_000 }).not.toBe('カードが挿入されていません');
    await row(SUBJECT.notes).click();
    await expect.poll(() => pinDialog().isVisible(), { timeout: 30_000 }).toBe(true);
    expect(await pinDialog().innerText()).toContain('ICカードのPINを入力してください');
    await shot('mail-pin-dialog-ja');
    await page.locator('#pin-input').fill(bob.pin);
    await page.getByTestId('pin-ok').click();
    await expect.poll(() => page.getByTestId('chain-panel').first().getAttribute('data-state'), { timeout: 60_000 }).toBe('verified');
  });

  it('axe-core: no serious or critical violations on the mail screen with a message open', async () => {
    const violations = await runAxe(page);
    await writeFile(join(SCREENSHOTS, 'axe-violations-mail.json'), JSON.stringify(violations, null, 2));
    expect(seriousFindings(violations)).toEqual([]);
    // Expected: the mail's own inline styles are refused inside the srcdoc frame, which inherits the app's `style-src 'self'`
    // (known limitation: HTML mail shows unstyled until the body gets an origin of its own).
    const unexpected = consoleErrors.filter(
      (e) => !e.startsWith('Applying inline style violates'),
    );
    expect(unexpected).toEqual([]);
  });
});
