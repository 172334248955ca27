import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OutboxEntry } from '../../api';
import { startDemoWorld, type DemoWorld } from '../../demo/world';
import { launchChromium, type ChromiumHandle } from '../harness/chromium';
import {
  answerPinIfAsked,
  buildRenderer,
  hiddenRows,
  messageRow,
  openDemoUserPage,
  type DemoUserPage,
} from '../support/demo-ui';

/**
 * Reply and forward through the UI against the two-org demo world (issue 8): Bob, in Chromium through
 * the loopback bridge, replies to Alice's verified mail and forwards it to Carol — PINs typed into the
 * UI's dialog, the outbox followed until the server took the mail. Then the card and the client switch
 * to Alice, who must see the reply verified (① bob ② B Corp ③ A Corp), and to Carol, who must see the
 * forward verified with the original's own chain nested inside. Screenshots: .tmp/screenshots/reply-*.png.
 */
const SCREENSHOTS = join(process.cwd(), '.tmp', 'screenshots');
const ORIGINAL = 'Quarterly figures for the joint project';
/** A line of the original's body (demo/seed.ts), which the reply must quote. */
const ORIGINAL_LINE = 'the figures for the quarter are below; see you on Thursday.';
const REPLY_LINE = 'Thanks Alice, the figures match ours. (reply e2e)';
const FORWARD_LINE = 'Carol, these are the figures Alice sent me. (forward e2e)';

type LinkRow = [role: string | null, status: string | null];

describe('reply and forward through the UI, seen verified by the other side', () => {
  let stateDir: string;
  let buildDir: string;
  let world: DemoWorld;
  let browser: ChromiumHandle;
  let current: DemoUserPage | undefined;
  /** Every state Bob's outbox reported per subject (the UI shows "Sent" only until the Sent copy is stored). */
  const outboxStates = new Map<string, Set<string>>();

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'ssmax-reply-e2e-'));
    await mkdir(SCREENSHOTS, { recursive: true });
    buildDir = await buildRenderer();
    world = await startDemoWorld({ stateDir, reset: true, card: 'bob' });
    browser = await launchChromium({ viewport: { width: 1440, height: 960 } });
  }, 300_000);

  afterAll(async () => {
    await current?.close();
    await browser?.stop();
    await world?.stop();
    if (buildDir) await rm(buildDir, { recursive: true, force: true });
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  const page = (): Page => {
    if (!current) throw new Error('no user page open');
    return current.page;
  };
  const shot = (name: string): Promise<Buffer> => page().screenshot({ path: join(SCREENSHOTS, `reply-${name}.png`) });

  /** Closes the current user's page and client, puts `user`'s card in the reader and opens theirs. */
  async function switchTo(user: 'alice' | 'bob' | 'carol'): Promise<DemoUserPage> {
    await current?.close();
    current = undefined;
    current = await openDemoUserPage(world, user, browser, buildDir);
    return current;
  }

  /** Opens encrypted rows (typing the PIN when asked) until one shows `subject` (RFC 9788 hides it before). */
  async function revealRow(subject: string): Promise<void> {
    const u = current!;
    await expect.poll(() => u.page.getByTestId('message-row').count(), { timeout: 90_000 }).toBeGreaterThan(0);
    for (let i = 0; i < 12 && (await messageRow(u.page, subject).count()) === 0; i++) {
      // Mail that just arrived may need a moment to reach the list: wait for a hidden row to open.
      await expect.poll(() => hiddenRows(u.page).count(), { timeout: 90_000 }).toBeGreaterThan(0);
      const next = hiddenRows(u.page).first();
      const uid = await next.getAttribute('data-uid');
      await next.click();
      await expect
        .poll(
          async () => {
            await answerPinIfAsked(u);
            return u.page.locator(`[data-testid="message-row"][data-uid="${uid}"]`).innerText();
          },
          { timeout: 60_000 },
        )
        .not.toContain('[...]');
    }
    expect(await messageRow(u.page, subject).count()).toBe(1);
  }

  /** Opens the row of `subject` in the reading pane. */
  async function open(subject: string): Promise<void> {
    const u = current!;
    await messageRow(u.page, subject).click();
    await expect
      .poll(
        async () => {
          await answerPinIfAsked(u);
          return u.page.getByTestId('message-subject').filter({ hasText: subject }).count();
        },
        { timeout: 60_000 },
      )
      .toBe(1);
  }

  /** role/status of each link of a chain panel (its own links, not a nested forward's). */
  async function linksOf(panel: Locator): Promise<{ rows: LinkRow[]; texts: string[] }> {
    const links = panel.locator(':scope > ol > [data-testid="chain-link"]');
    const rows: LinkRow[] = [];
    const texts: string[] = [];
    for (const l of await links.all()) {
      rows.push([await l.getAttribute('data-role'), await l.getAttribute('data-status')]);
      texts.push((await l.textContent()) ?? '');
    }
    return { rows, texts };
  }

  /** Sends the compose form, typing the PIN if asked; waits until the server took it (outbox "sent", then gone). */
  async function sendAndWaitSent(subject: string): Promise<{ pinAsked: string[] }> {
    const u = current!;
    const pinAsked: string[] = [];
    await u.page.getByRole('button', { name: 'Sign and send' }).click();
    await expect
      .poll(
        async () => {
          if (await u.page.getByTestId('pin-dialog').isVisible()) {
            pinAsked.push(await u.page.getByTestId('pin-dialog').innerText());
            await answerPinIfAsked(u);
          }
          if ((await u.page.getByTestId('compose-error').count()) > 0) return `error: ${await u.page.getByTestId('compose-error').innerText()}`;
          return (await u.page.getByTestId('compose-queued').count()) > 0 ? 'queued' : 'waiting';
        },
        { timeout: 60_000 },
      )
      .toBe('queued');
    // The compose screen follows its entry to the server's 250 ("Sent" once the outbox let go of it) …
    await expect.poll(() => u.page.getByTestId('compose-delivery').getAttribute('data-state'), { timeout: 90_000 }).toBe('sent');
    // … the outbox beside it holds nothing unsent for it, and the host's events say it went through "sent", never "failed".
    await expect
      .poll(
        async () => {
          const states = outboxStates.get(subject);
          const pending = await u.page.locator('[data-testid="outbox-entry"]:not(.outbox-sent)').filter({ hasText: subject }).count();
          return { sent: states?.has('sent') ?? false, failed: states?.has('failed') ?? false, pending };
        },
        { timeout: 90_000 },
      )
      .toEqual({ sent: true, failed: false, pending: 0 });
    return { pinAsked };
  }

  it('Bob opens Alice\'s verified mail, replies from the reading pane: recipient, "Re:" subject and the quote prefilled; signed with the PIN typed; sent', async () => {
    const bob = await switchTo('bob');
    bob.client.host.events.on('outbox.changed', (list: OutboxEntry[]) => {
      for (const e of list) {
        const s = outboxStates.get(e.subject) ?? new Set<string>();
        s.add(e.state);
        outboxStates.set(e.subject, s);
      }
    });
    await revealRow(ORIGINAL);
    await open(ORIGINAL);
    expect(await bob.page.getByTestId('chain-panel').first().getAttribute('data-state')).toBe('verified');

    await bob.page.getByRole('button', { name: 'Reply', exact: true }).click();
    const p = bob.page;
    await expect.poll(() => p.getByRole('heading', { name: 'Reply', exact: true }).count(), { timeout: 30_000 }).toBe(1);
    expect(await p.getByLabel('To', { exact: true }).inputValue()).toBe('alice@a.example');
    expect(await p.getByLabel('Cc', { exact: true }).inputValue()).toBe('');
    expect(await p.getByRole('textbox', { name: 'Subject', exact: true }).inputValue()).toBe(`Re: ${ORIGINAL}`);
    const body = p.getByRole('textbox', { name: 'Message', exact: true });
    const prefilled = await body.inputValue();
    expect(prefilled).toMatch(/alice@a\.example>? wrote:\n/);
    expect(prefilled).toContain(`> ${ORIGINAL_LINE}`);
    expect(prefilled.startsWith('\n')).toBe(true);
    await body.focus();
    await p.keyboard.press('Control+Home');
    await p.keyboard.type(REPLY_LINE);
    expect((await body.inputValue()).startsWith(`${REPLY_LINE}\n`)).toBe(true);
    await shot('compose-en');

    // A fresh card session (card pulled and put back), so signing must ask for the PIN in the dialog.
    await world.removeCard();
    await expect.poll(() => p.getByTestId('card-status').innerText(), { timeout: 30_000 }).toBe('No card inserted');
    await world.insertCard('bob');
    await expect.poll(() => p.getByTestId('card-status').innerText(), { timeout: 30_000 }).not.toBe('No card inserted');
    const { pinAsked } = await sendAndWaitSent(`Re: ${ORIGINAL}`);
    expect(pinAsked.length).toBeGreaterThan(0);
    expect(pinAsked[0]).toContain('Sign the mail to alice@a.example');
    await shot('sent-en');
    expect(bob.consoleErrors).toEqual([]);
  });

  it('Bob forwards the same mail to Carol: empty recipient, "Fwd:" subject, the chain-carrying note; sent', async () => {
    const p = page();
    // Back from the compose screen: the mail view as Bob left it, the original still open.
    await p.getByRole('button', { name: 'Back to mail' }).click();
    await expect.poll(() => p.getByTestId('message-list').isVisible(), { timeout: 30_000 }).toBe(true);
    expect(await p.getByTestId('message-subject').innerText()).toBe(ORIGINAL);
    expect(await messageRow(p, ORIGINAL).locator('.trust-badge').getAttribute('data-trust')).toBe('verified');
    await open(ORIGINAL);
    await p.getByRole('button', { name: 'Forward', exact: true }).click();
    await expect.poll(() => p.getByRole('heading', { name: 'Forward', exact: true }).count(), { timeout: 30_000 }).toBe(1);
    expect(await p.getByLabel('To', { exact: true }).inputValue()).toBe('');
    expect(await p.getByRole('textbox', { name: 'Subject', exact: true }).inputValue()).toBe(`Fwd: ${ORIGINAL}`);
    expect(await p.getByRole('textbox', { name: 'Message', exact: true }).inputValue()).toBe('');
    expect(await p.locator('.compose').innerText()).toContain('The original message is attached with its signature chain.');
    await p.getByLabel('To', { exact: true }).fill('carol@a.example');
    await p.getByRole('textbox', { name: 'Message', exact: true }).fill(FORWARD_LINE);
    await shot('forward-compose-en');
    await sendAndWaitSent(`Fwd: ${ORIGINAL}`);
    expect(current!.consoleErrors).toEqual([]);
  });

  it('Alice (her card, her client) gets the reply verified: ① bob@b.example ② B Corp ③ A Corp, her words quoted under Bob\'s', async () => {
    const alice = await switchTo('alice');
    await revealRow(`Re: ${ORIGINAL}`);
    await open(`Re: ${ORIGINAL}`);
    const p = alice.page;
    expect(await p.getByTestId('message-from').innerText()).toContain('bob@b.example');
    const panel = p.getByTestId('chain-panel').first();
    expect(await panel.getAttribute('data-state')).toBe('verified');
    expect(await p.locator('[data-testid="opened-message"] .trust-badge').getAttribute('data-trust')).toBe('verified');
    const { rows, texts } = await linksOf(panel);
    expect(rows).toEqual([
      ['sender', 'valid'],
      ['sending-org', 'valid'],
      ['receiving-org', 'valid'],
    ]);
    expect(texts[0]).toContain('bob@b.example');
    expect(texts[1]).toContain('B Corp');
    expect(texts[2]).toContain('A Corp');
    expect(await panel.locator('[data-testid^="warn-"]').count()).toBe(0);
    const text = await p.getByTestId('text-body').innerText();
    expect(text.startsWith(REPLY_LINE)).toBe(true);
    expect(text).toContain(`> ${ORIGINAL_LINE}`);
    expect(await messageRow(p, `Re: ${ORIGINAL}`).locator('.trust-badge').getAttribute('data-trust')).toBe('verified');
    await panel.locator(':scope > ol > [data-testid="chain-link"] summary').first().click();
    await shot('alice-verified-en');
    expect(alice.consoleErrors).toEqual([]);
  });

  it('Carol gets the forward verified (④ bob ⑤ B Corp ③ A Corp) with Alice\'s original and its own verified chain inside', async () => {
    const carol = await switchTo('carol');
    await revealRow(`Fwd: ${ORIGINAL}`);
    await open(`Fwd: ${ORIGINAL}`);
    const p = carol.page;
    expect(await p.getByTestId('message-from').innerText()).toContain('bob@b.example');
    const outer = p.getByTestId('chain-panel').first();
    expect(await outer.getAttribute('data-state')).toBe('verified');
    const forward = await linksOf(outer);
    expect(forward.rows).toEqual([
      ['forwarder', 'valid'],
      ['forwarder-org', 'valid'],
      ['receiving-org', 'valid'],
    ]);
    expect(forward.texts[0]).toContain('bob@b.example');
    expect(forward.texts[1]).toContain('B Corp');
    expect(forward.texts[2]).toContain('A Corp');
    // The forwarded original keeps its own chain: ① alice ② A Corp ③ B Corp (made for Bob), verified.
    const nested = outer.locator(':scope > [data-testid="chain-panel"]');
    expect(await nested.count()).toBe(1);
    expect(await nested.getAttribute('data-state')).toBe('verified');
    const original = await linksOf(nested);
    expect(original.rows).toEqual([
      ['sender', 'valid'],
      ['sending-org', 'valid'],
      ['receiving-org', 'valid'],
    ]);
    expect(original.texts[0]).toContain('alice@a.example');
    expect(original.texts[1]).toContain('A Corp');
    expect(original.texts[2]).toContain('B Corp');
    // The original travelled encrypted (hp=cipher) and now inside Bob's encrypted forward: no warning on either chain.
    expect(await outer.locator('[data-testid^="warn-"], [data-testid="chain-warnings"]').count()).toBe(0);
    expect(await p.getByTestId('text-body').innerText()).toContain(FORWARD_LINE);
    // The original as an attachment is labelled as the forwarded message, not as an uninspected file.
    const attached = p.getByTestId('attachment').filter({ hasText: '.eml' });
    expect(await attached.getByTestId('attachment-verdict').innerText()).toBe('Forwarded message: its signature chain is shown above');
    expect(await nested.locator('.chain-summary-explain').first().innerText()).toContain('forwarded original');
    await shot('carol-forward-en');
    await nested.scrollIntoViewIfNeeded();
    await shot('carol-forward-nested-en');
    expect(carol.consoleErrors).toEqual([]);
  });
});
