import { useEffect, useId, useState, type ReactNode } from 'react';
import { ApiError, type ApiErrorCode, type OrgRefreshFailure, type OrgStatus, type SsmaxClient } from '../../api';
import { useI18n } from '../i18n/i18n';
import { Fingerprint } from './Fingerprint';
import '../compose/forms.css';

/** The pinned organisation in Settings: name, fingerprints, state, and "check for an update now". */
export function OrgSettings({ client }: { client: SsmaxClient }): ReactNode {
  const { t, error, language } = useI18n();
  const ids = useId();
  const [status, setStatus] = useState<OrgStatus | null>(null);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(false);
  const [failure, setFailure] = useState<ApiErrorCode | null>(null);
  const [refreshFailure, setRefreshFailure] = useState<OrgRefreshFailure | null>(null);

  useEffect(() => {
    let live = true;
    const offs = [
      client.events.on('org.changed', (s) => live && setStatus(s)),
      client.events.on('org.refreshFailed', (f) => live && setRefreshFailure(f)),
    ];
    client.org.status().then(
      (s) => live && setStatus(s),
      (err: unknown) => live && setFailure(err instanceof ApiError ? err.code : 'Internal'),
    );
    return () => {
      live = false;
      offs.forEach((off) => off());
    };
  }, [client]);

  const refresh = (): void => {
    setBusy(true);
    setDone(false);
    setFailure(null);
    client.org.refresh().then(
      (s) => {
        setStatus(s);
        setBusy(false);
        setDone(true);
      },
      (err: unknown) => {
        setBusy(false);
        setFailure(err instanceof ApiError ? err.code : 'Internal');
      },
    );
  };
  const when = (iso: string): string => new Date(iso).toLocaleString(language === 'ja' ? 'ja-JP' : 'en-GB');
  const org = status?.org;

  return (
    <section aria-labelledby={`${ids}-h`} className="org-settings" data-testid="org-settings">
      <h2 id={`${ids}-h`}>{t('org.settings.heading')}</h2>
      {status === null && failure === null && <p>{t('loading')}</p>}
      {status !== null && org === undefined && <p>{t('org.settings.none')}</p>}
      {status !== null && org !== undefined && (
        <dl className="org-facts">
          <dt>{t('firstLaunch.org.name')}</dt>
          <dd data-testid="pinned-org-name">{org.name}</dd>
          <dt>{t('firstLaunch.org.domains')}</dt>
          <dd>{org.domains.join(', ')}</dd>
          <dt>{t('org.settings.state')}</dt>
          <dd data-testid="pinned-org-state" className={status.state === 'pinned' ? '' : 'state-problem'}>
            {t(`org.state.${status.state}`)}
          </dd>
          <dt>{t('firstLaunch.org.encryptionKey')}</dt>
          <dd>
            <Fingerprint value={org.encryptionKeyFingerprint} />
          </dd>
          <dt>{t('firstLaunch.org.caKey')}</dt>
          <dd>
            <Fingerprint value={org.orgCaFingerprint} />
          </dd>
          <dt>{t('firstLaunch.org.version')}</dt>
          <dd>{org.version}</dd>
          <dt>{t('firstLaunch.org.expires')}</dt>
          <dd>{when(org.expiresAt)}</dd>
          {status.lastRefreshAt !== undefined && (
            <>
              <dt>{t('org.settings.lastRefresh')}</dt>
              <dd>{when(status.lastRefreshAt)}</dd>
            </>
          )}
        </dl>
      )}
      {status?.problem !== undefined && (
        <p role="alert" className="banner banner-error">
          {status.problem.message}
          {status.problem.reason !== undefined ? ` (${status.problem.reason})` : ''}
        </p>
      )}
      {refreshFailure !== null && status?.problem === undefined && (
        <p role="alert" className="banner banner-warning">
          {refreshFailure.message}
        </p>
      )}
      {failure !== null && (
        <p role="alert" className="banner banner-error">
          {error(failure)}
        </p>
      )}
      {org !== undefined && (
        <button type="button" onClick={refresh} disabled={busy}>
          {t('org.settings.refresh')}
        </button>
      )}
      {/* aria-live without role=status: the settings screen keeps one status region (the language save). */}
      <p aria-live="polite" data-testid="org-refresh-status">{busy ? t('org.settings.refreshing') : done ? t('org.settings.refreshed') : ''}</p>
    </section>
  );
}
