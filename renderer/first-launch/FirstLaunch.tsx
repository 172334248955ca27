import { useEffect, useId, useState, type FormEvent, type ReactNode } from 'react';
import { ApiError, IMAP_SECURITY, type Account, type ApiErrorCode, type ImapSecurity, type OrgStatus, type SsmaxClient } from '../../api';
import { useI18n } from '../i18n/i18n';
import { Fingerprint } from './Fingerprint';
import '../compose/forms.css';

type Phase =
  | { step: 'address'; busy: boolean }
  | { step: 'found'; account: Account; busy: boolean; failure?: { code: ApiErrorCode; message: string } }
  | { step: 'refused'; message: string }
  | { step: 'offline'; message: string }
  | { step: 'failed'; code: ApiErrorCode; message: string }
  | { step: 'account'; status: OrgStatus; busy: boolean; failure?: { code: ApiErrorCode; message: string } }
  | { step: 'done' };

const codeOf = (err: unknown): ApiErrorCode => (err instanceof ApiError ? err.code : 'Internal');
const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * First launch (SPEC §6): address → the org found and verified by the main process (name,
 * domains, fingerprint) → the user confirms → pinned → mail account (manual IMAP settings when the
 * provisioning did not give them) → done. A bundle that fails verification is a dead end with the
 * reason: there is no "continue anyway".
 */
export function FirstLaunch({
  client,
  suggestedAddress,
  onDone,
  onLater,
}: {
  client: SsmaxClient;
  suggestedAddress?: string;
  onDone: () => void;
  /** "Set up later": the app without an account (its screens say so). */
  onLater?: () => void;
}): ReactNode {
  const { t, error } = useI18n();
  const ids = useId();
  const [address, setAddress] = useState(suggestedAddress ?? '');
  const [phase, setPhase] = useState<Phase>({ step: 'address', busy: false });

  const discover = (e?: FormEvent): void => {
    e?.preventDefault();
    setPhase({ step: 'address', busy: true });
    client.accounts.discover(address.trim()).then(
      (account) => setPhase({ step: 'found', account, busy: false }),
      (err: unknown) => {
        const code = codeOf(err);
        if (code === 'Refused') setPhase({ step: 'refused', message: messageOf(err) });
        else if (code === 'ServerUnavailable') setPhase({ step: 'offline', message: messageOf(err) });
        else setPhase({ step: 'failed', code, message: messageOf(err) });
      },
    );
  };

  const confirm = (account: Account): void => {
    setPhase({ step: 'found', account, busy: true });
    (async () => {
      await client.accounts.confirm(account.id);
      const [status, accounts] = await Promise.all([client.org.status(), client.accounts.list()]);
      // An account that already reads mail (IMAP from IT's provisioning) needs nothing more.
      if (accounts.some((a) => a.imap !== undefined)) setPhase({ step: 'done' });
      else setPhase({ step: 'account', status, busy: false });
    })().catch((err: unknown) =>
      setPhase({ step: 'found', account, busy: false, failure: { code: codeOf(err), message: messageOf(err) } }),
    );
  };

  return (
    <main className="wizard first-launch" aria-labelledby={`${ids}-h`} data-testid="first-launch">
      <h1 id={`${ids}-h`}>{t('firstLaunch.heading')}</h1>
      <p className="wizard-intro">{t('firstLaunch.intro')}</p>
      <ol className="wizard-steps">
        <li aria-current={phase.step === 'address' ? 'step' : undefined}>{t('firstLaunch.step.address')}</li>
        <li aria-current={phase.step === 'found' || phase.step === 'refused' || phase.step === 'offline' ? 'step' : undefined}>
          {t('firstLaunch.step.confirm')}
        </li>
        <li aria-current={phase.step === 'account' || phase.step === 'done' ? 'step' : undefined}>{t('firstLaunch.step.account')}</li>
      </ol>

      {phase.step === 'address' && (
        <form onSubmit={discover} className="wizard-panel">
          <div className="field">
            <label htmlFor={`${ids}-address`}>{t('firstLaunch.address')}</label>
            <input
              id={`${ids}-address`}
              type="email"
              autoComplete="email"
              value={address}
              onChange={(e) => setAddress(e.target.value)}
              aria-describedby={suggestedAddress !== undefined ? `${ids}-sugg` : undefined}
              required
            />
            {suggestedAddress !== undefined && (
              <span id={`${ids}-sugg`} className="field-hint">
                {t('firstLaunch.address.suggested')}
              </span>
            )}
          </div>
          <div className="actions">
            <button type="submit" className="primary" disabled={phase.busy || !address.includes('@')}>
              {t('firstLaunch.find')}
            </button>
            {onLater !== undefined && (
              <button type="button" disabled={phase.busy} onClick={onLater}>
                {t('firstLaunch.later')}
              </button>
            )}
          </div>
          <p role="status">{phase.busy ? t('firstLaunch.finding') : ''}</p>
        </form>
      )}

      {phase.step === 'found' && (
        <section className="wizard-panel" aria-labelledby={`${ids}-org`} data-testid="org-found">
          <h2 id={`${ids}-org`}>{phase.account.org?.name}</h2>
          <p className="verified-note">{t('firstLaunch.found')}</p>
          <dl className="org-facts">
            <dt>{t('firstLaunch.org.name')}</dt>
            <dd data-testid="org-name">{phase.account.org?.name}</dd>
            <dt>{t('firstLaunch.org.domains')}</dt>
            <dd>{phase.account.org?.domains.join(', ')}</dd>
            <dt>{t('firstLaunch.org.encryptionKey')}</dt>
            <dd>
              <Fingerprint value={phase.account.org?.encryptionKeyFingerprint ?? ''} testId="org-fingerprint" />
            </dd>
          </dl>
          <p className="compare-note">{t('firstLaunch.compare')}</p>
          {phase.failure !== undefined && (
            <div role="alert" className="banner banner-error">
              <p>{error(phase.failure.code)}</p>
              <p className="error-detail">{phase.failure.message}</p>
            </div>
          )}
          <div className="actions">
            <button type="button" className="primary" disabled={phase.busy} onClick={() => confirm(phase.account)}>
              {t('firstLaunch.confirm')}
            </button>
            <button type="button" disabled={phase.busy} onClick={() => setPhase({ step: 'address', busy: false })}>
              {t('firstLaunch.back')}
            </button>
          </div>
          <p role="status">{phase.busy ? t('firstLaunch.confirming') : ''}</p>
        </section>
      )}

      {phase.step === 'refused' && (
        <section role="alert" className="wizard-panel refused" aria-labelledby={`${ids}-ref`} data-testid="org-refused">
          <h2 id={`${ids}-ref`}>{t('firstLaunch.refused.heading')}</h2>
          <p>{t('firstLaunch.refused.body')}</p>
          <p>
            <strong>{t('firstLaunch.refused.reason')}:</strong> <span className="error-detail" data-testid="refused-reason">{phase.message}</span>
          </p>
          <div className="actions">
            <button type="button" onClick={() => setPhase({ step: 'address', busy: false })}>
              {t('firstLaunch.back')}
            </button>
          </div>
        </section>
      )}

      {(phase.step === 'offline' || phase.step === 'failed') && (
        <section role="alert" className="wizard-panel" aria-labelledby={`${ids}-off`} data-testid="org-offline">
          <h2 id={`${ids}-off`}>{phase.step === 'offline' ? t('firstLaunch.offline.heading') : error(phase.code)}</h2>
          {phase.step === 'offline' && <p>{t('firstLaunch.offline.body')}</p>}
          <p className="error-detail">{phase.message}</p>
          <div className="actions">
            <button type="button" className="primary" onClick={() => discover()}>
              {t('firstLaunch.retry')}
            </button>
            <button type="button" onClick={() => setPhase({ step: 'address', busy: false })}>
              {t('firstLaunch.back')}
            </button>
          </div>
        </section>
      )}

      {phase.step === 'account' && (
        <AccountSetup
          client={client}
          status={phase.status}
          address={phase.status.address ?? address}
          onDone={() => setPhase({ step: 'done' })}
        />
      )}

      {phase.step === 'done' && (
        <section className="wizard-panel" aria-labelledby={`${ids}-done`} data-testid="first-launch-done">
          <h2 id={`${ids}-done`}>{t('firstLaunch.done.heading')}</h2>
          <p>{t('firstLaunch.done.body')}</p>
          <div className="actions">
            <button type="button" className="primary" onClick={onDone}>
              {t('firstLaunch.done.open')}
            </button>
          </div>
        </section>
      )}
    </main>
  );
}

/** Manual IMAP settings when the provisioning did not give them; the login is checked by `accounts.add`. */
function AccountSetup({
  client,
  status,
  address,
  onDone,
}: {
  client: SsmaxClient;
  status: OrgStatus;
  address: string;
  onDone: () => void;
}): ReactNode {
  const { t, error } = useI18n();
  const ids = useId();
  const imap = status.mail?.imap;
  const [host, setHost] = useState(imap?.host ?? '');
  const [port, setPort] = useState(String(imap?.port ?? 993));
  const [security, setSecurity] = useState<ImapSecurity>(imap?.security ?? 'tls');
  const [username, setUsername] = useState(address);
  const [password, setPassword] = useState('');
  const [displayName, setDisplayName] = useState('');
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<{ code: ApiErrorCode; message: string } | null>(null);

  useEffect(() => setUsername(address), [address]);

  const add = (e: FormEvent): void => {
    e.preventDefault();
    setBusy(true);
    setFailure(null);
    client.accounts
      .add({
        email: address,
        ...(displayName.trim() !== '' ? { displayName: displayName.trim() } : {}),
        imap: { host: host.trim(), port: Number(port), security, username: username.trim(), password },
      })
      .then(onDone, (err: unknown) => {
        setBusy(false);
        setFailure({ code: codeOf(err), message: messageOf(err) });
      });
  };

  return (
    <form className="wizard-panel" onSubmit={add} aria-labelledby={`${ids}-h`} data-testid="account-setup">
      <h2 id={`${ids}-h`}>{t('firstLaunch.account.pinned')}</h2>
      <p>{t('firstLaunch.account.needed')}</p>
      {status.mail !== undefined && (
        <p>
          {t('firstLaunch.mail.smtp')}: <code>{`${status.mail.smtp.host}:${status.mail.smtp.port}`}</code>
        </p>
      )}
      <div className="field">
        <label htmlFor={`${ids}-name`}>{t('firstLaunch.account.name')}</label>
        <input id={`${ids}-name`} type="text" autoComplete="name" value={displayName} onChange={(e) => setDisplayName(e.target.value)} />
      </div>
      <div className="field">
        <label htmlFor={`${ids}-host`}>{t('firstLaunch.account.host')}</label>
        <input id={`${ids}-host`} type="text" required value={host} onChange={(e) => setHost(e.target.value)} />
      </div>
      <div className="field-row">
        <div className="field">
          <label htmlFor={`${ids}-port`}>{t('firstLaunch.account.port')}</label>
          <input id={`${ids}-port`} type="number" min={1} max={65535} required value={port} onChange={(e) => setPort(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor={`${ids}-sec`}>{t('firstLaunch.account.security')}</label>
          <select id={`${ids}-sec`} value={security} onChange={(e) => setSecurity(e.target.value as ImapSecurity)}>
            {IMAP_SECURITY.map((s) => (
              <option key={s} value={s}>
                {t(`firstLaunch.account.security.${s}`)}
              </option>
            ))}
          </select>
        </div>
      </div>
      <div className="field">
        <label htmlFor={`${ids}-user`}>{t('firstLaunch.account.username')}</label>
        <input id={`${ids}-user`} type="text" autoComplete="username" required value={username} onChange={(e) => setUsername(e.target.value)} />
      </div>
      <div className="field">
        <label htmlFor={`${ids}-pw`}>{t('firstLaunch.account.password')}</label>
        <input id={`${ids}-pw`} type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
      </div>
      {failure !== null && (
        <div role="alert" className="banner banner-error">
          <p>{error(failure.code)}</p>
          <p className="error-detail">{failure.message}</p>
        </div>
      )}
      <div className="actions">
        <button type="submit" className="primary" disabled={busy || host.trim() === '' || password === ''}>
          {t('firstLaunch.account.add')}
        </button>
        <button type="button" disabled={busy} onClick={onDone}>
          {t('firstLaunch.account.skip')}
        </button>
      </div>
      <p role="status">{busy ? t('firstLaunch.account.adding') : ''}</p>
    </form>
  );
}
