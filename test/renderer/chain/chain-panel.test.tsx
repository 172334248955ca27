// @vitest-environment jsdom
import { afterEach, describe, expect, it } from 'vitest';
import type { ChainLink, ChainLinkRole, ChainLinkStatus, ChainReason, ChainResult } from '../../../api';
import { ChainPanel } from '../../../renderer/chain/ChainPanel';
import { chainStrings } from '../../../renderer/chain/strings';
import { render } from './render';

/**
 * Every state of the chain result renders distinctly, and only the core's words decide what is
 * shown: a link the core did not call valid never looks valid, a state the core did not return
 * never appears. The results are built by hand in the API's shape (what `messages.open` returns).
 */

const cert = (cn: string) => ({
  subject: `CN=${cn},O=A Corp`,
  issuer: 'CN=A Corp SSMAX CA',
  serialNumber: '0A1B2C',
  sha256: 'AB:CD:EF:01',
  notBefore: '2026-01-01T00:00:00.000Z',
  notAfter: '2027-01-01T00:00:00.000Z',
  ssmaxRole: 'employee-signature',
});

const reason = (code: string, message = `core says ${code}`): ChainReason => ({ code, message });

function link(role: ChainLinkRole, status: ChainLinkStatus = 'valid', reasons: ChainReason[] = []): ChainLink {
  const person = role === 'sender' || role === 'forwarder';
  return {
    role,
    status,
    subject: person ? 'CN=Hanako Yamada,O=A Corp' : `CN=${role} signing`,
    ...(person ? { email: 'hanako@a.example', staffId: 'A-1234' } : { orgName: `${role} Corp` }),
    domains: person ? [] : ['a.example'],
    signingTime: '2026-12-06T09:00:00.000Z',
    path: [cert(person ? 'Hanako Yamada' : `${role} signing`)],
    reasons,
    notes: [],
  };
}

function result(over: Partial<ChainResult>): ChainResult {
  return {
    state: 'verified',
    reasons: [],
    warnings: [],
    links: [link('sender'), link('sending-org'), link('receiving-org')],
    displayedFrom: { name: 'Hanako Yamada', address: 'hanako@a.example' },
    partiallySigned: false,
    external: false,
    forwards: [],
    ...over,
  };
}

let cleanup: (() => void) | undefined;
afterEach(() => {
  cleanup?.();
  cleanup = undefined;
});

function show(chain: ChainResult, language: 'en' | 'ja' = 'en') {
  const r = render(<ChainPanel chain={chain} />, language);
  cleanup = r.unmount;
  const q = (sel: string) => r.container.querySelector(sel);
  const links = [...r.container.querySelectorAll<HTMLElement>(':scope > section > ol > [data-testid="chain-link"]')];
  return {
    container: r.container,
    state: q('[data-testid="chain-panel"]')?.getAttribute('data-state'),
    summary: q('[data-testid="chain-state"]')?.textContent ?? '',
    summaryClass: q('[data-testid="chain-state"]')?.className ?? '',
    links: links.map((l) => ({
      role: l.dataset.role,
      status: l.dataset.status,
      statusText: l.querySelector('[data-testid="link-status"]')?.textContent ?? '',
      className: l.className,
      reasons: [...l.querySelectorAll('[data-testid="link-reasons"] li')].map((li) => li.textContent ?? ''),
      text: l.textContent ?? '',
    })),
    warnings: ['warn-external', 'warn-from-mismatch', 'warn-header-mismatch', 'warn-partial'].filter(
      (id) => q(`[data-testid="${id}"]`) !== null,
    ),
    text: r.container.textContent ?? '',
  };
}

const en = chainStrings.en;

describe('chain panel', () => {
  it('verified, three links: ① ② ③ all valid with names, staff ID, address, time; no warning', () => {
    const v = show(result({}));
    expect(v.state).toBe('verified');
    expect(v.summary).toContain(en['chain.state.verified']);
    expect(v.summaryClass).toContain('trust-verified');
    expect(v.links.map((l) => [l.role, l.status])).toEqual([
      ['sender', 'valid'],
      ['sending-org', 'valid'],
      ['receiving-org', 'valid'],
    ]);
    for (const l of v.links) {
      expect(l.statusText).toContain(en['chain.status.valid']);
      expect(l.className).toContain('status-valid');
      expect(l.reasons).toEqual([]);
    }
    expect(v.links[0]?.text).toContain('①');
    expect(v.links[0]?.text).toContain('Hanako Yamada');
    expect(v.links[0]?.text).toContain('A-1234');
    expect(v.links[0]?.text).toContain('hanako@a.example');
    expect(v.links[0]?.text).toContain(en['chain.link.sender']);
    expect(v.links[1]?.text).toContain('②');
    expect(v.links[2]?.text).toContain('③');
    expect(v.links[2]?.text).toContain('2026');
    expect(v.warnings).toEqual([]);
  });

  it('certificate details are on demand: inside a closed <details> with subject, issuer and fingerprint', () => {
    const v = show(result({}));
    const details = v.container.querySelector('details.chain-cert');
    expect(details).not.toBeNull();
    expect(details?.hasAttribute('open')).toBe(false);
    expect(details?.textContent).toContain('CN=A Corp SSMAX CA');
    expect(details?.textContent).toContain('AB:CD:EF:01');
  });

  it('verified forward: ④ ⑤ ③ outside and ① ② ③ of the forwarded message inside', () => {
    const inner = result({ links: [link('sender'), link('sending-org'), link('receiving-org')] });
    const v = show(
      result({ links: [link('forwarder'), link('forwarder-org'), link('receiving-org')], forwards: [inner] }),
    );
    expect(v.state).toBe('verified');
    expect(v.links.map((l) => l.role)).toEqual(['forwarder', 'forwarder-org', 'receiving-org']);
    expect(v.links[0]?.text).toContain('④');
    expect(v.links[1]?.text).toContain('⑤');
    const nested = v.container.querySelectorAll('[data-testid="chain-panel"] [data-testid="chain-panel"]');
    expect(nested).toHaveLength(1);
    const innerLinks = [...(nested[0]?.querySelectorAll<HTMLElement>('[data-testid="chain-link"]') ?? [])];
    expect(innerLinks.map((l) => l.dataset.role)).toEqual(['sender', 'sending-org', 'receiving-org']);
    expect(v.container.querySelectorAll('[data-testid="chain-link"][data-status="valid"]')).toHaveLength(6);
    // The original's ③ is the forwarder's organisation, not the reader's: its summary says so.
    const explain = (el: Element | undefined) => el?.querySelector('.chain-summary-explain')?.textContent ?? '';
    expect(explain(v.container.querySelector('[data-testid="chain-panel"]') ?? undefined)).toMatch(/your organisation/);
    expect(explain(nested[0])).toMatch(/forwarded original/);
    expect(explain(nested[0])).not.toMatch(/your organisation/);
  });

  it('signed, not verified: not green, says why', () => {
    const v = show(
      result({
        state: 'signed',
        reasons: [reason('chain-incomplete')],
        links: [link('sender'), link('sending-org')],
      }),
    );
    expect(v.state).toBe('signed');
    expect(v.summary).toContain(en['chain.state.signed']);
    expect(v.summary).not.toContain(en['chain.state.verified']);
    expect(v.summaryClass).not.toContain('trust-verified');
    expect(v.text).toContain(en['chain.reason.chain-incomplete']);
  });

  it('unsigned: no links, not green', () => {
    const v = show(result({ state: 'unsigned', links: [], reasons: [reason('unsigned')] }));
    expect(v.state).toBe('unsigned');
    expect(v.summary).toContain(en['chain.state.unsigned']);
    expect(v.text).toContain(en['chain.noLinks']);
    expect(v.text).toContain(en['chain.reason.unsigned']);
  });

  it('external: a loud warning with the SPF/DKIM/DMARC results, never shown like member mail', () => {
    const v = show(
      result({
        state: 'unsigned',
        external: true,
        externalAuth: { spf: 'pass', dkim: 'fail', dmarc: 'fail' },
        reasons: [reason('external')],
        links: [link('receiving-org')],
      }),
    );
    expect(v.state).toBe('external');
    expect(v.summary).toContain(en['chain.state.external']);
    expect(v.warnings).toContain('warn-external');
    expect(v.text).toContain('DKIM fail');
    expect(v.text).toContain('DMARC fail');
  });

  it('external mail that somehow says verified is still shown as external, not verified', () => {
    const v = show(result({ external: true }));
    expect(v.state).toBe('external');
    expect(v.summaryClass).not.toContain('trust-verified');
  });

  const failures: [ChainLinkStatus, string][] = [
    ['invalid', 'signature-invalid'],
    ['untrusted', 'untrusted'],
    ['revoked', 'revoked'],
    ['expired', 'expired'],
    ['not-checked', 'malformed'],
  ];
  for (const [status, code] of failures) {
    it(`failed: a ${status} link shows as ${status} with its reason in plain words, never as valid`, () => {
      const v = show(
        result({
          state: 'failed',
          reasons: [reason(code)],
          links: [link('sender'), link('sending-org', status, [reason(code)]), link('receiving-org')],
        }),
      );
      expect(v.state).toBe('failed');
      expect(v.summary).toContain(en['chain.state.failed']);
      expect(v.summaryClass).toContain('trust-failed');
      const bad = v.links[1];
      expect(bad?.status).toBe(status);
      expect(bad?.statusText).toContain(en[`chain.status.${status}`]);
      expect(bad?.statusText).not.toContain(en['chain.status.valid']);
      expect(bad?.className).not.toContain('status-valid');
      expect(bad?.className).toContain(`status-${status}`);
      expect(bad?.reasons).toEqual([expect.stringContaining(en[`chain.reason.${code}` as keyof typeof en])]);
      // The neighbours the core called valid stay valid: the panel does not smear one state over all.
      expect(v.links[0]?.status).toBe('valid');
    });
  }

  it('every link status has its own words and look', () => {
    const statuses: ChainLinkStatus[] = ['valid', 'invalid', 'untrusted', 'revoked', 'expired', 'not-checked'];
    const texts = new Set<string>();
    for (const s of statuses) {
      const v = show(result({ state: 'failed', links: [link('sender', s)] }));
      texts.add(v.links[0]?.statusText ?? '');
      cleanup?.();
      cleanup = undefined;
    }
    expect(texts.size).toBe(statuses.length);
  });

  it('From ≠ signer: a loud warning and the link ① reason', () => {
    const v = show(
      result({
        state: 'failed',
        reasons: [reason('from-mismatch')],
        links: [link('sender', 'invalid', [reason('from-mismatch')]), link('sending-org'), link('receiving-org')],
      }),
    );
    expect(v.warnings).toEqual(['warn-from-mismatch']);
    expect(v.links[0]?.reasons[0]).toContain(en['chain.reason.from-mismatch']);
  });

  it('header protection mismatch: a loud warning (from the core warning code)', () => {
    const v = show(result({ state: 'signed', warnings: [reason('header-mismatch')] }));
    expect(v.warnings).toEqual(['warn-header-mismatch']);
    expect(v.state).toBe('signed');
  });

  it('outer From ≠ protected From counts as header mismatch', () => {
    const v = show(result({ state: 'failed', reasons: [reason('header-from-mismatch')] }));
    expect(v.warnings).toContain('warn-header-mismatch');
  });

  it('partially signed content: a loud warning', () => {
    const v = show(result({ state: 'failed', partiallySigned: true, reasons: [reason('partially-signed')] }));
    expect(v.warnings).toEqual(['warn-partial']);
  });

  it('revocation notes: could not be checked (with the core’s why), revoked only after signing, in en and ja', () => {
    const why = 'Revocation of "CN=Hanako Yamada" could not be checked: the revocation list at https://ssmax.a.example/crl could not be reached (ECONNREFUSED).';
    const withNotes = (notes: ChainReason[]): ChainResult => result({ links: [{ ...link('sender'), notes }, link('sending-org'), link('receiving-org')] });
    const noteText = (language: 'en' | 'ja', notes: ChainReason[]) => {
      cleanup?.();
      return [...show(withNotes(notes), language).container.querySelectorAll('[data-testid="link-notes"] li')].map((li) => li.textContent ?? '');
    };
    for (const language of ['en', 'ja'] as const) {
      const [unavailable] = noteText(language, [reason('revocation-unavailable', why)]);
      expect(unavailable).toContain(chainStrings[language]['chain.reason.revocation-unavailable']);
      expect(unavailable).toContain('ECONNREFUSED');
      const [after] = noteText(language, [reason('revoked', 'revoked later')]);
      expect(after).toBe(chainStrings[language]['chain.note.revoked']);
      expect(after).not.toBe(chainStrings[language]['chain.reason.revoked']);
    }
    expect(chainStrings.ja['chain.reason.revocation-unavailable']).not.toBe(chainStrings.en['chain.reason.revocation-unavailable']);
  });

  it('a reason code new to the UI shows the core’s own sentence, not nothing', () => {
    const v = show(result({ state: 'failed', reasons: [reason('brand-new-code', 'The core explains it.')] }));
    expect(v.text).toContain('The core explains it.');
  });

  it('each state has its own wording (no two states look alike), in English and Japanese', () => {
    const states: ChainResult[] = [
      result({}),
      result({ state: 'signed' }),
      result({ state: 'unsigned', links: [] }),
      result({ state: 'unsigned', external: true }),
      result({ state: 'failed' }),
    ];
    for (const lang of ['en', 'ja'] as const) {
      const summaries = new Set<string>();
      const classes = new Set<string>();
      for (const s of states) {
        const v = show(s, lang);
        summaries.add(v.summary);
        classes.add(v.summaryClass);
        cleanup?.();
        cleanup = undefined;
      }
      expect(summaries.size).toBe(states.length);
      expect(classes.size).toBe(states.length);
    }
  });

  it('Japanese uses the SPEC §11 words', () => {
    const v = show(result({}), 'ja');
    expect(v.text).toContain('署名の連鎖');
    expect(v.text).toContain('メール送信者の署名');
    expect(v.text).toContain('送信組織の署名');
    expect(v.text).toContain('受信組織の署名');
  });
});
