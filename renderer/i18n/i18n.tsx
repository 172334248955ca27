import { createContext, useContext, useMemo, type ReactNode } from 'react';
import type { Language } from '../../api';
import { dictionary, type Dictionary } from './messages';

const I18nContext = createContext<(Dictionary & { language: Language }) | null>(null);

/** Provides the dictionary of the current language; the language itself comes from the settings. */
export function I18nProvider({ language, children }: { language: Language; children: ReactNode }): ReactNode {
  const value = useMemo(() => ({ ...dictionary(language), language }), [language]);
  return <I18nContext.Provider value={value}>{children}</I18nContext.Provider>;
}

export function useI18n(): Dictionary & { language: Language } {
  const value = useContext(I18nContext);
  if (value === null) throw new Error('useI18n outside I18nProvider');
  return value;
}
