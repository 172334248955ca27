// @vitest-environment jsdom
import { afterEach, describe, expect, it } from 'vitest';
import { ApiError, type Account, type OrgStatus } from '../../../api';
import { FirstLaunch } from '../../../renderer/first-launch/FirstLaunch';
import { OrgSettings } from '../../../renderer/first-launch/OrgSettings';
import { button, byLabel, click, fakeClient, render, settle, type, type Rendered } from '../../support/renderer-fake-client';

const FP = 'AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89';
const found: Account = {
  id: 'disc-1',
  email: 'alice@launch.example.jp',
  displayName: 'alice@launch.example.jp',
  org: { name: 'Launch Corp', domains: ['launch.example.jp'], encryptionKeyFingerprint: FP },
};
const pinned: OrgStatus = {
  state: 'pinned',
  address: 'alice@launch.example.jp',
  org: { name: 'Launch Corp', domains: ['launch.example.jp'], encryptionKeyFingerprint: FP, orgCaFingerprint: FP, version: 3, expiresAt: '2027-12-01T00:00:00Z' },
  mail: { smtp: { host: 'ssmax.launch.example.jp', port: 587 } },
};

let view: Rendered | undefined;
afterEach(() => view?.unmount());

describe('first-launch wizard', () => {
  it('discovered: shows name, domains and the grouped fingerprint; confirm pins; then manual IMAP → accounts.add → done', async () => {
    let done = false;
    const client = fakeClient({
      accounts: {
        discover: async (email) => (email === 'alice@launch.example.jp' ? found : Promise.reject(new ApiError('NotFound', 'no'))),
        confirm: async () => found,
        list: async () => [],
        add: async (a) => ({ id: 'acct', email: a.email, displayName: a.email }),
      },
      org: { status: async () => pinned },
    });
    view = await render(<FirstLaunch client={client} suggestedAddress="alice@launch.example.jp" onDone={() => (done = true)} />);
    const c = view.container;
    expect((byLabel(c, 'Your mail address') as HTMLInputElement).value).toBe('alice@launch.example.jp');
    await click(button(c, 'Find my organisation'));
    expect(c.querySelector('[data-testid=org-name]')?.textContent).toBe('Launch Corp');
    const fp = c.querySelector('[data-testid=org-fingerprint]');
    expect([...(fp?.querySelectorAll('.fingerprint-group') ?? [])].map((g) => g.textContent)).toEqual(
      ['ABCDEF01', '23456789', 'ABCDEF01', '23456789', 'ABCDEF01', '23456789', 'ABCDEF01', '23456789'],
    );
    expect(client.calls.some((x) => x.method === 'accounts.confirm')).toBe(false);
    await click(button(c, 'This is my organisation — confirm'));
    expect(client.calls.find((x) => x.method === 'accounts.confirm')?.args).toEqual(['disc-1']);
    expect(c.querySelector('[data-testid=account-setup]')).not.toBeNull();
    await type(byLabel(c, 'IMAP server'), 'imap.launch.example.jp');
    await type(byLabel(c, 'Password'), 'secret');
    await click(button(c, 'Connect'));
    expect(client.calls.find((x) => x.method === 'accounts.add')?.args[0]).toMatchObject({
      email: 'alice@launch.example.jp',
      imap: { host: 'imap.launch.example.jp', port: 993, security: 'tls', username: 'alice@launch.example.jp', password: 'secret' },
    });
    await click(button(c, 'Open my mail'));
    expect(done).toBe(true);
  });

  it('refused: the reason is shown and there is no way to continue with that bundle', async () => {
    const client = fakeClient({
      accounts: { discover: async () => Promise.reject(new ApiError('Refused', 'The org bundle failed verification: signature-invalid')) },
    });
    view = await render(<FirstLaunch client={client} suggestedAddress="alice@launch.example.jp" onDone={() => undefined} />);
    const c = view.container;
    await click(button(c, 'Find my organisation'));
    const refused = c.querySelector('[data-testid=org-refused]');
    expect(refused?.getAttribute('role')).toBe('alert');
    expect(c.querySelector('[data-testid=refused-reason]')?.textContent).toContain('signature-invalid');
    expect([...c.querySelectorAll('button')].map((b) => b.textContent)).toEqual(['Use another address']);
    expect(c.querySelector('[data-testid=org-name]')).toBeNull();
  });

  it('offline (ServerUnavailable): says so in Japanese, retry asks again', async () => {
    let tries = 0;
    const client = fakeClient({
      accounts: {
        discover: async () => {
          tries++;
          throw new ApiError('ServerUnavailable', 'connect ECONNREFUSED');
        },
      },
    });
    view = await render(<FirstLaunch client={client} suggestedAddress="alice@launch.example.jp" onDone={() => undefined} />, 'ja');
    const c = view.container;
    await click(button(c, '組織を探す'));
    expect(c.querySelector('[data-testid=org-offline]')?.textContent).toContain('組織に接続できません');
    await click(button(c, '再試行'));
    expect(tries).toBe(2);
  });

  it('settings: the pinned org, its state, and a refused refresh stays loud', async () => {
    const client = fakeClient({ org: { status: async () => pinned, refresh: async () => ({ ...pinned, state: 'refresh-refused', problem: { code: 'rejected', reason: 'rolled-back', message: 'The host served an older bundle' } }) } });
    view = await render(<OrgSettings client={client} />);
    const c = view.container;
    await settle();
    expect(c.querySelector('[data-testid=pinned-org-name]')?.textContent).toBe('Launch Corp');
    expect(c.querySelector('[data-testid=pinned-org-state]')?.textContent).toBe('Pinned and verified');
    await click(button(c, 'Check for an update now'));
    expect(c.querySelector('[data-testid=pinned-org-state]')?.textContent).toContain('refused');
    expect(c.querySelector('[role=alert]')?.textContent).toContain('rolled-back');
  });
});
