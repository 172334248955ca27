import type { ReactNode } from 'react';
import type { CertificateSummary, ChainLink, ChainLinkRole, ChainReason, ChainResult } from '../../api';
import { useI18n } from '../i18n/i18n';
import { NOTES_WITH_DETAIL, chainDisplayTrust, chainWarnings, noteText, reasonText, stateKey, trustSymbol } from './trust';
import './chain.css';

/** ① person, ② sending org, ③ receiving org, ④ ⑤ forwarder and their org (SPEC §4). */
const LINK_NUMBER: Record<ChainLinkRole, string> = {
  sender: '①',
  'sending-org': '②',
  'receiving-org': '③',
  'single-org': '②③',
  'external-org': '＋',
  forwarder: '④',
  'forwarder-org': '⑤',
  'additional-signer': '＋',
};

const STATUS_SYMBOL: Record<ChainLink['status'], string> = {
  valid: '✔',
  invalid: '✖',
  untrusted: '✖',
  revoked: '✖',
  expired: '✖',
  'not-checked': '?',
};

export function formatTime(iso: string, language: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return new Intl.DateTimeFormat(language === 'ja' ? 'ja-JP' : 'en-GB', {
    dateStyle: 'medium',
    timeStyle: 'medium',
  }).format(d);
}

/**
 * The signature chain of one opened message: its one state, the loud warnings, and each link with
 * status, time and why it failed; certificate details on demand. Every state and status shown is
 * the core's (`ChainResult`); this component only words it.
 */
export function ChainPanel({ chain, nested = false }: { chain: ChainResult; nested?: boolean }): ReactNode {
  const { t } = useI18n();
  const shown = chainDisplayTrust(chain);
  const warn = chainWarnings(chain);
  const HeadingTag = nested ? 'h4' : 'h3';
  return (
    <section className={`chain-panel chain-${shown}`} data-testid="chain-panel" data-state={shown}>
      <HeadingTag className="chain-heading">{nested ? t('chain.forwarded.heading') : t('chain.heading')}</HeadingTag>
      <div className={`chain-summary trust-${shown}`} data-testid="chain-state">
        <span className="chain-summary-symbol" aria-hidden="true">
          {trustSymbol(shown)}
        </span>
        <div>
          <p className="chain-summary-title">{t(stateKey(shown))}</p>
          <p className="chain-summary-explain">
            {/* "Your organisation" is wrong for a forwarded original: its ③ is the forwarder's organisation. */}
            {nested && shown === 'verified'
              ? t('chain.forwarded.stateExplain.verified')
              : t(`chain.stateExplain.${shown === 'unopened' ? 'unsigned' : shown}`)}
          </p>
        </div>
      </div>
      {warn.external && (
        <Warning testId="warn-external" title={t('chain.warn.external.title')} body={t('chain.warn.external.body')}>
          {chain.externalAuth !== undefined && (
            <p className="warning-detail">
              {t('chain.warn.externalAuth')}:{' '}
              {(['spf', 'dkim', 'dmarc'] as const)
                .filter((k) => chain.externalAuth?.[k] !== undefined)
                .map((k) => `${k.toUpperCase()} ${chain.externalAuth?.[k] ?? ''}`)
                .join(' · ')}
            </p>
          )}
        </Warning>
      )}
      {warn.fromMismatch && (
        <Warning
          testId="warn-from-mismatch"
          title={t('chain.warn.fromMismatch.title')}
          body={t('chain.warn.fromMismatch.body')}
        />
      )}
      {warn.headerMismatch && (
        <Warning
          testId="warn-header-mismatch"
          title={t('chain.warn.headerMismatch.title')}
          body={t('chain.warn.headerMismatch.body')}
        />
      )}
      {warn.partiallySigned && (
        <Warning testId="warn-partial" title={t('chain.warn.partial.title')} body={t('chain.warn.partial.body')} />
      )}
      <Reasons testId="chain-reasons" heading={t('chain.reasons.heading')} reasons={chain.reasons} />
      <Reasons testId="chain-warnings" heading={t('chain.warnings.heading')} reasons={chain.warnings} />
      {chain.links.length === 0 ? (
        <p className="chain-nolinks">{t('chain.noLinks')}</p>
      ) : (
        <ol className="chain-links">
          {chain.links.map((link, i) => (
            <LinkItem key={`${link.role}-${i}`} link={link} />
          ))}
        </ol>
      )}
      {chain.forwards.map((f, i) => (
        <ChainPanel key={i} chain={f} nested />
      ))}
    </section>
  );
}

function Warning({
  testId,
  title,
  body,
  children,
}: {
  testId: string;
  title: string;
  body: string;
  children?: ReactNode;
}): ReactNode {
  return (
    <div className="chain-warning" data-testid={testId} role="note">
      <p className="chain-warning-title">
        <span aria-hidden="true">⚠ </span>
        {title}
      </p>
      <p>{body}</p>
      {children}
    </div>
  );
}

function Reasons({ testId, heading, reasons }: { testId: string; heading: string; reasons: ChainReason[] }): ReactNode {
  const { t } = useI18n();
  if (reasons.length === 0) return null;
  return (
    <div className="chain-reasons" data-testid={testId}>
      <p className="chain-reasons-heading">{heading}</p>
      <ul>
        {reasons.map((r, i) => (
          <li key={`${r.code}-${i}`} data-code={r.code}>
            {reasonText(t, r)}
          </li>
        ))}
      </ul>
    </div>
  );
}

function LinkItem({ link }: { link: ChainLink }): ReactNode {
  const { t, language } = useI18n();
  const leaf = link.path[0];
  const person = link.role === 'sender' || link.role === 'forwarder' || link.role === 'additional-signer';
  // The core notes each certificate of the path; one line per kind of note is what a reader needs.
  const notes = link.notes.filter((n, i) => link.notes.findIndex((m) => m.code === n.code) === i);
  return (
    <li
      className={`chain-link status-${link.status}`}
      data-testid="chain-link"
      data-role={link.role}
      data-status={link.status}
    >
      <div className="chain-link-head">
        <span className="chain-link-number" aria-hidden="true">
          {LINK_NUMBER[link.role]}
        </span>
        <span className="chain-link-role">{t(`chain.link.${link.role}`)}</span>
        <span className={`chain-link-status status-${link.status}`} data-testid="link-status">
          <span aria-hidden="true">{STATUS_SYMBOL[link.status]} </span>
          {t(`chain.status.${link.status}`)}
        </span>
      </div>
      <dl className="chain-link-facts">
        {person && leaf !== undefined && <Fact label={t('chain.field.name')} value={commonName(link.subject)} />}
        {link.staffId !== undefined && <Fact label={t('chain.field.staffId')} value={link.staffId} />}
        {link.email !== undefined && <Fact label={t('chain.field.address')} value={link.email} />}
        {link.orgName !== undefined && <Fact label={t('chain.field.org')} value={link.orgName} />}
        {link.domains.length > 0 && <Fact label={t('chain.field.domains')} value={link.domains.join(', ')} />}
        {link.signingTime !== undefined && (
          <Fact label={t('chain.field.time')} value={formatTime(link.signingTime, language)} />
        )}
        {leaf === undefined && <Fact label={t('chain.field.subject')} value={link.subject} />}
      </dl>
      {link.reasons.length > 0 && (
        <ul className="chain-link-reasons" data-testid="link-reasons">
          {link.reasons.map((r, i) => (
            <li key={`${r.code}-${i}`} data-code={r.code}>
              <span aria-hidden="true">✖ </span>
              {reasonText(t, r)}
            </li>
          ))}
        </ul>
      )}
      {notes.length > 0 && (
        <ul className="chain-link-notes" data-testid="link-notes">
          {notes.map((r, i) => (
            <li key={`${r.code}-${i}`} data-code={r.code}>
              {noteText(t, r)}
              {NOTES_WITH_DETAIL.has(r.code) && <span className="chain-note-detail"> ({r.message})</span>}
            </li>
          ))}
        </ul>
      )}
      {link.path.length > 0 && (
        <details className="chain-cert">
          <summary>{person ? t('chain.cert.card') : t('chain.cert.show')}</summary>
          {link.path.map((c, i) => (
            <CertDetails key={`${c.sha256}-${i}`} cert={c} />
          ))}
        </details>
      )}
    </li>
  );
}

function CertDetails({ cert }: { cert: CertificateSummary }): ReactNode {
  const { t, language } = useI18n();
  return (
    <dl className="chain-cert-details">
      <Fact label={t('chain.cert.subject')} value={cert.subject} />
      <Fact label={t('chain.cert.issuer')} value={cert.issuer} />
      <Fact label={t('chain.cert.serial')} value={cert.serialNumber} />
      <Fact label={t('chain.cert.sha256')} value={cert.sha256} mono />
      <Fact
        label={t('chain.cert.validity')}
        value={`${formatTime(cert.notBefore, language)} – ${formatTime(cert.notAfter, language)}`}
      />
      {cert.ssmaxRole !== undefined && <Fact label={t('chain.cert.role')} value={cert.ssmaxRole} />}
    </dl>
  );
}

function Fact({ label, value, mono = false }: { label: string; value: string; mono?: boolean }): ReactNode {
  return (
    <div className="fact">
      <dt>{label}</dt>
      <dd className={mono ? 'mono' : undefined}>{value}</dd>
    </div>
  );
}

/** The CN of a DN string (`CN=Hanako Yamada,O=…`), else the whole subject. */
export function commonName(subject: string): string {
  const m = /(?:^|[,/]\s*)CN=((?:\\.|[^,/])+)/i.exec(subject);
  return m?.[1] !== undefined ? m[1].replace(/\\(.)/g, '$1').trim() : subject;
}

