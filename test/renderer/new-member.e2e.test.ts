import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OutboxEntry } from '../../api';
import { startBridge, type Bridge } from '../../client/bridge/server';
import { ServiceHost } from '../../client/service-host';
import { startDemoWorld, type DemoWorld, type NewDemoMember } from '../../demo/world';
import { launchChromium, type ChromiumHandle } from '../harness/chromium';
import {
  answerPinIfAsked,
  buildRenderer,
  hiddenRows,
  messageRow,
  openDemoUserPage,
  type DemoUserPage,
} from '../support/demo-ui';
import { ssmax } from '../support/ssmax-cli';

/**
 * A new member's first mail (issue 8): Dave joins A Corp in the running demo world (`ssmax org member
 * add`, a mailbox, a one-time enrollment code, a blank virtual card in the one reader). IT enrolls the
 * card through the enrollment wizard in Chromium on its own computer (first launch pinned to A Corp,
 * the loopback bridge), the new PIN typed into the PIN dialog. Then Dave's client writes to
 * bob@b.example through the UI, the PIN IT set typed into the dialog, and the outbox is followed until
 * node A took it. Bob's card goes in, his client opens the mail: verified, ① dave@a.example ② A Corp
 * ③ B Corp. Screenshots: .tmp/screenshots/new-member-*.png.
 */
const SCREENSHOTS = join(process.cwd(), '.tmp', 'screenshots');
const DAVE: NewDemoMember = {
  user: 'dave',
  address: 'dave@a.example',
  name: 'Dave Doi',
  staffId: 'A-0003',
  org: 'a',
  password: 'dave-demo',
  pin: '13572468',
};
const PUK = '86427531';
const MGMT = 'a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1';
const SUBJECT = 'Hello from the new colleague at A Corp';
const BODY = 'Bob, I joined A Corp this week; this is my first signed mail. (new-member e2e)';

type LinkRow = [role: string | null, status: string | null];

describe('a new member: IT enrolls the blank card in the wizard, the first mail is seen verified at B Corp', () => {
  let stateDir: string;
  let buildDir: string;
  let world: DemoWorld;
  let browser: ChromiumHandle;
  let code: string;
  let current: DemoUserPage | undefined;
  /** Dave's 9C serial, as node A issued it. */
  let signatureSerial = '';
  const outboxStates = new Set<string>();

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'ssmax-new-member-e2e-'));
    await mkdir(SCREENSHOTS, { recursive: true });
    buildDir = await buildRenderer();
    world = await startDemoWorld({ stateDir, reset: true, card: null });
    ({ enrollmentCode: code } = await world.addMember(DAVE));
    browser = await launchChromium({ viewport: { width: 1440, height: 960 } });
  }, 300_000);

  afterAll(async () => {
    await current?.close();
    await browser?.stop();
    await world?.stop();
    if (buildDir) await rm(buildDir, { recursive: true, force: true });
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  /** The valid certificates of `address` by slot, as A Corp's administrator sees them (`ssmax org member show`). */
  async function issuedTo(address: string): Promise<Record<string, string>> {
    const r = await ssmax(['org', 'member', 'show', '--dir', world.orgs.a.dir, '--address', address]);
    expect(r.code, r.stderr).toBe(0);
    const out: Record<string, string> = {};
    for (const m of r.stdout.matchAll(/^\s+(9C|9D)\tserial ([0-9a-fA-F]+)\t\S+\tvalid$/gm)) out[m[1]!] = m[2]!.toLowerCase();
    return out;
  }

  const shot = (page: Page, name: string): Promise<Buffer> =>
    page.screenshot({ path: join(SCREENSHOTS, `new-member-${name}.png`), fullPage: true });

  it('IT enrolls Dave’s blank card through the wizard on its own computer: every step done, the serials the node issued to Dave', async () => {
    await world.insertCard('dave');
    // IT's computer: first launch from IT's provisioning file for A Corp (the enrollment API is on
    // the pinned bundle's origin); no mail account, no card of its own.
    const dave = world.clientFor('dave');
    const itDir = join(stateDir, 'clients', 'it-a');
    await mkdir(itDir, { recursive: true, mode: 0o700 });
    await writeFile(join(itDir, 'provisioning.json'), JSON.stringify({ ...JSON.parse(dave.provisioning), address: 'it@a.example' }));
    const host = await ServiceHost.open({ ...dave.hostOptions, dataDir: itDir });
    let bridge: Bridge | undefined;
    try {
      await host.accounts.confirm((await host.accounts.discover('it@a.example')).id);
      bridge = await startBridge({ host, staticDir: buildDir });
      const page = await browser.newPage();
      const consoleErrors: string[] = [];
      page.on('console', (msg) => {
        if (msg.type() === 'error') consoleErrors.push(msg.text());
      });
      page.on('pageerror', (err) => consoleErrors.push(err.message));
      await page.goto(bridge.url);
      await page.getByRole('button', { name: 'Card enrollment (IT)' }).click();
      await expect.poll(() => page.locator('h1').innerText(), { timeout: 30_000 }).toBe('Enroll a staff ID card (IT)');
      await page.getByLabel('Full name', { exact: true }).fill(DAVE.name);
      await page.getByLabel('Mail address', { exact: true }).fill(DAVE.address);
      await page.getByLabel('Staff ID', { exact: true }).fill(DAVE.staffId);
      await page.getByLabel('Enrollment code (from the org CA)').fill(code);
      await page.getByLabel('New PUK', { exact: true }).fill(PUK);
      await page.getByLabel('New PUK again', { exact: true }).fill(PUK);
      await page.getByLabel('New management key (hex)', { exact: true }).fill(MGMT);
      await page.getByLabel('New management key again', { exact: true }).fill(MGMT);
      await shot(page, 'enroll-form');
      await page.getByRole('button', { name: 'Start enrollment' }).click();

      const pinDialog = page.getByTestId('pin-dialog');
      await expect.poll(() => pinDialog.isVisible(), { timeout: 60_000 }).toBe(true);
      expect(await pinDialog.getByRole('heading').innerText()).toBe('Choose the new PIN');
      await pinDialog.getByLabel('New PIN (6–8 digits)').fill(DAVE.pin);
      await pinDialog.getByLabel('New PIN again').fill(DAVE.pin);
      await pinDialog.getByRole('button', { name: 'OK' }).click();
      await expect
        .poll(
          async () =>
            (await page.getByTestId('enrollment-error').count()) > 0
              ? `error: ${await page.getByTestId('enrollment-error').innerText()}`
              : (await page.getByTestId('enrollment-summary').count()) > 0,
          { timeout: 90_000 },
        )
        .toBe(true);
      for (const step of await page.locator('[data-step]').all()) expect(await step.getAttribute('data-status'), await step.getAttribute('data-step') ?? '').toBe('done');

      // The summary names Dave and shows the serials of the two certificates node A issued to him.
      const summary = page.getByTestId('enrollment-summary');
      const text = await summary.innerText();
      for (const s of [DAVE.name, DAVE.address, DAVE.staffId]) expect(text).toContain(s);
      const shown = (await summary.locator('code').allInnerTexts()).map((c) => c.toLowerCase());
      const issued = await issuedTo(DAVE.address);
      expect(Object.keys(issued).sort()).toEqual(['9C', '9D']);
      expect(shown).toContain(issued['9C']);
      expect(shown).toContain(issued['9D']);
      signatureSerial = issued['9C']!;
      expect(await page.locator('body').innerText()).not.toContain(DAVE.pin);
      await shot(page, 'enroll-done');
      expect(consoleErrors).toEqual([]);
      await page.close();
    } finally {
      await bridge?.close();
      await host.close();
    }
  }, 180_000);

  it('Dave’s client writes to bob@b.example through the UI: signed with the PIN IT set (typed in the dialog), node A takes it', async () => {
    current = await openDemoUserPage(world, 'dave', browser, buildDir);
    const dave = current;
    const p = dave.page;
    expect(dave.pin).toBe(DAVE.pin);
    dave.client.host.events.on('outbox.changed', (list: OutboxEntry[]) => {
      for (const e of list) if (e.subject === SUBJECT) outboxStates.add(e.state);
    });
    await p.getByRole('button', { name: 'New message' }).click();
    await expect.poll(() => p.getByTestId('compose-security').innerText(), { timeout: 30_000 }).toContain('A Corp');
    await p.getByLabel('To', { exact: true }).fill('bob@b.example');
    await p.getByLabel('Subject', { exact: true }).fill(SUBJECT);
    await p.getByRole('textbox', { name: 'Message', exact: true }).fill(BODY);
    await shot(p, 'compose');

    const pinAsked: string[] = [];
    await p.getByRole('button', { name: 'Sign and send' }).click();
    await expect
      .poll(
        async () => {
          if (await p.getByTestId('pin-dialog').isVisible()) {
            pinAsked.push(await p.getByTestId('pin-dialog').innerText());
            if (pinAsked.length === 1) await shot(p, 'pin-dialog');
            await answerPinIfAsked(dave);
          }
          if ((await p.getByTestId('compose-error').count()) > 0) return `error: ${await p.getByTestId('compose-error').innerText()}`;
          return (await p.getByTestId('compose-queued').count()) > 0 ? 'queued' : 'waiting';
        },
        { timeout: 60_000 },
      )
      .toBe('queued');
    // Dave's card was never unlocked on this computer: signing asked for the PIN, for this mail.
    expect(pinAsked.length).toBeGreaterThan(0);
    expect(pinAsked[0]).toContain('Sign the mail to bob@b.example');
    await expect
      .poll(
        async () => {
          const pending = await p.locator('[data-testid="outbox-entry"]:not(.outbox-sent)').filter({ hasText: SUBJECT }).count();
          return { sent: outboxStates.has('sent'), failed: outboxStates.has('failed'), pending };
        },
        { timeout: 90_000 },
      )
      .toEqual({ sent: true, failed: false, pending: 0 });
    await shot(p, 'sent');
    expect(dave.consoleErrors).toEqual([]);
  }, 180_000);

  it('Bob opens it: verified, ① dave@a.example valid ② A Corp ③ B Corp, no warning', async () => {
    await current?.close();
    current = undefined;
    current = await openDemoUserPage(world, 'bob', browser, buildDir);
    const bob = current;
    const p = bob.page;
    // Encrypted mail shows RFC 9788's placeholder until opened: open hidden rows until Dave's shows.
    await expect.poll(() => p.getByTestId('message-row').count(), { timeout: 90_000 }).toBeGreaterThan(0);
    for (let i = 0; i < 12 && (await messageRow(p, SUBJECT).count()) === 0; i++) {
      await expect.poll(() => hiddenRows(p).count(), { timeout: 90_000 }).toBeGreaterThan(0);
      const next = hiddenRows(p).first();
      const uid = await next.getAttribute('data-uid');
      await next.click();
      await expect
        .poll(
          async () => {
            await answerPinIfAsked(bob);
            return p.locator(`[data-testid="message-row"][data-uid="${uid}"]`).innerText();
          },
          { timeout: 60_000 },
        )
        .not.toContain('[...]');
    }
    expect(await messageRow(p, SUBJECT).count()).toBe(1);
    await messageRow(p, SUBJECT).click();
    await expect
      .poll(
        async () => {
          await answerPinIfAsked(bob);
          return p.getByTestId('message-subject').filter({ hasText: SUBJECT }).count();
        },
        { timeout: 60_000 },
      )
      .toBe(1);

    const panel: Locator = p.getByTestId('chain-panel').first();
    expect(await panel.getAttribute('data-state')).toBe('verified');
    const links = panel.locator(':scope > ol > [data-testid="chain-link"]');
    const rows: LinkRow[] = [];
    const texts: string[] = [];
    for (const l of await links.all()) {
      rows.push([await l.getAttribute('data-role'), await l.getAttribute('data-status')]);
      texts.push((await l.textContent()) ?? '');
    }
    expect(rows).toEqual([
      ['sender', 'valid'],
      ['sending-org', 'valid'],
      ['receiving-org', 'valid'],
    ]);
    // ① is what the wizard put on the card: Dave's name, staff ID and address from node A's certificate.
    for (const s of [DAVE.name, DAVE.staffId, DAVE.address, 'A Corp']) expect(texts[0]).toContain(s);
    expect(texts[1]).toContain('A Corp');
    expect(texts[2]).toContain('B Corp');
    expect(await panel.locator('[data-testid^="warn-"]').count()).toBe(0);
    expect(await p.getByTestId('opened-message').innerText()).toContain(BODY);
    expect(await messageRow(p, SUBJECT).locator('.trust-badge').getAttribute('data-trust')).toBe('verified');
    await shot(p, 'bob-verified');
    await links.first().locator('summary').click();
    // The certificate Bob's client checked is the one IT's wizard wrote to Dave's card.
    expect((await links.first().innerText()).toLowerCase().replace(/[\s:]/g, '')).toContain(signatureSerial);
    await shot(p, 'bob-verified-certificate');
    expect(bob.consoleErrors).toEqual([]);
  }, 240_000);
});
