import { useCallback, useEffect, useLayoutEffect, useRef, useState, type KeyboardEvent, type ReactNode } from 'react';
import { ApiError, type ApiErrorCode, type FolderRef, type MessageSummary, type SsmaxClient } from '../../api';
import { TrustBadge } from '../chain/TrustBadge';
import { useI18n } from '../i18n/i18n';
import { pagesFor, scrollToReveal, windowRange } from './windowing';

export const ROW_HEIGHT = 56;
const PAGE_SIZE = 100;
const OVERSCAN = 8;

export function refKey(ref: { accountId: string; path: string; uid: number }): string {
  return `${ref.accountId}\u0000${ref.path}\u0000${ref.uid}`;
}

interface Pages {
  total: number | null;
  rows: Map<number, MessageSummary[]>;
  cursors: Map<number, string | undefined>;
  error: ApiErrorCode | null;
}

const emptyPages = (): Pages => ({ total: null, rows: new Map(), cursors: new Map(), error: null });

/**
 * The message list of one folder: virtualized (only the rows in view exist in the DOM), filled
 * page by page from `messages.page` — by the previous page's keyset cursor when it is known,
 * else by offset (a jump far down) — and driven by the keyboard (↑/↓, j/k, Home/End, PgUp/PgDn;
 * Enter opens). `overrides` carries what opening a message taught (its trust state, read).
 */
export function MessageList({
  client,
  folder,
  search,
  reloadKey,
  openKey,
  overrides,
  onOpen,
}: {
  client: SsmaxClient;
  folder: FolderRef;
  search: string;
  reloadKey: number;
  openKey: string | null;
  overrides: ReadonlyMap<string, Partial<MessageSummary>>;
  onOpen: (row: MessageSummary) => void;
}): ReactNode {
  const { t, error } = useI18n();
  const [pages, setPages] = useState<Pages>(emptyPages);
  const inFlight = useRef(new Set<number>());
  const generation = useRef(0);
  const scroller = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(600);
  const [active, setActive] = useState(0);

  // A new folder, search or reload starts a fresh list (older answers are dropped by generation).
  useEffect(() => {
    generation.current += 1;
    inFlight.current.clear();
    setPages(emptyPages());
    setActive(0);
    if (scroller.current !== null) scroller.current.scrollTop = 0;
    setScrollTop(0);
  }, [folder.accountId, folder.path, search, reloadKey]);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (el === null) return;
    const measure = (): void => setViewport(el.clientHeight || 600);
    measure();
    if (typeof ResizeObserver === 'undefined') return;
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  const count = pages.total ?? 0;
  const range = windowRange({ count, rowHeight: ROW_HEIGHT, scrollTop, viewportHeight: viewport, overscan: OVERSCAN });

  const load = useCallback(
    (page: number) => {
      if (inFlight.current.has(page)) return;
      inFlight.current.add(page);
      const gen = generation.current;
      const cursor = search === '' && page > 0 ? pages.cursors.get(page - 1) : undefined;
      client.messages
        .page({
          folder: { accountId: folder.accountId, path: folder.path },
          offset: page * PAGE_SIZE,
          limit: PAGE_SIZE,
          ...(search !== '' ? { search } : {}),
          ...(cursor !== undefined ? { cursor } : {}),
        })
        .then(
          (res) => {
            if (gen !== generation.current) return;
            setPages((p) => {
              const rows = new Map(p.rows).set(page, res.rows);
              const cursors = new Map(p.cursors).set(page, res.nextCursor);
              return { total: res.total, rows, cursors, error: null };
            });
          },
          (err: unknown) => {
            if (gen !== generation.current) return;
            inFlight.current.delete(page);
            setPages((p) => ({ ...p, error: err instanceof ApiError ? err.code : 'Internal' }));
          },
        );
    },
    [client, folder.accountId, folder.path, search, pages.cursors],
  );

  // The first page tells the total; then whatever pages the window covers.
  useEffect(() => {
    if (pages.total === null) {
      if (pages.error === null) load(0);
      return;
    }
    for (const p of pagesFor(range.start, range.end, PAGE_SIZE)) if (!pages.rows.has(p)) load(p);
  }, [pages, range.start, range.end, load]);

  const rowAt = (i: number): MessageSummary | undefined => {
    const row = pages.rows.get(Math.floor(i / PAGE_SIZE))?.[i % PAGE_SIZE];
    if (row === undefined) return undefined;
    const o = overrides.get(refKey(row.ref));
    return o === undefined ? row : { ...row, ...o };
  };

  const moveTo = (index: number): void => {
    if (count === 0) return;
    const next = Math.min(count - 1, Math.max(0, index));
    setActive(next);
    const el = scroller.current;
    if (el !== null) {
      const top = scrollToReveal(next, ROW_HEIGHT, el.scrollTop, el.clientHeight || viewport);
      if (top !== el.scrollTop) {
        el.scrollTop = top;
        setScrollTop(top);
      }
    }
  };

  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>): void => {
    const pageRows = Math.max(1, Math.floor(viewport / ROW_HEIGHT) - 1);
    const keys: Record<string, () => void> = {
      ArrowDown: () => moveTo(active + 1),
      j: () => moveTo(active + 1),
      ArrowUp: () => moveTo(active - 1),
      k: () => moveTo(active - 1),
      Home: () => moveTo(0),
      End: () => moveTo(count - 1),
      PageDown: () => moveTo(active + pageRows),
      PageUp: () => moveTo(active - pageRows),
      Enter: () => {
        const row = rowAt(active);
        if (row !== undefined) onOpen(row);
      },
    };
    const action = keys[e.key];
    if (action === undefined || e.altKey || e.ctrlKey || e.metaKey) return;
    e.preventDefault();
    action();
  };

  const rendered: ReactNode[] = [];
  for (let i = range.start; i < range.end; i++) {
    const row = rowAt(i);
    rendered.push(
      <Row
        key={row === undefined ? `loading-${i}` : refKey(row.ref)}
        index={i}
        count={count}
        row={row}
        active={i === active}
        open={row !== undefined && refKey(row.ref) === openKey}
        onClick={() => {
          setActive(i);
          if (row !== undefined) onOpen(row);
        }}
      />,
    );
  }

  const activeId = count > 0 ? `msg-row-${active}` : undefined;
  return (
    <div className="message-list-wrap">
      {pages.error !== null && (
        <p role="alert" className="banner banner-error">
          {error(pages.error)}
        </p>
      )}
      {pages.total === 0 && (
        <p className="empty-state" data-testid="list-empty">
          {search !== '' ? t('mail.list.noResults') : t('list.empty')}
        </p>
      )}
      <div
        ref={scroller}
        className="message-list"
        role="listbox"
        aria-label={t('list.heading')}
        aria-activedescendant={activeId}
        aria-describedby="message-list-hint"
        tabIndex={0}
        data-testid="message-list"
        data-total={count}
        onKeyDown={onKeyDown}
        onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}
      >
        <div className="message-list-inner" style={{ height: range.totalHeight }}>
          {rendered}
        </div>
      </div>
      <p id="message-list-hint" className="visually-hidden">
        {t('mail.list.hint')}
      </p>
    </div>
  );
}

function Row({
  index,
  count,
  row,
  active,
  open,
  onClick,
}: {
  index: number;
  count: number;
  row: MessageSummary | undefined;
  active: boolean;
  open: boolean;
  onClick: () => void;
}): ReactNode {
  const { t, language } = useI18n();
  const classes = ['message-row'];
  if (active) classes.push('active');
  if (open) classes.push('open');
  if (row?.unread === true) classes.push('unread');
  return (
    <div
      id={`msg-row-${index}`}
      role="option"
      aria-selected={open}
      aria-posinset={index + 1}
      aria-setsize={count}
      className={classes.join(' ')}
      style={{ transform: `translateY(${index * ROW_HEIGHT}px)`, height: ROW_HEIGHT }}
      data-testid="message-row"
      data-uid={row?.ref.uid}
      data-trust={row?.trust ?? 'unopened'}
      onClick={onClick}
    >
      {row === undefined ? (
        <span className="row-loading">{t('mail.list.loadingRow')}</span>
      ) : (
        <>
          <div className="row-line">
            <span className="row-marks">
              {row.unread && (
                <span className="mark-unread" title={t('mail.list.unread')}>
                  <span aria-hidden="true">●</span>
                  <span className="visually-hidden">{t('mail.list.unread')}</span>
                </span>
              )}
              {row.flagged && (
                <span className="mark-flagged" title={t('mail.list.flagged')}>
                  <span aria-hidden="true">★</span>
                  <span className="visually-hidden">{t('mail.list.flagged')}</span>
                </span>
              )}
            </span>
            <span className="row-from">{row.from.name !== '' ? row.from.name : row.from.email}</span>
            <span className="row-date">{shortDate(row.date, language)}</span>
          </div>
          <div className="row-line">
            <TrustBadge trust={row.trust} external={row.external} />
            <span className="row-subject">{row.subject !== '' ? row.subject : t('mail.list.noSubject')}</span>
            {row.hasAttachments && (
              <span className="mark-attachment" title={t('mail.list.attachment')}>
                <span aria-hidden="true">📎</span>
                <span className="visually-hidden">{t('mail.list.attachment')}</span>
              </span>
            )}
          </div>
        </>
      )}
    </div>
  );
}

function shortDate(iso: string, language: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const locale = language === 'ja' ? 'ja-JP' : 'en-GB';
  const sameDay = new Date().toDateString() === d.toDateString();
  return new Intl.DateTimeFormat(locale, sameDay ? { timeStyle: 'short' } : { dateStyle: 'medium' }).format(d);
}
