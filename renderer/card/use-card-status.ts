import { useEffect, useState } from 'react';
import { ApiError, type CardStatus, type SsmaxClient } from '../../api';
import type { CallState } from '../shell/use-call';

/** The card's status: asked once, then following `card.changed` (insert, remove, PIN state). */
export function useCardStatus(client: SsmaxClient): CallState<CardStatus> {
  const [state, setState] = useState<CallState<CardStatus>>({ status: 'loading' });
  useEffect(() => {
    let live = true;
    let pushed = false;
    const off = client.events.on('card.changed', (value) => {
      pushed = true;
      if (live) setState({ status: 'ok', value });
    });
    client.card.status().then(
      // An event that arrived meanwhile is newer than this answer.
      (value) => live && !pushed && setState({ status: 'ok', value }),
      (err: unknown) =>
        live && !pushed && setState({ status: 'error', code: err instanceof ApiError ? err.code : 'Internal' }),
    );
    return () => {
      live = false;
      off();
    };
  }, [client]);
  return state;
}
