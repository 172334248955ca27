import type {
  MethodPath,
  SsmaxApi,
  SsmaxClient,
  SsmaxEventName,
  SsmaxEvents,
  SsmaxEventSource,
  Unsubscribe,
} from './api';
import { METHOD_PATHS, isEventName } from './channels';
import type { CallOutcome } from './dispatch';
import { ApiError } from './errors';

/**
 * Builds an `SsmaxApi` whose every method sends `(method, args)` over a transport and unwraps the
 * `CallOutcome` — the VS Code ProxyChannel idea: the interface is implemented once by the service
 * host, and the calling side is generated from the channel table, not written by hand per method.
 */
export type CallTransport = (method: MethodPath, args: unknown[]) => Promise<CallOutcome>;

export function createApiProxy(transport: CallTransport): SsmaxApi {
  return buildNamespaces(async (path, args) => unwrap(await transport(path, args))) as unknown as SsmaxApi;
}

/**
 * The same methods, answering the raw `CallOutcome` instead of throwing. This is what the Electron
 * preload exposes: an error thrown across `contextBridge` arrives as a bare Error (its class and
 * `code` are lost), while a plain outcome value crosses intact and is unwrapped in the renderer.
 */
export type OutcomeApi = {
  readonly [N in keyof SsmaxApi]: {
    readonly [M in keyof SsmaxApi[N]]: SsmaxApi[N][M] extends (...args: infer A) => Promise<unknown>
      ? (...args: A) => Promise<CallOutcome>
      : never;
  };
};

export function createOutcomeProxy(transport: CallTransport): OutcomeApi {
  return buildNamespaces(transport) as unknown as OutcomeApi;
}

/** An `SsmaxApi` over an `OutcomeApi` (the renderer's side of the preload). */
export function apiFromOutcomes(outcomes: OutcomeApi): SsmaxApi {
  return createApiProxy((path, args) => {
    const [ns, name] = path.split('.') as [string, string];
    const fn = (
      outcomes as unknown as Record<string, Record<string, (...a: unknown[]) => Promise<CallOutcome>>>
    )[ns]?.[name];
    if (fn === undefined)
      throw new ApiError('UnknownMethod', `the preload does not expose ${path}`, { method: path });
    return fn(...args);
  });
}

function buildNamespaces<R>(
  call: (path: MethodPath, args: unknown[]) => Promise<R>,
): Record<string, Record<string, (...args: unknown[]) => Promise<R>>> {
  const api: Record<string, Record<string, (...args: unknown[]) => Promise<R>>> = {};
  for (const path of METHOD_PATHS) {
    const [ns, name] = path.split('.') as [string, string];
    const namespace = (api[ns] ??= {});
    namespace[name] = (...args: unknown[]) => call(path, args);
  }
  return api;
}

export function unwrap(outcome: CallOutcome): unknown {
  if (outcome.ok) return outcome.value;
  throw ApiError.fromValue(outcome.error);
}

export type SubscribeTransport = (event: SsmaxEventName, listener: (payload: unknown) => void) => Unsubscribe;

/** Event subscription limited to the events of the channel table. */
export function createEventSource(subscribe: SubscribeTransport): SsmaxEventSource {
  return {
    on<E extends SsmaxEventName>(event: E, listener: (payload: SsmaxEvents[E]) => void): Unsubscribe {
      if (!isEventName(event)) throw new ApiError('UnknownMethod', `unknown event: ${String(event)}`);
      return subscribe(event, listener as (payload: unknown) => void);
    },
  };
}

export function createClient(call: CallTransport, subscribe: SubscribeTransport): SsmaxClient {
  return { ...createApiProxy(call), events: createEventSource(subscribe) };
}

/** What the Electron preload puts on `window.ssmax`: one function per channel, plus `on` for events. */
export interface PreloadBridge {
  readonly methods: OutcomeApi;
  on(event: SsmaxEventName, listener: (payload: unknown) => void): Unsubscribe;
}

export function clientFromPreload(bridge: PreloadBridge): SsmaxClient {
  return {
    ...apiFromOutcomes(bridge.methods),
    events: createEventSource((event, listener) => bridge.on(event, listener)),
  };
}
