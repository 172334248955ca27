import { act, type ReactNode } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { ApiError, type SsmaxClient, type SsmaxEventName, type SsmaxEvents } from '../../api';
import { I18nProvider } from '../../renderer/i18n/i18n';

type Listener = (payload: never) => void;

/**
 * A fake `SsmaxClient` for component tests: typed against the real interface, each method given by
 * the test; any other method answers NotAvailableYet (as the real API does for unbuilt methods).
 * `emit` pushes an event as the main process would.
 */
export function fakeClient(methods: { [N in keyof SsmaxClient]?: Partial<SsmaxClient[N]> }): SsmaxClient & {
  emit<E extends SsmaxEventName>(event: E, payload: SsmaxEvents[E]): void;
  calls: { method: string; args: unknown[] }[];
} {
  const listeners = new Map<string, Set<Listener>>();
  const calls: { method: string; args: unknown[] }[] = [];
  const namespace = (ns: string): unknown =>
    new Proxy(
      {},
      {
        get: (_t, name: string) => (...args: unknown[]) => {
          calls.push({ method: `${ns}.${name}`, args });
          const impl = (methods as Record<string, Record<string, (...a: unknown[]) => Promise<unknown>> | undefined>)[ns]?.[name];
          return impl ? impl(...args) : Promise.reject(new ApiError('NotAvailableYet', `${ns}.${name} not in this fake`));
        },
      },
    );
  const client = new Proxy(
    {},
    {
      get: (_t, ns: string) => {
        if (ns === 'calls') return calls;
        if (ns === 'events')
          return {
            on: (event: string, listener: Listener) => {
              const set = listeners.get(event) ?? new Set();
              set.add(listener);
              listeners.set(event, set);
              return () => set.delete(listener);
            },
          };
        if (ns === 'emit')
          return (event: string, payload: unknown) =>
            act(() => listeners.get(event)?.forEach((l) => (l as (p: unknown) => void)(payload)));
        if (ns === 'then') return undefined;
        return namespace(ns);
      },
    },
  );
  return client as never;
}

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

export interface Rendered {
  container: HTMLElement;
  root: Root;
  unmount(): void;
}

export async function render(node: ReactNode, language: 'en' | 'ja' = 'en'): Promise<Rendered> {
  const container = document.createElement('div');
  document.body.appendChild(container);
  const root = createRoot(container);
  await act(async () => root.render(<I18nProvider language={language}>{node}</I18nProvider>));
  return {
    container,
    root,
    unmount: () => {
      act(() => root.unmount());
      container.remove();
    },
  };
}

/** Lets pending promises and their state updates settle. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await act(async () => new Promise((r) => setTimeout(r, 0)));
}

export async function click(el: Element | null | undefined): Promise<void> {
  if (!(el instanceof HTMLElement)) throw new Error('nothing to click');
  await act(async () => el.click());
  await settle();
}

/** Types into a controlled input (React listens to the native value setter + input event). */
export async function type(el: Element | null | undefined, value: string): Promise<void> {
  if (!(el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement)) throw new Error('not an input');
  const proto = el instanceof HTMLInputElement ? HTMLInputElement.prototype : HTMLTextAreaElement.prototype;
  const setter = Object.getOwnPropertyDescriptor(proto, 'value')?.set;
  await act(async () => {
    setter?.call(el, value);
    el.dispatchEvent(new Event('input', { bubbles: true }));
  });
}

export function byLabel(container: HTMLElement, label: string): HTMLElement | null {
  const l = [...container.querySelectorAll('label')].find((x) => x.textContent?.trim() === label);
  const id = l?.getAttribute('for');
  return id ? container.querySelector(`[id="${id}"]`) : null;
}

export function button(container: HTMLElement, text: string): HTMLButtonElement | undefined {
  return [...container.querySelectorAll('button')].find((b) => b.textContent?.trim() === text);
}
