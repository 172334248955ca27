import { useEffect, useId, useState, type ReactNode } from 'react';
import { ApiError, type ApiErrorCode, type OutboxEntry, type OutboxState, type SsmaxClient } from '../../api';
import { useI18n } from '../i18n/i18n';
import type { MessageKey } from '../i18n/messages';
import '../compose/forms.css';

const STATE_KEYS: Record<OutboxState, MessageKey> = {
  queued: 'outbox.state.queued',
  submitting: 'outbox.state.submitting',
  retrying: 'outbox.state.retrying',
  sent: 'outbox.state.sent',
  failed: 'outbox.state.failed',
};

/** The durable outbox: every entry with its state and the server's reason; retry for the stuck ones. */
export function Outbox({ client }: { client: SsmaxClient }): ReactNode {
  const { t, error, language } = useI18n();
  const ids = useId();
  const [entries, setEntries] = useState<OutboxEntry[] | null>(null);
  const [failure, setFailure] = useState<ApiErrorCode | null>(null);

  useEffect(() => {
    let live = true;
    const off = client.events.on('outbox.changed', (list) => live && setEntries(list));
    client.outbox.list().then(
      (list) => live && setEntries(list),
      (err: unknown) => live && setFailure(err instanceof ApiError ? err.code : 'Internal'),
    );
    return () => {
      live = false;
      off();
    };
  }, [client]);

  const retry = (id: string): void => {
    setFailure(null);
    client.outbox.retry(id).catch((err: unknown) => setFailure(err instanceof ApiError ? err.code : 'Internal'));
  };
  const when = (iso: string): string => new Date(iso).toLocaleString(language === 'ja' ? 'ja-JP' : 'en-GB');

  return (
    <section className="outbox" aria-labelledby={`${ids}-h`} data-testid="outbox">
      <h2 id={`${ids}-h`}>{t('outbox.heading')}</h2>
      {failure !== null && (
        <p role="alert" className="banner banner-error">
          {error(failure)}
        </p>
      )}
      {entries === null && failure === null && <p>{t('loading')}</p>}
      {entries !== null && entries.length === 0 && <p className="empty-state">{t('outbox.empty')}</p>}
      {entries !== null && entries.length > 0 && (
        <ul className="outbox-list">
          {entries.map((e) => (
            <li key={e.id} className={`outbox-entry outbox-${e.state}`} data-testid="outbox-entry">
              <p className="outbox-subject">{e.subject === '' ? t('outbox.noSubject') : e.subject}</p>
              <p>
                {t('outbox.to')}: {e.to.join(', ')}
              </p>
              <p>
                <strong className="outbox-state">{t(STATE_KEYS[e.state])}</strong>
                {e.attempts > 0 && ` · ${t('outbox.attempts')}: ${e.attempts}`}
                {e.nextAttemptAt !== undefined && e.state === 'retrying' && ` · ${t('outbox.next')}: ${when(e.nextAttemptAt)}`}
              </p>
              {e.lastError !== undefined && (
                <p className="outbox-reason">
                  {t('outbox.reason')}: <span className="error-detail">{e.lastError}</span>
                </p>
              )}
              {(e.state === 'failed' || e.state === 'retrying') && (
                <button type="button" onClick={() => retry(e.id)}>
                  {t('outbox.retry')}
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
