import { useCallback, useState, type ReactNode } from 'react';
import type { SsmaxClient } from '../../api';
import { useI18n } from '../i18n/i18n';
import { Outbox } from '../outbox/Outbox';
import { useCall } from '../shell/use-call';
import { Compose, type ComposeStart } from './Compose';

const NO_ACCOUNTS: never[] = [];

/** The compose screen: the editor and, beside it, the outbox. */
export function ComposeView({
  client,
  start,
  onClose,
}: {
  client: SsmaxClient;
  start?: ComposeStart;
  onClose: () => void;
}): ReactNode {
  const { t } = useI18n();
  const accounts = useCall(useCallback(() => client.accounts.list(), [client]));
  const list = accounts.status === 'ok' ? accounts.value : NO_ACCOUNTS;
  const org = useCall(useCallback(() => client.org.status(), [client]));
  // Mail is encrypted to the pinned org's key; an expired pin has nothing to encrypt to.
  const pinnedOrgName = org.status === 'ok' && org.value.state !== 'expired' ? org.value.org?.name : undefined;
  // A new editor after "write another message": the key resets every field.
  const [round, setRound] = useState(0);
  return (
    <main className="compose-view" aria-labelledby="compose-view-heading">
      <h1 id="compose-view-heading" className="visually-hidden">
        {t('compose.heading.new')}
      </h1>
      {accounts.status === 'loading' || org.status === 'loading' ? (
        <p>{t('loading')}</p>
      ) : (
        <Compose
          key={round}
          client={client}
          accounts={list}
          pinnedOrgName={pinnedOrgName}
          start={round === 0 ? start : undefined}
          onDone={() => (round === 0 && start?.mode !== 'new' && start !== undefined ? onClose() : setRound((r) => r + 1))}
        />
      )}
      <Outbox client={client} />
    </main>
  );
}
