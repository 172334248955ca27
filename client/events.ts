import type { SsmaxEventName, SsmaxEventSource, SsmaxEvents, Unsubscribe } from '../api';

/**
 * The service host's event hub: services emit, transports (IPC, bridge) subscribe and forward.
 * A listener that throws must not stop delivery to the others (one broken window must not
 * silence the rest), so failures go to `onListenerError`.
 */
export class EventHub implements SsmaxEventSource {
  private readonly listeners = new Map<SsmaxEventName, Set<(payload: never) => void>>();

  constructor(
    private readonly onListenerError: (event: SsmaxEventName, err: unknown) => void = () => undefined,
  ) {}

  on<E extends SsmaxEventName>(event: E, listener: (payload: SsmaxEvents[E]) => void): Unsubscribe {
    let set = this.listeners.get(event);
    if (set === undefined) this.listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => void set.delete(listener);
  }

  emit<E extends SsmaxEventName>(event: E, payload: SsmaxEvents[E]): void {
    for (const listener of this.listeners.get(event) ?? []) {
      try {
        (listener as (p: SsmaxEvents[E]) => void)(payload);
      } catch (err) {
        this.onListenerError(event, err);
      }
    }
  }

  listenerCount(event: SsmaxEventName): number {
    return this.listeners.get(event)?.size ?? 0;
  }
}
