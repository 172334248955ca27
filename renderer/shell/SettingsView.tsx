import { useState, type ReactNode } from 'react';
import {
  ApiError,
  LANGUAGES,
  type AppInfo,
  type ApiErrorCode,
  type Language,
  type SsmaxClient,
} from '../../api';
import { OrgSettings } from '../first-launch/OrgSettings';
import { useI18n } from '../i18n/i18n';
import { LANGUAGE_NAMES } from '../i18n/messages';

/** The settings screen. A change is saved at once by the main process; the UI follows `settings.changed`. */
export function SettingsView({ client, info }: { client: SsmaxClient; info: AppInfo }): ReactNode {
  const { t, error, runtime, language } = useI18n();
  const [saved, setSaved] = useState(false);
  const [failure, setFailure] = useState<ApiErrorCode | null>(null);
  // The choice shows at once; the language itself switches when the main process has saved it
  // (settings.changed), and the radio falls back to the saved value if saving failed.
  const [pending, setPending] = useState<Language | null>(null);

  const choose = (next: Language): void => {
    setSaved(false);
    setFailure(null);
    setPending(next);
    client.settings.update({ language: next }).then(
      () => {
        setPending(null);
        setSaved(true);
      },
      (err: unknown) => {
        setPending(null);
        setFailure(err instanceof ApiError ? err.code : 'Internal');
      },
    );
  };
  const shown = pending ?? language;

  return (
    <main className="settings-view">
      <h1>{t('settings.heading')}</h1>
      <fieldset className="language-switch">
        <legend>{t('settings.language.legend')}</legend>
        {LANGUAGES.map((lang) => (
          <label key={lang} lang={lang}>
            <input
              type="radio"
              name="language"
              value={lang}
              checked={shown === lang}
              onChange={() => choose(lang)}
            />
            {LANGUAGE_NAMES[lang]}
          </label>
        ))}
      </fieldset>
      <p role="status" className="save-status">
        {saved ? t('settings.language.saved') : ''}
        {failure !== null ? error(failure) : ''}
      </p>
      <OrgSettings client={client} />
      <section aria-labelledby="about-heading">
        <h2 id="about-heading">{t('settings.about.heading')}</h2>
        <dl className="about">
          <dt>{t('settings.about.version')}</dt>
          <dd data-testid="app-version">{info.version}</dd>
          <dt>{t('settings.about.runtime')}</dt>
          <dd>{runtime(info.runtime)}</dd>
        </dl>
      </section>
    </main>
  );
}
