// @vitest-environment jsdom
import { act } from 'react';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiError, type Account, type ContactSuggestion, type Draft, type OutboxEntry } from '../../../api';
import { Compose } from '../../../renderer/compose/Compose';
import { composeStartFrom } from '../../../renderer/compose/compose-start';
import { Outbox } from '../../../renderer/outbox/Outbox';
import { button, byLabel, click, fakeClient, render, settle, type, type Rendered } from '../../support/renderer-fake-client';

const account: Account = {
  id: 'acct-1',
  email: 'alice@a.example',
  displayName: 'Alice',
  org: { name: 'A Corp', domains: ['a.example'], encryptionKeyFingerprint: 'AB:CD' },
};

let view: Rendered | undefined;
afterEach(() => view?.unmount());

/** Waits (real time) until `ready` holds: the suggestions are asked after a typing pause. */
async function until(ready: () => boolean): Promise<void> {
  for (let i = 0; i < 40 && !ready(); i++) await act(async () => new Promise((r) => setTimeout(r, 25)));
  expect(ready()).toBe(true);
}

async function key(el: Element | null, k: string, extra: KeyboardEventInit = {}): Promise<void> {
  if (el === null) throw new Error('no element');
  await act(async () => el.dispatchEvent(new KeyboardEvent('keydown', { key: k, bubbles: true, cancelable: true, ...extra })));
}

/** Attaches a file through the hidden file input, as the browser would after the file dialog. */
async function attach(container: HTMLElement, name: string, bytes: Uint8Array<ArrayBuffer>): Promise<void> {
  const input = container.querySelector('input[type=file]') as HTMLInputElement;
  const file = new File([bytes], name, { type: 'application/zip' });
  Object.defineProperty(input, 'files', { value: [file], configurable: true });
  await act(async () => input.dispatchEvent(new Event('change', { bubbles: true })));
  for (let i = 0; i < 20 && container.querySelector('progress') !== null; i++) await settle();
  await settle();
}

describe('compose', () => {
  it('PPAP: the warning comes first and nothing is sent; "send anyway" sends with acknowledgedPpap', async () => {
    const sent: Draft[] = [];
    const client = fakeClient({
      compose: {
        checkPpap: async (d) => ({ suspicious: d.attachments.map((a) => ({ path: 'name' in a ? a.name : a.path, reason: 'password-protected ZIP' })) }),
        send: async (d) => {
          sent.push(d);
          if (d.acknowledgedPpap !== true) throw new ApiError('PpapWarning', 'ppap');
          return { outboxId: 'o1', state: 'queued' };
        },
      },
    });
    view = await render(<Compose client={client} accounts={[account]} />);
    const c = view.container;
    expect(c.querySelector('[data-testid=compose-security]')?.textContent).toContain('A Corp');
    expect(c.querySelector('[data-testid=compose-security]')?.textContent).toContain('9C');
    await type(byLabel(c, 'To'), 'bob@b.example');
    await type(byLabel(c, 'Subject'), 'Figures');
    await attach(c, 'secret.zip', new Uint8Array([0x50, 0x4b, 3, 4, 1, 0]));
    expect(c.querySelector('[data-testid=attachment]')?.textContent).toContain('secret.zip');
    expect(c.querySelector('[data-testid=attachment]')?.textContent).toContain('6 B');

    await click(button(c, 'Sign and send'));
    const warning = c.querySelector('[data-testid=ppap-warning]');
    expect(warning?.textContent).toContain('secret.zip');
    expect(warning?.textContent).toContain('password-protected ZIP');
    expect(sent).toHaveLength(0);
    expect((button(c, 'Sign and send') as HTMLButtonElement).disabled).toBe(true);

    await click(button(c, 'Send anyway'));
    expect(sent).toHaveLength(1);
    expect(sent[0]?.acknowledgedPpap).toBe(true);
    expect(sent[0]?.to).toEqual(['bob@b.example']);
    expect(sent[0]?.attachments).toEqual([{ name: 'secret.zip', contentBase64: 'UEsDBAEA' }]);
    expect(c.querySelector('[data-testid=compose-queued]')).not.toBeNull();
  });

  it('shows "waiting for the card" while send is pending, then the error by code; the draft is kept', async () => {
    let fail: (e: unknown) => void = () => undefined;
    const client = fakeClient({
      compose: { send: () => new Promise((_r, reject) => (fail = reject)) },
    });
    view = await render(<Compose client={client} accounts={[account]} />);
    const c = view.container;
    await type(byLabel(c, 'To'), 'bob@b.example');
    await type(byLabel(c, 'Message'), 'Hello Bob');
    await click(button(c, 'Sign and send'));
    expect(c.querySelector('[data-testid=compose-status]')?.textContent).toMatch(/Waiting for your staff ID card and PIN/);
    expect(c.querySelector('progress[aria-label="Signing and encrypting"]')).not.toBeNull();
    fail(new ApiError('WrongPin', 'Wrong PIN: 2 tries left.'));
    await settle();
    const err = c.querySelector('[data-testid=compose-error]');
    expect(err?.textContent).toContain('Wrong PIN.');
    expect(err?.textContent).toContain('2 tries left');
    expect(err?.textContent).toContain('nothing was sent');
    expect((byLabel(c, 'Message') as HTMLTextAreaElement).value).toBe('Hello Bob');
    expect(c.querySelector('[data-testid=compose-status]')?.textContent).toBe('');
    expect(c.querySelector('progress')).toBeNull();
  });

  it('in Japanese: no org pinned → says it cannot sign, and send is disabled', async () => {
    const client = fakeClient({});
    view = await render(<Compose client={client} accounts={[{ ...account, org: undefined }]} />, 'ja');
    expect(view.container.querySelector('[data-testid=compose-security]')?.textContent).toContain('組織が設定されていない');
    expect((button(view.container, '署名して送信') as HTMLButtonElement).disabled).toBe(true);
  });

  it('reply prefills the recipient and subject and sends inReplyTo; a bad address is refused before any call', async () => {
    const sent: Draft[] = [];
    const client = fakeClient({ compose: { send: async (d) => (sent.push(d), { outboxId: 'o2', state: 'queued' }) } });
    const ref = { accountId: 'acct-1', path: 'INBOX', uid: 7 };
    view = await render(
      <Compose client={client} accounts={[account]} start={{ mode: 'replyAll', ref, subject: 'Plan', from: 'bob@b.example', to: ['alice@a.example', 'carol@a.example'] }} />,
    );
    const c = view.container;
    expect((byLabel(c, 'To') as HTMLInputElement).value).toBe('bob@b.example, carol@a.example');
    expect((byLabel(c, 'Subject') as HTMLInputElement).value).toBe('Re: Plan');
    await type(byLabel(c, 'Cc'), 'not an address');
    await click(button(c, 'Sign and send'));
    expect(c.textContent).toContain('does not look like a mail address: not an address');
    expect(client.calls.filter((x) => x.method === 'compose.send')).toHaveLength(0);
    await type(byLabel(c, 'Cc'), '');
    await click(button(c, 'Sign and send'));
    expect(sent[0]?.inReplyTo).toEqual(ref);
    expect(sent[0]?.forwardOf).toBeUndefined();
    // Plain text is the default: no HTML part.
    expect(sent[0]?.html).toBeUndefined();
  });

  it('a reply from the reading pane starts with room to write above the attributed, quoted original; a forward quotes nothing', async () => {
    const sent: Draft[] = [];
    const client = fakeClient({ compose: { send: async (d) => (sent.push(d), { outboxId: 'o3', state: 'queued' }) } });
    const ref = { accountId: 'acct-1', path: 'INBOX', uid: 9 };
    const headers = { from: 'Bob Baba <bob@b.example>', to: ['alice@a.example'], cc: [], subject: 'Figures', date: 'not a date' };
    const reply = composeStartFrom({ mode: 'reply', ref, headers, text: 'Hello Alice,\r\n\r\nthe figures.\r\n\r\n' });
    view = await render(<Compose client={client} accounts={[account]} start={reply} onDone={() => undefined} />);
    const body = byLabel(view.container, 'Message') as HTMLTextAreaElement;
    expect(body.value).toBe('\n\nOn not a date, Bob Baba <bob@b.example> wrote:\n> Hello Alice,\n>\n> the figures.\n');
    await click(button(view.container, 'Sign and send'));
    expect(sent[0]?.text).toBe(body.value);
    // Sent: a reply leads back to the mail it answered, not to a new message.
    expect(view.container.textContent).not.toContain('Write another message');
    expect(button(view.container, 'Back to mail')).toBeDefined();
    view.unmount();

    const forward = composeStartFrom({ mode: 'forward', ref, headers, text: 'Hello Alice' });
    expect(forward.quoted).toBeUndefined();
    view = await render(<Compose client={client} accounts={[account]} start={forward} />);
    expect((byLabel(view.container, 'Message') as HTMLTextAreaElement).value).toBe('');
    expect((byLabel(view.container, 'Subject') as HTMLInputElement).value).toBe('Fwd: Figures');
  });
});

describe('compose attachments', () => {
  it('a file dropped on the attachment area is read and listed with its size; too much in all blocks sending', async () => {
    const client = fakeClient({});
    view = await render(<Compose client={client} accounts={[account]} />);
    const c = view.container;
    const zone = c.querySelector('[data-testid=attachments]') as HTMLElement;
    const drop = async (file: File): Promise<void> => {
      const event = new Event('drop', { bubbles: true, cancelable: true });
      Object.defineProperty(event, 'dataTransfer', { value: { files: [file] } });
      await act(async () => zone.dispatchEvent(event));
      await settle();
    };
    await drop(new File([new Uint8Array(2048)], 'notes.txt'));
    await settle();
    expect(c.querySelector('[data-testid=attachment]')?.textContent).toContain('notes.txt');
    expect(c.querySelector('[data-testid=attachment]')?.textContent).toContain('2 KB');
    await type(byLabel(c, 'To'), 'bob@b.example');
    expect((button(c, 'Sign and send') as HTMLButtonElement).disabled).toBe(false);
    // A file object that claims 11 MB (never read in full: the limit is on the declared sizes).
    const big = new File([new Uint8Array(16)], 'big.iso');
    Object.defineProperty(big, 'size', { value: 11 * 1024 * 1024 });
    await drop(big);
    expect(c.textContent).toContain('too large to send');
    expect((button(c, 'Sign and send') as HTMLButtonElement).disabled).toBe(true);
  });
});

describe('outbox', () => {
  it('lists entries with the server reason, follows outbox.changed, and retries', async () => {
    const failed: OutboxEntry = { id: 'e1', subject: 'Q3', to: ['bob@b.example'], state: 'failed', attempts: 1, lastError: '550 5.7.1 signature is not the submitting user' };
    const client = fakeClient({
      outbox: { list: async () => [failed], retry: async () => ({ ...failed, state: 'queued' }) },
    });
    view = await render(<Outbox client={client} />);
    const c = view.container;
    await settle();
    expect(c.textContent).toContain('Refused by the server');
    expect(c.textContent).toContain('550 5.7.1 signature is not the submitting user');
    await click(button(c, 'Try again now'));
    expect(client.calls.find((x) => x.method === 'outbox.retry')?.args).toEqual(['e1']);
    client.emit('outbox.changed', [{ ...failed, state: 'submitting', lastError: undefined }]);
    expect(c.textContent).toContain('Sending…');
    expect(button(c, 'Try again now')).toBeUndefined();
    client.emit('outbox.changed', []);
    expect(c.textContent).toContain('The outbox is empty');
  });
});

describe('recipient completion', () => {
  const contacts: ContactSuggestion[] = [
    { name: 'Bob Baba', address: 'bob@b.example' },
    { name: '', address: 'bonnie@b.example' },
  ];

  it('asks contacts.suggest with the piece being typed; arrow keys and Enter pick one into the field', async () => {
    const client = fakeClient({ contacts: { suggest: async (p) => contacts.filter((x) => x.address.startsWith(p) || x.name.toLowerCase().startsWith(p)) } });
    view = await render(<Compose client={client} accounts={[account]} />);
    const c = view.container;
    const to = byLabel(c, 'To') as HTMLInputElement;
    await type(to, 'carol@a.example, bo');
    await until(() => c.querySelectorAll('[role=option]').length === 2);
    expect(client.calls.filter((x) => x.method === 'contacts.suggest').at(-1)?.args).toEqual(['bo']);
    const listbox = c.querySelector('[role=listbox]');
    expect(to.getAttribute('aria-expanded')).toBe('true');
    expect(to.getAttribute('aria-controls')).toBe(listbox?.id);
    expect(listbox?.textContent).toContain('Bob Baba <bob@b.example>');

    await key(to, 'ArrowDown');
    await key(to, 'ArrowDown');
    const active = c.querySelector(`[id="${to.getAttribute('aria-activedescendant') ?? ''}"]`);
    expect(active?.getAttribute('aria-selected')).toBe('true');
    expect(active?.textContent).toBe('bonnie@b.example');
    await key(to, 'Enter');
    expect(to.value).toBe('carol@a.example, bonnie@b.example');
    expect(c.querySelector('[role=listbox]')).toBeNull();
    expect(to.getAttribute('aria-expanded')).toBe('false');
    // Enter picked; it did not send the form.
    expect(client.calls.filter((x) => x.method === 'compose.send')).toHaveLength(0);

    // A click picks too (Cc); an address already in the field is not offered again.
    const cc = byLabel(c, 'Cc') as HTMLInputElement;
    await type(cc, 'bob@b.example, b');
    await until(() => c.querySelectorAll('[role=option]').length === 1);
    expect(c.querySelector('[role=option]')?.textContent).toBe('bonnie@b.example');
    await click(c.querySelector('[role=option]'));
    expect(cc.value).toBe('bob@b.example, bonnie@b.example');

    // Escape closes the list and leaves what was typed.
    await type(to, 'b');
    await until(() => c.querySelector('[role=listbox]') !== null);
    await key(to, 'Escape');
    expect(c.querySelector('[role=listbox]')).toBeNull();
    expect(to.value).toBe('b');
  });

  it('a failing contacts.suggest just means no suggestions', async () => {
    const client = fakeClient({ contacts: { suggest: async () => Promise.reject(new ApiError('Internal', 'cache closed')) } });
    view = await render(<Compose client={client} accounts={[account]} />);
    const c = view.container;
    await type(byLabel(c, 'To'), 'bo');
    await until(() => client.calls.some((x) => x.method === 'contacts.suggest'));
    await settle();
    expect(c.querySelector('[role=listbox]')).toBeNull();
    expect(c.querySelector('[role=alert]')).toBeNull();
  });
});

describe('rich text', () => {
  it('off by default; bold and the bulleted list put marks in the text, the preview shows them, and the draft carries html + plain text', async () => {
    const sent: Draft[] = [];
    const client = fakeClient({ compose: { send: async (d) => (sent.push(d), { outboxId: 'o4', state: 'queued' }) } });
    view = await render(<Compose client={client} accounts={[account]} />);
    const c = view.container;
    expect(button(c, 'Bold')).toBeUndefined();
    await click(byLabel(c, 'Rich text (bold, italic, lists, links)'));
    const toolbar = c.querySelector('[role=toolbar]');
    expect(toolbar?.getAttribute('aria-label')).toBe('Formatting');

    const body = byLabel(c, 'Message') as HTMLTextAreaElement;
    await type(body, 'Hello world\none\ntwo <b>&');
    body.setSelectionRange(6, 11);
    await click(button(c, 'Bold'));
    expect(body.value).toBe('Hello **world**\none\ntwo <b>&');
    expect([body.selectionStart, body.selectionEnd]).toEqual([8, 13]);
    // The list works on the selected lines.
    body.setSelectionRange(17, body.value.length);
    await click(button(c, 'Bulleted list'));
    expect(body.value).toBe('Hello **world**\n- one\n- two <b>&');
    // Ctrl+I wraps the selection in italic marks.
    body.setSelectionRange(0, 5);
    await key(body, 'i', { ctrlKey: true });
    expect(body.value).toBe('*Hello* **world**\n- one\n- two <b>&');

    const preview = c.querySelector('[data-testid=rich-preview]');
    expect(preview?.querySelector('strong')?.textContent).toBe('world');
    expect(preview?.querySelector('em')?.textContent).toBe('Hello');
    expect([...(preview?.querySelectorAll('li') ?? [])].map((li) => li.textContent)).toEqual(['one', 'two <b>&']);

    await type(byLabel(c, 'To'), 'bob@b.example');
    await click(button(c, 'Sign and send'));
    expect(sent[0]?.html).toBe('<p><em>Hello</em> <strong>world</strong></p><ul><li>one</li><li>two &lt;b&gt;&amp;</li></ul>');
    expect(sent[0]?.text).toBe('Hello world\n\n- one\n- two <b>&\n');
  });

  it('a link becomes <a href> only for http(s) and mailto; in Japanese the toolbar speaks Japanese', async () => {
    const sent: Draft[] = [];
    const client = fakeClient({ compose: { send: async (d) => (sent.push(d), { outboxId: 'o5', state: 'queued' }) } });
    view = await render(<Compose client={client} accounts={[account]} />, 'ja');
    const c = view.container;
    await click(byLabel(c, 'リッチテキスト（太字・斜体・箇条書き・リンク）'));
    expect(button(c, '太字')).toBeDefined();
    expect(button(c, '箇条書き')).toBeDefined();
    const body = byLabel(c, '本文') as HTMLTextAreaElement;
    await type(body, 'see figures');
    body.setSelectionRange(4, 11);
    await click(button(c, 'リンク'));
    expect(body.value).toBe('see [figures](https://)');
    expect(body.selectionStart).toBe(body.value.length - 1);
    await type(body, 'see [figures](https://a.example/q3) and [x](javascript:alert(1))');
    await type(byLabel(c, '宛先'), 'bob@b.example');
    await click(button(c, '署名して送信'));
    expect(sent[0]?.html).toBe('<p>see <a href="https://a.example/q3">figures</a> and [x](javascript:alert(1))</p>');
    expect(sent[0]?.text).toBe('see figures <https://a.example/q3> and [x](javascript:alert(1))\n');
  });
});

describe('progress', () => {
  it('a file being read shows a progress bar and holds back sending until it is read', async () => {
    const client = fakeClient({});
    view = await render(<Compose client={client} accounts={[account]} />);
    const c = view.container;
    await type(byLabel(c, 'To'), 'bob@b.example');
    const input = c.querySelector('input[type=file]') as HTMLInputElement;
    Object.defineProperty(input, 'files', { value: [new File([new Uint8Array(300_000)], 'scan.pdf')], configurable: true });
    await act(async () => input.dispatchEvent(new Event('change', { bubbles: true })));
    const bar = c.querySelector('progress[aria-label="Reading scan.pdf"]');
    expect(bar).not.toBeNull();
    expect((button(c, 'Sign and send') as HTMLButtonElement).disabled).toBe(true);
    await until(() => c.querySelector('progress') === null);
    expect(c.querySelector('[data-testid=attachment]')?.textContent).toContain('293 KB');
    expect((button(c, 'Sign and send') as HTMLButtonElement).disabled).toBe(false);
  });

  it('after sending: signed → in the outbox → the entry\'s state from outbox.changed, until it is gone (sent)', async () => {
    const client = fakeClient({ compose: { send: async () => ({ outboxId: 'o9', state: 'queued' }) } });
    view = await render(<Compose client={client} accounts={[account]} />);
    const c = view.container;
    await type(byLabel(c, 'To'), 'bob@b.example');
    await click(button(c, 'Sign and send'));
    const state = (): string | null | undefined => c.querySelector('[data-testid=compose-delivery-state]')?.textContent;
    const steps = c.querySelector('[data-testid=compose-delivery]');
    expect(steps?.textContent).toContain('Signed with your staff ID card and encrypted');
    expect(steps?.textContent).toContain('Put in the outbox');
    expect(state()).toBe('Waiting to be sent');
    const entry: OutboxEntry = { id: 'o9', subject: '', to: ['bob@b.example'], state: 'submitting', attempts: 1 };
    const other: OutboxEntry = { ...entry, id: 'o1', state: 'failed' };
    client.emit('outbox.changed', [other, entry]);
    expect(state()).toBe('Sending…');
    client.emit('outbox.changed', [other, { ...entry, state: 'retrying', lastError: '421 4.3.0 try again later' }]);
    expect(state()).toBe('Server not reachable; will retry');
    expect(steps?.textContent).toContain('421 4.3.0 try again later');
    expect((c.querySelector('[data-testid=compose-delivery] progress') as HTMLProgressElement).value).toBe(2);
    client.emit('outbox.changed', [other]);
    expect(state()).toBe('Sent');
    expect((c.querySelector('[data-testid=compose-delivery] progress') as HTMLProgressElement).value).toBe(3);
    expect(steps?.textContent).not.toContain('421');
  });
});
