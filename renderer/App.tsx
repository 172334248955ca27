import { useEffect, useState, type ReactNode } from 'react';
import { ApiError, type ApiErrorCode, type AppInfo, type Language, type Settings } from '../api';
import { I18nProvider, useI18n } from './i18n/i18n';
import type { Runtime } from './runtime/runtime';
import { MissingToken, startRuntime } from './runtime/runtime';
import { Header, type View } from './shell/Header';
import { PinDialog } from './card/PinDialog';
import { MailView } from './mail/MailView';
import { SettingsView } from './shell/SettingsView';
import type { ComposeStart } from './compose/Compose';
import { composeStartFrom } from './compose/compose-start';
import { ComposeView } from './compose/ComposeView';
import { Enrollment } from './enrollment/Enrollment';
import { FirstLaunchGate } from './first-launch/FirstLaunchGate';
import type { MessageKey } from './i18n/messages';

const VIEW_TITLES: Record<View, MessageKey> = {
  mail: 'nav.mail',
  compose: 'compose.heading.new',
  settings: 'nav.settings',
  enrollment: 'enrollment.nav',
};

type Boot =
  | { phase: 'connecting' }
  | { phase: 'failed'; code: ApiErrorCode; noToken: boolean }
  | { phase: 'ready'; runtime: Runtime; settings: Settings; info: AppInfo };

/** Before the settings arrive, the browser's own language decides which words to show. */
function guessLanguage(): Language {
  return navigator.language.toLowerCase().startsWith('ja') ? 'ja' : 'en';
}

export function App(): ReactNode {
  const [boot, setBoot] = useState<Boot>({ phase: 'connecting' });
  const [lost, setLost] = useState(false);

  useEffect(() => {
    let live = true;
    let started: Runtime | null = null;
    (async () => {
      const runtime = await startRuntime(window);
      started = runtime;
      // Unmounted while connecting (React's StrictMode does this once in development): let go.
      if (!live) return runtime.close();
      const [settings, info] = await Promise.all([runtime.client.settings.get(), runtime.client.app.info()]);
      if (!live) return;
      setBoot({ phase: 'ready', runtime, settings, info });
      void runtime.lost.then(() => live && setLost(true));
    })().catch((err: unknown) => {
      if (!live) return;
      const code = err instanceof ApiError ? err.code : 'Internal';
      setBoot({ phase: 'failed', code, noToken: err instanceof MissingToken });
    });
    return () => {
      live = false;
      started?.close();
    };
  }, []);

  // The language follows the persisted settings, whoever changed them (this window or another).
  const runtime = boot.phase === 'ready' ? boot.runtime : null;
  useEffect(() => {
    if (runtime === null) return;
    return runtime.client.events.on('settings.changed', (settings) =>
      setBoot((b) => (b.phase === 'ready' ? { ...b, settings } : b)),
    );
  }, [runtime]);

  const language = boot.phase === 'ready' ? boot.settings.language : guessLanguage();
  useEffect(() => {
    document.documentElement.lang = language;
  }, [language]);

  return (
    <I18nProvider language={language}>
      {boot.phase === 'connecting' && <Connecting />}
      {boot.phase === 'failed' && <Failed code={boot.code} noToken={boot.noToken} />}
      {boot.phase === 'ready' && <Shell runtime={boot.runtime} info={boot.info} lost={lost} />}
    </I18nProvider>
  );
}

function Shell({ runtime, info, lost }: { runtime: Runtime; info: AppInfo; lost: boolean }): ReactNode {
  const { t, notice } = useI18n();
  const [view, setView] = useState<View>('mail');
  const [composeStart, setComposeStart] = useState<ComposeStart | undefined>(undefined);
  // Bumped when first launch finished, so the header and views read the new account.
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    document.title = `${t('app.name')} — ${t(VIEW_TITLES[view])}`;
  }, [t, view]);
  const openView = (v: View): void => {
    if (v === 'compose') setComposeStart(undefined);
    setView(v);
  };
  return (
    <div className="app">
      <Header key={generation} client={runtime.client} view={view} onView={openView} />
      {lost && (
        <p role="alert" className="banner banner-error">
          {t('connection.lost')}
        </p>
      )}
      {info.notices.map((n) => (
        <p role="alert" className="banner banner-warning" key={n.code}>
          {notice(n.code)}
        </p>
      ))}
      <FirstLaunchGate client={runtime.client} onDone={() => setGeneration((g) => g + 1)}>
        {/* Kept mounted under compose: back from a reply or forward, the open message and the subjects already decrypted are still there. */}
        {(view === 'mail' || view === 'compose') && (
          <MailView
            key={generation}
            client={runtime.client}
            hidden={view !== 'mail'}
            onCompose={(request) => {
              setComposeStart(composeStartFrom(request));
              setView('compose');
            }}
          />
        )}
        {view === 'compose' && <ComposeView client={runtime.client} start={composeStart} onClose={() => setView('mail')} />}
        {view === 'settings' && <SettingsView client={runtime.client} info={info} />}
        {view === 'enrollment' && <Enrollment client={runtime.client} />}
      </FirstLaunchGate>
      <PinDialog client={runtime.client} />
    </div>
  );
}

function Connecting(): ReactNode {
  const { t } = useI18n();
  return (
    <main className="centered">
      <p role="status">{t('loading')}</p>
    </main>
  );
}

function Failed({ code, noToken }: { code: ApiErrorCode; noToken: boolean }): ReactNode {
  const { t, error } = useI18n();
  return (
    <main className="centered">
      <h1>{t('connection.failed.title')}</h1>
      <p role="alert">{noToken ? t('connection.noToken') : error(code)}</p>
    </main>
  );
}
