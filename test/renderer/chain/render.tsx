import { act, type ReactNode } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import type { Language } from '../../../api';
import { I18nProvider } from '../../../renderer/i18n/i18n';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

/** Renders into jsdom with react-dom itself (no testing library): the DOM the user would get. */
export function render(node: ReactNode, language: Language = 'en'): { container: HTMLElement; unmount: () => void } {
  const container = document.createElement('div');
  document.body.appendChild(container);
  let root: Root | undefined;
  act(() => {
    root = createRoot(container);
    root.render(<I18nProvider language={language}>{node}</I18nProvider>);
  });
  return {
    container,
    unmount: () => {
      act(() => root?.unmount());
      container.remove();
    },
  };
}
