import { useEffect, useState } from 'react';
import { ApiError, type ApiErrorCode } from '../../api';

export type CallState<T> =
  { status: 'loading' } | { status: 'ok'; value: T } | { status: 'error'; code: ApiErrorCode };

/** Runs one API call when the component mounts (or `call` changes) and tracks its outcome. */
export function useCall<T>(call: () => Promise<T>): CallState<T> {
  const [state, setState] = useState<CallState<T>>({ status: 'loading' });
  useEffect(() => {
    let live = true;
    setState({ status: 'loading' });
    call().then(
      (value) => live && setState({ status: 'ok', value }),
      (err: unknown) =>
        live && setState({ status: 'error', code: err instanceof ApiError ? err.code : 'Internal' }),
    );
    return () => {
      live = false;
    };
  }, [call]);
  return state;
}
