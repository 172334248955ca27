import { useCallback, useState, type ReactNode } from 'react';
import type { SsmaxClient } from '../../api';
import { useI18n } from '../i18n/i18n';
import { useCall } from '../shell/use-call';
import { FirstLaunch } from './FirstLaunch';

/**
 * Shows the first-launch wizard instead of `children` while no org is pinned (`org.status()` is
 * `none`); `onDone` lets the app reload what depends on the new account. If the status cannot be
 * read, the app is shown (its own screens say what is missing).
 */
export function FirstLaunchGate({
  client,
  onDone,
  children,
}: {
  client: SsmaxClient;
  onDone: () => void;
  children: ReactNode;
}): ReactNode {
  const { t } = useI18n();
  const status = useCall(useCallback(() => client.org.status(), [client]));
  const [finished, setFinished] = useState(false);
  if (status.status === 'loading')
    return (
      <main className="centered">
        <p role="status">{t('loading')}</p>
      </main>
    );
  if (!finished && status.status === 'ok' && status.value.state === 'none')
    return (
      <FirstLaunch
        client={client}
        {...(status.value.suggestedAddress !== undefined ? { suggestedAddress: status.value.suggestedAddress } : {})}
        onDone={() => {
          setFinished(true);
          onDone();
        }}
        onLater={() => setFinished(true)}
      />
    );
  return children;
}
