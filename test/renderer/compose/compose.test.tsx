// @vitest-environment jsdom
import { act } from 'react';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiError, type Account, type Draft, type OutboxEntry } from '../../../api';
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
    view = await render(<Compose client={client} accounts={[account]} knownAddresses={[]} />);
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
    view = await render(<Compose client={client} accounts={[account]} knownAddresses={[]} />);
    const c = view.container;
    await type(byLabel(c, 'To'), 'bob@b.example');
    await type(byLabel(c, 'Message'), 'Hello Bob');
    await click(button(c, 'Sign and send'));
    expect(c.querySelector('[data-testid=compose-status]')?.textContent).toMatch(/Waiting for your staff ID card and PIN/);
    fail(new ApiError('WrongPin', 'Wrong PIN: 2 tries left.'));
    await settle();
    const err = c.querySelector('[data-testid=compose-error]');
    expect(err?.textContent).toContain('Wrong PIN.');
    expect(err?.textContent).toContain('2 tries left');
    expect(err?.textContent).toContain('nothing was sent');
    expect((byLabel(c, 'Message') as HTMLTextAreaElement).value).toBe('Hello Bob');
    expect(c.querySelector('[data-testid=compose-status]')?.textContent).toBe('');
  });

  it('in Japanese: no org pinned → says it cannot sign, and send is disabled', async () => {
    const client = fakeClient({});
    view = await render(<Compose client={client} accounts={[{ ...account, org: undefined }]} knownAddresses={[]} />, 'ja');
    expect(view.container.querySelector('[data-testid=compose-security]')?.textContent).toContain('組織が設定されていない');
    expect((button(view.container, '署名して送信') as HTMLButtonElement).disabled).toBe(true);
  });

  it('reply prefills the recipient and subject and sends inReplyTo; a bad address is refused before any call', async () => {
    const sent: Draft[] = [];
    const client = fakeClient({ compose: { send: async (d) => (sent.push(d), { outboxId: 'o2', state: 'queued' }) } });
    const ref = { accountId: 'acct-1', path: 'INBOX', uid: 7 };
    view = await render(
      <Compose client={client} accounts={[account]} knownAddresses={['bob@b.example']} start={{ mode: 'replyAll', ref, subject: 'Plan', from: 'bob@b.example', to: ['alice@a.example', 'carol@a.example'] }} />,
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
  });

  it('a reply from the reading pane starts with room to write above the attributed, quoted original; a forward quotes nothing', async () => {
    const sent: Draft[] = [];
    const client = fakeClient({ compose: { send: async (d) => (sent.push(d), { outboxId: 'o3', state: 'queued' }) } });
    const ref = { accountId: 'acct-1', path: 'INBOX', uid: 9 };
    const headers = { from: 'Bob Baba <bob@b.example>', to: ['alice@a.example'], cc: [], subject: 'Figures', date: 'not a date' };
    const reply = composeStartFrom({ mode: 'reply', ref, headers, text: 'Hello Alice,\r\n\r\nthe figures.\r\n\r\n' });
    view = await render(<Compose client={client} accounts={[account]} knownAddresses={[]} start={reply} onDone={() => undefined} />);
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
    view = await render(<Compose client={client} accounts={[account]} knownAddresses={[]} start={forward} />);
    expect((byLabel(view.container, 'Message') as HTMLTextAreaElement).value).toBe('');
    expect((byLabel(view.container, 'Subject') as HTMLInputElement).value).toBe('Fwd: Figures');
  });
});

describe('compose attachments', () => {
  it('a file dropped on the attachment area is read and listed with its size; too much in all blocks sending', async () => {
    const client = fakeClient({});
    view = await render(<Compose client={client} accounts={[account]} knownAddresses={[]} />);
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
