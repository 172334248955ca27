// @vitest-environment jsdom
import { afterEach, describe, expect, it } from 'vitest';
import { ApiError, type EnrollmentProgress } from '../../../api';
import { Enrollment } from '../../../renderer/enrollment/Enrollment';
import { button, byLabel, click, fakeClient, render, settle, type, type Rendered } from '../../support/renderer-fake-client';

let view: Rendered | undefined;
afterEach(() => view?.unmount());

async function fillForm(c: HTMLElement): Promise<void> {
  await type(byLabel(c, 'Full name'), 'Dan Ito');
  await type(byLabel(c, 'Mail address'), 'dan@a.example');
  await type(byLabel(c, 'Staff ID'), 'A-0042');
  await type(byLabel(c, 'Enrollment code (from the org CA)'), 'K7Q2-99XZ');
}

const statuses = (c: HTMLElement): Record<string, string | null> =>
  Object.fromEntries([...c.querySelectorAll('[data-step]')].map((li) => [li.getAttribute('data-step'), li.getAttribute('data-status')]));

describe('IT enrollment wizard', () => {
  it('shows each step from enrollment.progress and ends with the printable summary', async () => {
    const client = fakeClient({ enrollment: { start: async () => ({ enrollmentId: 'en-1', step: 'insert-card' }) } });
    view = await render(<Enrollment client={client} />);
    const c = view.container;
    await fillForm(c);
    await click(button(c, 'Start enrollment'));
    expect(client.calls.find((x) => x.method === 'enrollment.start')?.args[0]).toEqual({
      email: 'dan@a.example', displayName: 'Dan Ito', staffId: 'A-0042', enrollmentCode: 'K7Q2-99XZ', algorithm: 'p256',
    });
    const step = (s: EnrollmentProgress['step']): void => client.emit('enrollment.progress', { enrollmentId: 'en-1', step: s });
    step('generate-keys');
    expect(statuses(c)).toMatchObject({ 'insert-card': 'done', initialise: 'done', 'generate-keys': 'current', check: 'pending' });
    // Another enrollment's events are not this one's.
    client.emit('enrollment.progress', { enrollmentId: 'other', step: 'check' });
    expect(statuses(c)['generate-keys']).toBe('current');
    step('write-certificates');
    step('done');
    const summary = c.querySelector('[data-testid=enrollment-summary]');
    expect(summary?.textContent).toContain('Dan Ito');
    expect(summary?.textContent).toContain('A-0042');
    expect(summary?.textContent).toContain('en-1');
    expect(button(c, 'Print summary')).toBeDefined();
  });

  it('explains a wrong enrollment code at the CSR step, and a CA that cannot be reached (Japanese)', async () => {
    const client = fakeClient({ enrollment: { start: async () => ({ enrollmentId: 'en-2', step: 'insert-card' }) } });
    view = await render(<Enrollment client={client} />);
    const c = view.container;
    await fillForm(c);
    await click(button(c, 'Start enrollment'));
    client.emit('enrollment.progress', { enrollmentId: 'en-2', step: 'request-certificates', error: { code: 'wrong-code', message: 'CA answered 403: code already used' } });
    expect(statuses(c)['request-certificates']).toBe('failed');
    const err = c.querySelector('[data-testid=enrollment-error]');
    expect(err?.textContent).toContain('refused the enrollment code');
    expect(err?.textContent).toContain('code already used');
    view.unmount();

    const offline = fakeClient({ enrollment: { start: async () => ({ enrollmentId: 'en-3', step: 'request-certificates', error: { code: 'ca-unreachable', message: 'ECONNREFUSED' } }) } });
    view = await render(<Enrollment client={offline} />, 'ja');
    const j = view.container;
    await type(byLabel(j, '氏名'), 'Dan Ito');
    await type(byLabel(j, 'メールアドレス'), 'dan@a.example');
    await type(byLabel(j, '職員番号'), 'A-0042');
    await type(byLabel(j, '発行コード（組織CAから）'), 'K7Q2-99XZ');
    await click(button(j, '発行を開始'));
    expect(j.querySelector('[data-testid=enrollment-error]')?.textContent).toContain('組織CAに接続できません');
  });

  it('a wrong card and a blocked PIN are explained; a start refused by the API shows its code', async () => {
    for (const [code, words] of [
      ['wrong-card', 'not a card that can be enrolled'],
      ['pin-blocked', 'is blocked'],
    ] as const) {
      const client = fakeClient({ enrollment: { start: async () => ({ enrollmentId: 'e', step: 'insert-card', error: { code, message: 'detail' } }) } });
      view = await render(<Enrollment client={client} />);
      await fillForm(view.container);
      await click(button(view.container, 'Start enrollment'));
      expect(view.container.querySelector('[data-testid=enrollment-error]')?.textContent).toContain(words);
      view.unmount();
    }
    const none = fakeClient({});
    view = await render(<Enrollment client={none} />);
    await fillForm(view.container);
    await click(button(view.container, 'Start enrollment'));
    expect(view.container.querySelector('[data-testid=enrollment-error]')?.textContent).toContain('not available in this version');
  });

  it('PUK and management key: rules and confirmation checked before anything runs; sent in the request; serials in the summary', async () => {
    const client = fakeClient({
      enrollment: {
        start: async () => ({ enrollmentId: 'en-9', step: 'done', certificates: { signatureSerial: '1A2B', keyManagementSerial: '3C4D' } }),
      },
    });
    view = await render(<Enrollment client={client} />);
    const c = view.container;
    await fillForm(c);
    await type(byLabel(c, 'New PUK'), '87654321');
    await type(byLabel(c, 'New PUK again'), '87654320');
    await click(button(c, 'Start enrollment'));
    expect(c.textContent).toContain('A PUK is 6 to 8 digits, and both entries must be the same.');
    await type(byLabel(c, 'New PUK again'), '87654321');
    await type(byLabel(c, 'New management key (hex)'), '00112233');
    await type(byLabel(c, 'New management key again'), '00112233');
    await click(button(c, 'Start enrollment'));
    expect(c.textContent).toContain('A management key is 32, 48 or 64 hexadecimal digits');
    expect(client.calls.filter((x) => x.method === 'enrollment.start')).toHaveLength(0);
    const key = '00112233445566778899aabbccddeeff0011223344556677';
    await type(byLabel(c, 'New management key (hex)'), key);
    await type(byLabel(c, 'New management key again'), key);
    await click(button(c, 'Start enrollment'));
    expect(client.calls.find((x) => x.method === 'enrollment.start')?.args[0]).toMatchObject({ card: { newPuk: '87654321', newManagementKey: key } });
    const summary = c.querySelector('[data-testid=enrollment-summary]');
    expect(summary?.textContent).toContain('1A2B');
    expect(summary?.textContent).toContain('3C4D');
    // The secrets are never printed.
    expect(summary?.textContent).not.toContain('87654321');
  });

  it('the step event names the failure; the rejected call does not overwrite it with a vaguer code', async () => {
    let reject: (e: unknown) => void = () => undefined;
    const client = fakeClient({ enrollment: { start: () => new Promise((_r, j) => (reject = j)) } });
    view = await render(<Enrollment client={client} />);
    const c = view.container;
    await fillForm(c);
    await click(button(c, 'Start enrollment'));
    client.emit('enrollment.progress', { enrollmentId: 'en-5', step: 'initialise', error: { code: 'wrong-card', message: 'management key refused' } });
    reject(new ApiError('CardUnavailable', 'card'));
    await settle();
    expect(c.querySelector('[data-testid=enrollment-error]')?.textContent).toContain('not a card that can be enrolled');
    expect(statuses(c).initialise).toBe('failed');
  });
});
