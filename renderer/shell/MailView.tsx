import { useCallback, type ReactNode } from 'react';
import type { SsmaxClient } from '../../api';
import { useI18n } from '../i18n/i18n';
import { useCall } from './use-call';

/**
 * Folder pane, message list and reading pane. Until first launch and sync exist (issue 7), the
 * panes say so plainly: no account, nothing to list — never sample mail.
 */
export function MailView({ client }: { client: SsmaxClient }): ReactNode {
  const { t, error } = useI18n();
  const accounts = useCall(useCallback(() => client.accounts.list(), [client]));
  const hasAccount = accounts.status === 'ok' && accounts.value.length > 0;

  return (
    <main className="mail-view" aria-labelledby="mail-heading">
      {/* One h1 per screen for screen-reader navigation; the three panes are visually obvious. */}
      <h1 id="mail-heading" className="visually-hidden">
        {t('nav.mail')}
      </h1>
      <nav className="pane folder-pane" aria-labelledby="folders-heading">
        <h2 id="folders-heading">{t('folders.heading')}</h2>
        {accounts.status === 'loading' && <p>{t('loading')}</p>}
        {accounts.status !== 'loading' && !hasAccount && (
          <div className="empty-state" data-testid="no-account">
            <p className="empty-title">{t('folders.noAccount.title')}</p>
            <p>
              {accounts.status === 'error' && accounts.code !== 'NotAvailableYet'
                ? error(accounts.code)
                : t('folders.noAccount.body')}
            </p>
          </div>
        )}
      </nav>
      <section className="pane list-pane" aria-labelledby="list-heading">
        <h2 id="list-heading">{t('list.heading')}</h2>
        <p className="empty-state">{t('list.empty')}</p>
      </section>
      <section className="pane reading-pane" aria-labelledby="reading-heading">
        <h2 id="reading-heading">{t('reading.heading')}</h2>
        <p className="empty-state">{t('reading.empty')}</p>
      </section>
    </main>
  );
}
