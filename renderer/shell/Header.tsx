import { useCallback, type ReactNode } from 'react';
import type { Account, CardStatus, SsmaxClient } from '../../api';
import { useCardStatus } from '../card/use-card-status';
import { useI18n } from '../i18n/i18n';
import { useCall, type CallState } from './use-call';

export type View = 'mail' | 'compose' | 'settings' | 'enrollment';

/** The app's chrome: product, organisation, card status, and the two views. */
export function Header({
  client,
  view,
  onView,
}: {
  client: SsmaxClient;
  view: View;
  onView: (v: View) => void;
}): ReactNode {
  const { t } = useI18n();
  const accounts = useCall(useCallback(() => client.accounts.list(), [client]));
  // The pinned org bundle names the organisation (first launch); accounts may not carry it.
  const org = useCall(useCallback(() => client.org.status(), [client]));
  // Follows card.changed: insert, remove, locked/blocked show at once.
  const card = useCardStatus(client);
  return (
    <header className="app-header">
      <div className="brand">
        <span className="brand-name">{t('app.name')}</span>
        <span className="brand-tagline">{t('app.tagline')}</span>
      </div>
      <dl className="status-area">
        <div className="status-item">
          <dt>{t('header.org.label')}</dt>
          <dd data-testid="org-status">
            {org.status === 'ok' && org.value.org !== undefined ? org.value.org.name : <OrgStatus accounts={accounts} />}
          </dd>
        </div>
        <div className="status-item">
          <dt>{t('header.card.label')}</dt>
          <dd data-testid="card-status">
            <CardStatusText card={card} />
          </dd>
        </div>
      </dl>
      <nav className="views" aria-label={t('nav.main')}>
        <button
          type="button"
          aria-current={view === 'mail' ? 'page' : undefined}
          onClick={() => onView('mail')}
        >
          {t('nav.mail')}
        </button>
        <button
          type="button"
          aria-current={view === 'compose' ? 'page' : undefined}
          onClick={() => onView('compose')}
        >
          {t('compose.heading.new')}
        </button>
        <button
          type="button"
          aria-current={view === 'settings' ? 'page' : undefined}
          onClick={() => onView('settings')}
        >
          {t('nav.settings')}
        </button>
        <button
          type="button"
          aria-current={view === 'enrollment' ? 'page' : undefined}
          onClick={() => onView('enrollment')}
        >
          {t('enrollment.nav')}
        </button>
      </nav>
    </header>
  );
}

function OrgStatus({ accounts }: { accounts: CallState<Account[]> }): ReactNode {
  const { t } = useI18n();
  if (accounts.status === 'loading') return t('loading');
  const first = accounts.status === 'ok' ? accounts.value[0] : undefined;
  // Only an org from a pinned, verified bundle is ever named here; anything else is "none yet".
  return first?.org === undefined ? t('header.org.none') : first.org.name;
}

function CardStatusText({ card }: { card: CallState<CardStatus> }): ReactNode {
  const { t, cardState, error } = useI18n();
  if (card.status === 'loading') return t('loading');
  if (card.status === 'error')
    return card.code === 'NotAvailableYet' ? t('header.card.unavailable') : error(card.code);
  return cardState(card.value.state);
}
