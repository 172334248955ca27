import { useCallback, useEffect, useMemo, useState, type ReactNode } from 'react';
import type { Account, Folder, FolderRef, MessageRef, MessageSummary, OpenedMessage, SsmaxClient, SyncProgress } from '../../api';
import { useI18n } from '../i18n/i18n';
import type { MessageKey } from '../i18n/messages';
import { useCall } from '../shell/use-call';
import { MessageList, refKey } from './MessageList';
import { ReadingPane, type ComposeRequest } from './ReadingPane';
import './mail.css';

export type { ComposeRequest, ComposeMode } from './ReadingPane';

const ROLE_ORDER: Folder['role'][] = ['inbox', 'drafts', 'sent', 'archive', 'junk', 'trash', 'other'];

/**
 * Folder pane, message list and reading pane. With no account yet the panes say so plainly —
 * never sample mail. `onCompose` is the hook for Reply / Reply all / Forward (the compose screen).
 * `hidden`: kept mounted under another view, so the user comes back to the folder, the open message
 * and what they already decrypted (the list's protected subjects) as they left them.
 */
export function MailView({
  client,
  onCompose,
  hidden = false,
}: {
  client: SsmaxClient;
  onCompose?: (request: ComposeRequest) => void;
  hidden?: boolean;
}): ReactNode {
  const { t, error } = useI18n();
  const accounts = useCall(useCallback(() => client.accounts.list(), [client]));
  const list = accounts.status === 'ok' ? accounts.value : [];
  const hasAccount = list.length > 0;
  const [folder, setFolder] = useState<FolderRef | null>(null);
  const [searchText, setSearchText] = useState('');
  const [search, setSearch] = useState('');
  const [openRef, setOpenRef] = useState<MessageRef | null>(null);
  const [overrides, setOverrides] = useState<ReadonlyMap<string, Partial<MessageSummary>>>(new Map());
  const [reloadKey, setReloadKey] = useState(0);
  const [folderReload, setFolderReload] = useState(0);
  const [sync, setSync] = useState<Record<string, SyncProgress>>({});

  useEffect(
    () =>
      client.events.on('sync.progress', (p) => {
        setSync((s) => ({ ...s, [p.accountId]: p }));
        // A finished sync may have brought new mail: refresh the list and the counts.
        if (p.state === 'idle') {
          setReloadKey((k) => k + 1);
          setFolderReload((k) => k + 1);
        }
      }),
    [client],
  );

  const onOpened = useCallback((m: OpenedMessage) => {
    // Encrypted mail hides its subject outside (RFC 9788 "[...]"): once opened, the list shows the
    // protected headers the reading pane shows.
    const from = m.chain.displayedFrom;
    setOverrides((o) =>
      new Map(o).set(refKey(m.ref), {
        trust: m.chain.state,
        external: m.chain.external,
        unread: false,
        subject: m.headers.subject,
        ...(from !== undefined ? { from: { name: from.name, email: from.address } } : {}),
      }),
    );
  }, []);

  const openRow = useCallback(
    (row: MessageSummary) => {
      setOpenRef(row.ref);
      if (row.unread) void client.messages.setFlags(row.ref, { seen: true }).catch(() => undefined);
    },
    [client],
  );

  const chooseFolder = (f: FolderRef): void => {
    setFolder(f);
    setSearch('');
    setSearchText('');
    setOpenRef(null);
  };

  const syncLine = folder !== null ? sync[folder.accountId] : undefined;

  return (
    <main className="mail-view" aria-labelledby="mail-heading" hidden={hidden}>
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
        {list.map((a) => (
          <AccountFolders
            key={a.id}
            client={client}
            account={a}
            showName={list.length > 1}
            selected={folder}
            reload={folderReload}
            onChoose={chooseFolder}
          />
        ))}
      </nav>
      <section className="pane list-pane" aria-labelledby="list-heading">
        <div className="list-toolbar">
          <h2 id="list-heading">{t('list.heading')}</h2>
          {syncLine !== undefined && <SyncLine progress={syncLine} />}
        </div>
        {folder !== null && (
          <form
            className="search-box"
            role="search"
            onSubmit={(e) => {
              e.preventDefault();
              setSearch(searchText.trim());
            }}
          >
            <label htmlFor="mail-search" className="visually-hidden">
              {t('mail.search.label')}
            </label>
            <input
              id="mail-search"
              type="search"
              value={searchText}
              placeholder={t('mail.search.placeholder')}
              onChange={(e) => {
                setSearchText(e.target.value);
                if (e.target.value === '') setSearch('');
              }}
            />
          </form>
        )}
        {folder === null ? (
          <p className="empty-state">{t('list.empty')}</p>
        ) : (
          <MessageList
            client={client}
            folder={folder}
            search={search}
            reloadKey={reloadKey}
            openKey={openRef === null ? null : refKey(openRef)}
            overrides={overrides}
            onOpen={openRow}
          />
        )}
      </section>
      <ReadingPane client={client} messageRef={openRef} onOpened={onOpened} onCompose={onCompose} />
    </main>
  );
}

function AccountFolders({
  client,
  account,
  showName,
  selected,
  reload,
  onChoose,
}: {
  client: SsmaxClient;
  account: Account;
  showName: boolean;
  selected: FolderRef | null;
  reload: number;
  onChoose: (f: FolderRef) => void;
}): ReactNode {
  const { t, error } = useI18n();
  // A finished sync (`reload` changes) re-reads the counts.
  const folders = useCall(
    useCallback(() => {
      void reload;
      return client.folders.list(account.id);
    }, [client, account.id, reload]),
  );
  const sorted = useMemo(
    () =>
      folders.status === 'ok'
        ? [...folders.value].sort(
            (a, b) => ROLE_ORDER.indexOf(a.role) - ROLE_ORDER.indexOf(b.role) || a.name.localeCompare(b.name),
          )
        : [],
    [folders],
  );
  // The inbox is where a session starts.
  useEffect(() => {
    if (selected !== null) return;
    const inbox = sorted.find((f) => f.role === 'inbox') ?? sorted[0];
    if (inbox !== undefined) onChoose({ accountId: inbox.accountId, path: inbox.path });
  }, [selected, sorted, onChoose]);

  return (
    <div className="account-folders">
      {showName && <p className="account-name">{account.email}</p>}
      {folders.status === 'error' && <p role="alert">{error(folders.code)}</p>}
      <ul className="folder-list" data-testid="folder-list">
        {sorted.map((f) => {
          const isSelected = selected?.accountId === f.accountId && selected.path === f.path;
          return (
            <li key={f.path}>
              <button
                type="button"
                className="folder-button"
                aria-current={isSelected ? 'true' : undefined}
                onClick={() => onChoose({ accountId: f.accountId, path: f.path })}
                data-testid="folder"
                data-path={f.path}
              >
                <span className="folder-name">{folderName(t, f)}</span>
                {f.unread > 0 && (
                  <span className="folder-unread">
                    {f.unread}
                    <span className="visually-hidden"> {t('mail.folder.unread')}</span>
                  </span>
                )}
              </button>
            </li>
          );
        })}
      </ul>
    </div>
  );
}

function folderName(t: (k: MessageKey) => string, f: Folder): string {
  return f.role === 'other' ? f.name : t(`mail.folder.${f.role}`);
}

function SyncLine({ progress }: { progress: SyncProgress }): ReactNode {
  const { t } = useI18n();
  const label =
    progress.state === 'syncing'
      ? t('mail.sync.syncing')
      : progress.state === 'offline'
        ? t('mail.sync.offline')
        : progress.state === 'error'
          ? t('mail.sync.error')
          : t('mail.sync.idle');
  return (
    <div className={`sync-line sync-${progress.state}`} role="status" data-testid="sync-status">
      <span>{label}</span>
      {progress.state === 'syncing' && progress.total > 0 && (
        <>
          <progress max={progress.total} value={progress.done} aria-label={t('mail.sync.syncing')} />
          <span>
            {progress.done}/{progress.total}
          </span>
        </>
      )}
    </div>
  );
}
