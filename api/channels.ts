import { z } from 'zod';
import type { MethodArgs, MethodPath, SsmaxEventName } from './api';
import {
  accountIdSchema,
  attachmentRefSchema,
  contactPrefixSchema,
  draftSchema,
  enrollmentIdSchema,
  enrollmentStartSchema,
  messagePageQuerySchema,
  messageRefSchema,
  newAccountSchema,
  openOptionsSchema,
  pinRequestIdSchema,
  pinSchema,
  reportReasonSchema,
  settingsPatchSchema,
} from './model';

/**
 * THE channel table: the single source of every method name, its argument schema and whether this
 * build implements it. The Electron preload, the main process's `ipcMain.handle` registrations and
 * the loopback bridge all derive their names from here (test/electron/channels.test.ts proves
 * there are no handwritten channel strings elsewhere), so a method cannot be reachable through one
 * transport and not the other, nor skip validation.
 *
 * `satisfies` ties each schema to the interface: a schema whose output is not the method's
 * parameter tuple does not compile.
 */
export interface MethodSpec<A extends unknown[] = unknown[]> {
  /** Validates the whole argument list (a tuple: extra arguments are refused). */
  readonly args: z.ZodType<A>;
  /** False: declared for issues 7–8 but not implemented yet; answers `NotAvailableYet`. */
  readonly available: boolean;
}

const none = z.tuple([]);
const email = z.string().min(3).max(320);
const flags = z.object({ seen: z.boolean().optional(), flagged: z.boolean().optional() }).strict();

const table = {
  'app.info': { args: none, available: true },
  'settings.get': { args: none, available: true },
  'settings.update': { args: z.tuple([settingsPatchSchema]), available: true },
  'accounts.list': { args: none, available: true },
  'accounts.add': { args: z.tuple([newAccountSchema]), available: true },
  'accounts.remove': { args: z.tuple([accountIdSchema]), available: true },
  'accounts.discover': { args: z.tuple([email]), available: true },
  'accounts.confirm': { args: z.tuple([accountIdSchema, z.string().min(1).max(1000).optional()]), available: true },
  'folders.list': { args: z.tuple([accountIdSchema]), available: true },
  'messages.page': { args: z.tuple([messagePageQuerySchema]), available: true },
  'messages.open': { args: z.tuple([messageRefSchema, openOptionsSchema]), available: true },
  'messages.setFlags': { args: z.tuple([messageRefSchema, flags]), available: true },
  'messages.saveAttachment': { args: z.tuple([attachmentRefSchema]), available: true },
  'compose.checkPpap': { args: z.tuple([draftSchema]), available: true },
  'compose.send': { args: z.tuple([draftSchema]), available: true },
  'outbox.list': { args: none, available: true },
  'outbox.retry': { args: z.tuple([z.string().uuid()]), available: true },
  'contacts.suggest': { args: z.tuple([contactPrefixSchema]), available: true },
  'card.status': { args: none, available: true },
  'pin.answer': { args: z.tuple([pinRequestIdSchema, pinSchema]), available: true },
  'pin.cancel': { args: z.tuple([pinRequestIdSchema]), available: true },
  'enrollment.start': { args: z.tuple([enrollmentStartSchema]), available: true },
  'enrollment.cancel': { args: z.tuple([enrollmentIdSchema]), available: true },
  'org.status': { args: none, available: true },
  'org.refresh': { args: none, available: true },
  'report.malicious': { args: z.tuple([messageRefSchema, reportReasonSchema]), available: true },
} as const satisfies { readonly [P in MethodPath]: MethodSpec<MethodArgs<P>> };

export const METHODS: { readonly [P in MethodPath]: MethodSpec } = Object.freeze(table);

export const METHOD_PATHS: readonly MethodPath[] = Object.freeze(Object.keys(table) as MethodPath[]);

export const AVAILABLE_METHODS: readonly MethodPath[] = Object.freeze(
  METHOD_PATHS.filter((p) => METHODS[p].available),
);

export function isMethodPath(value: unknown): value is MethodPath {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(METHODS, value);
}

/** Every event, in one record so that forgetting one in `SsmaxEvents` does not compile. */
const events = {
  'settings.changed': true,
  'app.notice': true,
  'card.changed': true,
  'pin.requested': true,
  'pin.closed': true,
  'sync.progress': true,
  'outbox.changed': true,
  'enrollment.progress': true,
  'org.changed': true,
  'org.refreshFailed': true,
} as const satisfies Record<SsmaxEventName, true>;

export const EVENT_NAMES: readonly SsmaxEventName[] = Object.freeze(Object.keys(events) as SsmaxEventName[]);

export function isEventName(value: unknown): value is SsmaxEventName {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(events, value);
}

// ---------------------------------------------------------------- IPC channel names

const IPC_PREFIX = 'ssmax';

/** The Electron IPC channel of a method: one `ipcMain.handle` per method. */
export function ipcChannel(method: MethodPath): string {
  return `${IPC_PREFIX}:call:${method}`;
}

/** The Electron IPC channel an event is sent on. */
export function ipcEventChannel(event: SsmaxEventName): string {
  return `${IPC_PREFIX}:event:${event}`;
}

/** The frozen allow-lists of IPC channels: nothing outside these is handled or exposed. */
export const IPC_METHOD_CHANNELS: readonly string[] = Object.freeze(METHOD_PATHS.map(ipcChannel));
export const IPC_EVENT_CHANNELS: readonly string[] = Object.freeze(EVENT_NAMES.map(ipcEventChannel));

/** The name under which the preload exposes the client in the renderer (`window.ssmax`). */
export const EXPOSED_GLOBAL = 'ssmax';
