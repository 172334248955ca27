import type { MethodPath, SsmaxApi } from './api';
import { METHODS, isMethodPath } from './channels';
import { ApiError, NotAvailableYet, type ApiErrorValue } from './errors';

/**
 * The outcome of one call as it crosses a transport: a value or a typed error value. Both the
 * Electron main process and the bridge answer with exactly this, produced by `dispatch`, so the
 * two transports cannot drift apart in validation or error shape.
 */
export type CallOutcome = { ok: true; value: unknown } | { ok: false; error: ApiErrorValue };

export interface DispatchOptions {
  /** Called with unexpected (non-ApiError) failures, so the host can log the stack. */
  onInternalError?: (method: string, err: unknown) => void;
}

/**
 * Runs one untrusted call against the service host: checks the method is in the channel table,
 * validates the arguments with its schema, refuses methods this build does not implement, and turns
 * every failure into an `ApiErrorValue`.
 */
export async function dispatch(
  api: SsmaxApi,
  method: unknown,
  args: unknown,
  opts: DispatchOptions = {},
): Promise<CallOutcome> {
  if (!isMethodPath(method)) {
    const name = typeof method === 'string' ? method.slice(0, 100) : typeof method;
    return { ok: false, error: new ApiError('UnknownMethod', `unknown method: ${name}`).toValue() };
  }
  const spec = METHODS[method];
  const parsed = spec.args.safeParse(args);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({
      path: i.path.map(String).join('.') || '(arguments)',
      message: i.message,
    }));
    const summary = issues.map((i) => `${i.path}: ${i.message}`).join('; ');
    return {
      ok: false,
      error: new ApiError('InvalidArguments', `invalid arguments for ${method}: ${summary}`, {
        method,
        issues,
      }).toValue(),
    };
  }
  if (!spec.available) return { ok: false, error: new NotAvailableYet(method).toValue() };
  try {
    const value = await methodOf(api, method)(...parsed.data);
    return { ok: true, value };
  } catch (err) {
    if (err instanceof ApiError) return { ok: false, error: err.toValue() };
    opts.onInternalError?.(method, err);
    const message = err instanceof Error ? err.message : String(err);
    return {
      ok: false,
      error: new ApiError('Internal', `${method} failed: ${message}`, { method }).toValue(),
    };
  }
}

/** The bound implementation of `namespace.method` on a service host. */
export function methodOf(api: SsmaxApi, path: MethodPath): (...args: unknown[]) => Promise<unknown> {
  const [ns, name] = path.split('.') as [keyof SsmaxApi, string];
  const namespace = api[ns] as unknown as Record<string, unknown>;
  const fn = namespace[name];
  if (typeof fn !== 'function')
    throw new ApiError('Internal', `the service host does not implement ${path}`, { method: path });
  return (fn as (...a: unknown[]) => Promise<unknown>).bind(namespace);
}
