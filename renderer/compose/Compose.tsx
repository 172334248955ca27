import { useCallback, useEffect, useId, useLayoutEffect, useRef, useState, type DragEvent, type FormEvent, type KeyboardEvent, type ReactNode } from 'react';
import {
  ApiError,
  type Account,
  type ApiErrorCode,
  type Draft,
  type MessageRef,
  type OutboxState,
  type PpapCheck,
  type SendReceipt,
  type SsmaxClient,
} from '../../api';
import { useI18n } from '../i18n/i18n';
import type { MessageKey } from '../i18n/messages';
import { bytesToBase64, fill, formatSize, looksLikeAddress, quoteLines, splitAddresses } from './format';
import { insertLink, parseRichText, richTextHtml, richTextPlain, toggleList, toggleMark, type Block, type Edit, type Inline } from './rich-text';
import { useContactSuggestions } from './use-addresses';
import './forms.css';

export type ComposeMode = 'new' | 'reply' | 'replyAll' | 'forward';

/** What the mail view passes for reply / reply-all / forward (headers it already shows, if any). */
export interface ComposeStart {
  mode: ComposeMode;
  ref?: MessageRef;
  subject?: string;
  from?: string;
  to?: string[];
  cc?: string[];
  /** What a reply quotes: the original's sender, date and plain text as the user read them. */
  quoted?: { from: string; date: string; text: string };
}

/** The attachments together, before base64: below the bridge's 16 MiB per call once encoded. */
export const MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024;

interface AttachmentItem {
  key: string;
  name: string;
  size: number;
  /** 0–1 while the file is read; 1 when `base64` is there. */
  progress: number;
  base64?: string;
  failed?: boolean;
}

type SendState =
  | { phase: 'editing' }
  | { phase: 'checking' }
  | { phase: 'ppap'; suspicious: PpapCheck['suspicious'] }
  | { phase: 'sending' }
  | { phase: 'queued'; receipt: SendReceipt }
  | { phase: 'error'; code: ApiErrorCode; message: string };

const HEADINGS: Record<ComposeMode, MessageKey> = {
  new: 'compose.heading.new',
  reply: 'compose.heading.reply',
  replyAll: 'compose.heading.replyAll',
  forward: 'compose.heading.forward',
};

function prefixed(prefix: string, subject: string | undefined): string {
  const s = subject ?? '';
  return s.toLowerCase().startsWith(prefix.toLowerCase()) ? s : `${prefix} ${s}`.trim();
}

function initialRecipients(start: ComposeStart, self: string | undefined): { to: string; cc: string } {
  const notSelf = (a: string): boolean => a.toLowerCase() !== self?.toLowerCase();
  if (start.mode === 'reply') return { to: start.from ?? '', cc: '' };
  if (start.mode === 'replyAll') {
    const to = [start.from ?? '', ...(start.to ?? [])].filter((a) => a !== '' && notSelf(a));
    return { to: [...new Set(to)].join(', '), cc: (start.cc ?? []).filter(notSelf).join(', ') };
  }
  // A forward goes to whoever the user names; a new message may come with recipients.
  if (start.mode === 'forward') return { to: '', cc: '' };
  return { to: start.to?.join(', ') ?? '', cc: start.cc?.join(', ') ?? '' };
}

/** A reply starts with room to write above the attributed quote of the original. */
function initialText(start: ComposeStart, attribution: (from: string, date: string) => string): string {
  const q = start.quoted;
  if (q === undefined || (start.mode !== 'reply' && start.mode !== 'replyAll')) return '';
  return `\n\n${attribution(q.from, q.date)}\n${quoteLines(q.text)}\n`;
}

function initialSubject(start: ComposeStart): string {
  if (start.mode === 'reply' || start.mode === 'replyAll') return prefixed('Re:', start.subject);
  if (start.mode === 'forward') return prefixed('Fwd:', start.subject);
  return start.subject ?? '';
}

/**
 * Compose: recipients with completion, subject, body, attachments (file input or drop; read here
 * and sent as bytes), what signing and encryption will happen, the PPAP gate, and send. The PIN is
 * asked by the global PIN dialog (`pin.requested`); this screen only says it is waiting for it.
 * On any failure the draft stays as it was.
 */
export function Compose({
  client,
  accounts,
  start = { mode: 'new' },
  pinnedOrgName,
  onDone,
}: {
  client: SsmaxClient;
  accounts: readonly Account[];
  start?: ComposeStart;
  /** The org of the pinned bundle (`org.status()`), for accounts that do not carry it. */
  pinnedOrgName?: string | undefined;
  onDone?: () => void;
}): ReactNode {
  const { t, error, language } = useI18n();
  const ids = useId();
  const [accountId, setAccountId] = useState(accounts[0]?.id ?? '');
  const account = accounts.find((a) => a.id === accountId) ?? accounts[0];
  const first = initialRecipients(start, account?.email);
  const [to, setTo] = useState(first.to);
  const [cc, setCc] = useState(first.cc);
  const [subject, setSubject] = useState(() => initialSubject(start));
  const [text, setText] = useState(() =>
    initialText(start, (from, date) => {
      const when = Number.isNaN(Date.parse(date)) ? date : new Date(date).toLocaleString(language === 'ja' ? 'ja-JP' : 'en-GB');
      return fill(t(when === '' ? 'compose.quote.attributionNoDate' : 'compose.quote.attribution'), { from, date: when });
    }),
  );
  const [rich, setRich] = useState(false);
  const body = useRef<HTMLTextAreaElement>(null);
  const pendingSelection = useRef<[number, number] | null>(null);
  const [attachments, setAttachments] = useState<AttachmentItem[]>([]);
  const [state, setState] = useState<SendState>({ phase: 'editing' });
  const [invalid, setInvalid] = useState<string | null>(null);
  const [dragging, setDragging] = useState(false);
  const fileInput = useRef<HTMLInputElement>(null);
  const keyCounter = useRef(0);

  // The PPAP warning is where the user's eyes and keyboard go: it must be read before anything else.
  const ppapBox = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (state.phase !== 'ppap') return;
    ppapBox.current?.scrollIntoView?.({ block: 'center' });
    ppapBox.current?.focus();
  }, [state.phase]);

  // After a formatting button: the marks are in, the selection goes back where the user was writing.
  useLayoutEffect(() => {
    const sel = pendingSelection.current;
    if (sel === null || body.current === null) return;
    pendingSelection.current = null;
    body.current.focus();
    body.current.setSelectionRange(sel[0], sel[1]);
  }, [text]);
  const format = (change: (e: Edit) => Edit): void => {
    const el = body.current;
    if (el === null) return;
    const r = change({ value: text, selectionStart: el.selectionStart, selectionEnd: el.selectionEnd });
    pendingSelection.current = [r.selectionStart, r.selectionEnd];
    setText(r.value);
  };
  const bold = (): void => format((e) => toggleMark(e, '**'));
  const italic = (): void => format((e) => toggleMark(e, '*'));
  const list = (): void => format(toggleList);
  const link = (): void => format((e) => insertLink(e, t('compose.rich.linkText')));
  const onBodyKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>): void => {
    if (!rich || !(e.ctrlKey || e.metaKey) || e.altKey) return;
    const action = { b: bold, i: italic, k: link }[e.key.toLowerCase()];
    if (action === undefined) return;
    e.preventDefault();
    action();
  };
  const blocks = rich ? parseRichText(text) : [];

  const totalBytes = attachments.reduce((n, a) => n + a.size, 0);
  const reading = attachments.some((a) => a.base64 === undefined && a.failed !== true);
  const tooLarge = totalBytes > MAX_ATTACHMENT_BYTES;
  const busy = state.phase === 'checking' || state.phase === 'sending';
  const orgName = account?.org?.name ?? pinnedOrgName;

  const addFiles = useCallback((files: FileList | File[]) => {
    for (const file of Array.from(files)) {
      const key = `a${keyCounter.current++}`;
      setAttachments((list) => [...list, { key, name: file.name, size: file.size, progress: 0 }]);
      const update = (patch: Partial<AttachmentItem>): void =>
        setAttachments((list) => list.map((a) => (a.key === key ? { ...a, ...patch } : a)));
      const reader = new FileReader();
      reader.onprogress = (e) => e.lengthComputable && update({ progress: e.loaded / e.total });
      reader.onerror = () => update({ failed: true });
      reader.onload = () => {
        const buffer = reader.result;
        if (buffer instanceof ArrayBuffer) update({ progress: 1, base64: bytesToBase64(new Uint8Array(buffer)) });
        else update({ failed: true });
      };
      reader.readAsArrayBuffer(file);
    }
  }, []);

  const buildDraft = (acknowledgedPpap: boolean): Draft => ({
    accountId: account?.id ?? '',
    to: splitAddresses(to),
    cc: splitAddresses(cc),
    subject,
    // Rich text: the HTML and its plain-text reading, both from the same model (the main process rebuilds the HTML again).
    ...(rich ? { text: richTextPlain(blocks), html: richTextHtml(blocks) } : { text }),
    attachments: attachments
      .filter((a) => a.base64 !== undefined)
      .map((a) => ({ name: a.name, contentBase64: a.base64 ?? '' })),
    ...(start.ref !== undefined && (start.mode === 'reply' || start.mode === 'replyAll') ? { inReplyTo: start.ref } : {}),
    ...(start.ref !== undefined && start.mode === 'forward' ? { forwardOf: start.ref } : {}),
    ...(acknowledgedPpap ? { acknowledgedPpap: true } : {}),
  });

  const failWith = (err: unknown): void => {
    if (err instanceof ApiError && err.code === 'PpapWarning') return setState({ phase: 'ppap', suspicious: [] });
    setState({
      phase: 'error',
      code: err instanceof ApiError ? err.code : 'Internal',
      message: err instanceof Error ? err.message : String(err),
    });
  };

  const send = async (acknowledgedPpap: boolean): Promise<void> => {
    const draft = buildDraft(acknowledgedPpap);
    try {
      if (!acknowledgedPpap && draft.attachments.length > 0) {
        setState({ phase: 'checking' });
        const check = await client.compose.checkPpap(draft);
        if (check.suspicious.length > 0) return setState({ phase: 'ppap', suspicious: check.suspicious });
      }
      setState({ phase: 'sending' });
      const receipt = await client.compose.send(draft);
      setState({ phase: 'queued', receipt });
    } catch (err) {
      failWith(err);
    }
  };

  const submit = (e: FormEvent): void => {
    e.preventDefault();
    const recipients = [...splitAddresses(to), ...splitAddresses(cc)];
    if (splitAddresses(to).length === 0) return setInvalid(t('compose.missingTo'));
    const bad = recipients.find((a) => !looksLikeAddress(a));
    if (bad !== undefined) return setInvalid(fill(t('compose.badAddress'), { address: bad }));
    setInvalid(null);
    void send(false);
  };

  const onDrop = (e: DragEvent): void => {
    e.preventDefault();
    setDragging(false);
    if (!busy && e.dataTransfer.files.length > 0) addFiles(e.dataTransfer.files);
  };

  if (state.phase === 'queued') {
    return (
      <section className="compose" aria-labelledby={`${ids}-h`}>
        <h2 id={`${ids}-h`}>{t(HEADINGS[start.mode])}</h2>
        <p role="status" className="compose-queued" data-testid="compose-queued">
          {t('compose.queued')}
        </p>
        <Delivery client={client} receipt={state.receipt} />
        {onDone !== undefined && (
          <div className="actions">
            {/* A reply or forward goes back to the mail it answered (ComposeView closes); a new message offers another. */}
            <button type="button" onClick={onDone}>
              {t(start.mode === 'new' ? 'compose.new' : 'compose.backToMail')}
            </button>
          </div>
        )}
      </section>
    );
  }

  return (
    <section className="compose" aria-labelledby={`${ids}-h`}>
      <h2 id={`${ids}-h`}>{t(HEADINGS[start.mode])}</h2>
      {account === undefined && (
        <p role="alert" className="banner banner-warning">
          {t('compose.noAccount')}
        </p>
      )}
      <form onSubmit={submit} noValidate>
        <fieldset disabled={busy || state.phase === 'ppap'} className="compose-fields">
          {accounts.length > 1 && (
            <div className="field">
              <label htmlFor={`${ids}-from`}>{t('compose.from')}</label>
              <select id={`${ids}-from`} value={account?.id} onChange={(e) => setAccountId(e.target.value)}>
                {accounts.map((a) => (
                  <option key={a.id} value={a.id}>
                    {a.email}
                  </option>
                ))}
              </select>
            </div>
          )}
          <RecipientField id={`${ids}-to`} label={t('compose.to')} value={to} onChange={setTo} client={client} hint={t('compose.recipients.hint')} />
          <RecipientField id={`${ids}-cc`} label={t('compose.cc')} value={cc} onChange={setCc} client={client} />
          <div className="field">
            <label htmlFor={`${ids}-subject`}>{t('compose.subject')}</label>
            <input id={`${ids}-subject`} type="text" value={subject} onChange={(e) => setSubject(e.target.value)} />
          </div>
          <div className="field field-body">
            <label htmlFor={`${ids}-body`}>{t('compose.body')}</label>
            <div className="rich-controls">
              <span className="rich-toggle">
                <input id={`${ids}-rich`} type="checkbox" checked={rich} onChange={(e) => setRich(e.target.checked)} />
                <label htmlFor={`${ids}-rich`}>{t('compose.rich.toggle')}</label>
              </span>
              {rich && (
                <span role="toolbar" aria-label={t('compose.rich.toolbar')} aria-controls={`${ids}-body`} className="rich-toolbar">
                  <button type="button" onClick={bold} title="Ctrl+B">
                    <strong>{t('compose.rich.bold')}</strong>
                  </button>
                  <button type="button" onClick={italic} title="Ctrl+I">
                    <em>{t('compose.rich.italic')}</em>
                  </button>
                  <button type="button" onClick={list}>
                    {t('compose.rich.list')}
                  </button>
                  <button type="button" onClick={link} title="Ctrl+K">
                    {t('compose.rich.link')}
                  </button>
                </span>
              )}
            </div>
            <textarea
              ref={body}
              id={`${ids}-body`}
              rows={8}
              value={text}
              onChange={(e) => setText(e.target.value)}
              onKeyDown={onBodyKeyDown}
              aria-describedby={rich ? `${ids}-richhint` : undefined}
            />
            {rich && (
              <span id={`${ids}-richhint`} className="field-hint">
                {t('compose.rich.hint')}
              </span>
            )}
          </div>
          {rich && (
            <section className="rich-preview" aria-labelledby={`${ids}-preview`} data-testid="rich-preview">
              <h3 id={`${ids}-preview`}>{t('compose.rich.preview')}</h3>
              <div className="rich-preview-body">{renderBlocks(blocks)}</div>
            </section>
          )}
          {start.mode === 'forward' && <p className="compose-note">{t('compose.forwardNote')}</p>}
          <div
            className={dragging ? 'attachments drop-active' : 'attachments'}
            onDragOver={(e) => {
              e.preventDefault();
              setDragging(true);
            }}
            onDragLeave={() => setDragging(false)}
            onDrop={onDrop}
            data-testid="attachments"
          >
            <h3 id={`${ids}-att`}>{t('compose.attachments')}</h3>
            <input
              ref={fileInput}
              id={`${ids}-file`}
              className="visually-hidden"
              type="file"
              multiple
              aria-labelledby={`${ids}-attach`}
              onChange={(e) => {
                if (e.target.files !== null) addFiles(e.target.files);
                e.target.value = '';
              }}
            />
            <button id={`${ids}-attach`} type="button" onClick={() => fileInput.current?.click()}>
              {t('compose.attach.button')}
            </button>{' '}
            <span className="compose-note">{t('compose.attach.drop')}</span>
            {attachments.length > 0 && (
              <ul className="attachment-list" aria-labelledby={`${ids}-att`}>
                {attachments.map((a) => (
                  <li key={a.key} data-testid="attachment">
                    <span className="attachment-name">{a.name}</span>{' '}
                    <span className="attachment-size">{formatSize(a.size)}</span>{' '}
                    {a.failed === true ? (
                      <span className="attachment-error">{t('compose.attach.readFailed')}</span>
                    ) : a.base64 === undefined ? (
                      <progress max={1} value={a.progress} aria-label={`${t('compose.attach.reading')} ${a.name}`} />
                    ) : null}{' '}
                    <button
                      type="button"
                      onClick={() => setAttachments((list) => list.filter((x) => x.key !== a.key))}
                      aria-label={`${t('compose.attach.remove')} ${a.name}`}
                    >
                      {t('compose.attach.remove')}
                    </button>
                  </li>
                ))}
              </ul>
            )}
            {tooLarge && (
              <p role="alert" className="field-error">
                {t('compose.attach.tooLarge')}
              </p>
            )}
          </div>
        </fieldset>

        <section className="compose-security" aria-labelledby={`${ids}-sec`} data-testid="compose-security">
          <h3 id={`${ids}-sec`}>{t('compose.security.heading')}</h3>
          <p>{orgName !== undefined ? fill(t('compose.security.will'), { org: orgName }) : t('compose.security.noOrg')}</p>
        </section>

        {state.phase === 'ppap' && (
          <div ref={ppapBox} tabIndex={-1} role="alertdialog" aria-labelledby={`${ids}-ppap`} aria-describedby={`${ids}-ppapd`} className="ppap-warning" data-testid="ppap-warning">
            <h3 id={`${ids}-ppap`}>{t('compose.ppap.heading')}</h3>
            <p id={`${ids}-ppapd`}>{t('compose.ppap.body')}</p>
            {state.suspicious.length > 0 && (
              <ul>
                {state.suspicious.map((s) => (
                  <li key={s.path}>
                    <strong>{s.path}</strong> — {s.reason}
                  </li>
                ))}
              </ul>
            )}
            <div className="actions">
              <button type="button" onClick={() => setState({ phase: 'editing' })}>
                {t('compose.ppap.back')}
              </button>
              <button type="button" className="danger" onClick={() => void send(true)}>
                {t('compose.ppap.sendAnyway')}
              </button>
            </div>
          </div>
        )}

        {state.phase === 'error' && (
          <div role="alert" className="banner banner-error compose-error" data-testid="compose-error">
            <p>
              <strong>{t('compose.error.heading')}</strong>: {error(state.code)}
            </p>
            <p>{t('compose.error.kept')}</p>
            <details>
              <summary>{t('compose.error.details')}</summary>
              <p className="error-detail">{state.message}</p>
            </details>
          </div>
        )}
        {invalid !== null && (
          <p role="alert" className="field-error">
            {invalid}
          </p>
        )}
        <p role="status" className="compose-status" data-testid="compose-status">
          {state.phase === 'checking' ? t('compose.checking') : state.phase === 'sending' ? t('compose.waitingCard') : ''}
        </p>
        {busy && <progress className="compose-progress" aria-label={t(state.phase === 'checking' ? 'compose.checking' : 'compose.progress.signing')} />}

        <div className="actions">
          <button
            type="submit"
            className="primary"
            disabled={busy || state.phase === 'ppap' || reading || tooLarge || account === undefined || orgName === undefined}
          >
            {t('compose.send')}
          </button>
          {onDone !== undefined && (
            <button type="button" onClick={onDone} disabled={busy}>
              {t('compose.cancel')}
            </button>
          )}
        </div>
      </form>
    </section>
  );
}

/** Replaces the piece being typed (after the last comma) with the picked address. */
function withPicked(value: string, address: string): string {
  const head = splitAddresses(value.slice(0, value.lastIndexOf(',') + 1));
  return [...head, address].join(', ');
}

/**
 * A recipient field as an ARIA combobox: completion for the piece after the last comma from
 * `contacts.suggest`; arrow keys move through the list, Enter picks, Escape closes; a click picks.
 */
function RecipientField({
  id,
  label,
  value,
  onChange,
  client,
  hint,
}: {
  id: string;
  label: string;
  value: string;
  onChange: (v: string) => void;
  client: SsmaxClient;
  hint?: string;
}): ReactNode {
  const { t } = useI18n();
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(-1);
  const typed = value.slice(value.lastIndexOf(',') + 1);
  const chosen = splitAddresses(value.slice(0, value.lastIndexOf(',') + 1)).map((a) => a.toLowerCase());
  const suggestions = useContactSuggestions(client, open ? typed : '').filter((c) => !chosen.includes(c.address.toLowerCase()));
  const expanded = open && suggestions.length > 0;
  const listId = `${id}-list`;
  const pick = (address: string): void => {
    onChange(withPicked(value, address));
    setOpen(false);
    setActive(-1);
  };
  const onKeyDown = (e: KeyboardEvent<HTMLInputElement>): void => {
    if (!expanded) {
      if (e.key === 'ArrowDown' && typed.trim() !== '') setOpen(true);
      return;
    }
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      const step = e.key === 'ArrowDown' ? 1 : -1;
      setActive((i) => (i + step + suggestions.length) % suggestions.length);
    } else if (e.key === 'Enter' && active >= 0 && active < suggestions.length) {
      e.preventDefault();
      pick(suggestions[active]?.address ?? '');
    } else if (e.key === 'Escape') {
      e.preventDefault();
      setOpen(false);
      setActive(-1);
    }
  };
  return (
    <div className="field recipient-field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type="text"
        inputMode="email"
        autoComplete="off"
        role="combobox"
        aria-autocomplete="list"
        aria-expanded={expanded}
        aria-controls={expanded ? listId : undefined}
        aria-activedescendant={expanded && active >= 0 ? `${id}-opt${active}` : undefined}
        value={value}
        onChange={(e) => {
          onChange(e.target.value);
          setOpen(true);
          setActive(-1);
        }}
        onKeyDown={onKeyDown}
        onBlur={() => setOpen(false)}
        aria-describedby={hint !== undefined ? `${id}-hint` : undefined}
      />
      {expanded && (
        <ul id={listId} role="listbox" aria-label={`${t('compose.suggestions')}: ${label}`} className="suggestions" data-testid="suggestions">
          {suggestions.map((c, i) => (
            <li
              key={c.address}
              id={`${id}-opt${i}`}
              role="option"
              aria-selected={i === active}
              className={i === active ? 'suggestion active' : 'suggestion'}
              // Keeps the focus in the field, so the blur does not close the list before the click.
              onMouseDown={(e) => e.preventDefault()}
              onClick={() => pick(c.address)}
            >
              {c.name !== '' && c.name !== c.address ? (
                <>
                  {c.name} <span className="suggestion-address">&lt;{c.address}&gt;</span>
                </>
              ) : (
                c.address
              )}
            </li>
          ))}
        </ul>
      )}
      {hint !== undefined && (
        <span id={`${id}-hint`} className="field-hint">
          {hint}
        </span>
      )}
    </div>
  );
}

function renderInline(nodes: Inline[]): ReactNode[] {
  return nodes.map((n, i) => {
    if (n.kind === 'text') return n.text;
    if (n.kind === 'strong') return <strong key={i}>{renderInline(n.children)}</strong>;
    if (n.kind === 'em') return <em key={i}>{renderInline(n.children)}</em>;
    // Not a live link: the preview must not navigate the app; the address is shown instead.
    return (
      <span key={i} className="rich-link">
        <u>{renderInline(n.children)}</u> <span className="rich-href">({n.href})</span>
      </span>
    );
  });
}

/** The preview, as React elements from the same model the HTML is written from (never innerHTML). */
function renderBlocks(blocks: Block[]): ReactNode {
  return blocks.map((b, i) =>
    b.kind === 'para' ? (
      <p key={i}>
        {b.lines.map((line, j) => (
          <span key={j}>
            {j > 0 && <br />}
            {renderInline(line)}
          </span>
        ))}
      </p>
    ) : (
      <ul key={i}>
        {b.items.map((item, j) => (
          <li key={j}>{renderInline(item)}</li>
        ))}
      </ul>
    ),
  );
}

const DELIVERY_KEYS: Record<OutboxState, MessageKey> = {
  queued: 'outbox.state.queued',
  submitting: 'outbox.state.submitting',
  retrying: 'outbox.state.retrying',
  sent: 'outbox.state.sent',
  failed: 'outbox.state.failed',
};

/**
 * After "sign and send": the steps the mail went through — signed on the card, in the outbox, and
 * where the outbox entry is now (`outbox.changed`). An entry leaves the outbox only after the server
 * took it, so one that is gone has been sent.
 */
function Delivery({ client, receipt }: { client: SsmaxClient; receipt: SendReceipt }): ReactNode {
  const { t } = useI18n();
  const [entry, setEntry] = useState<{ state: OutboxState; lastError?: string | undefined }>({ state: receipt.state });
  useEffect(
    () =>
      client.events.on('outbox.changed', (list) => {
        const e = list.find((x) => x.id === receipt.outboxId);
        setEntry(e === undefined ? { state: 'sent' } : { state: e.state, lastError: e.lastError });
      }),
    [client, receipt.outboxId],
  );
  const done = entry.state === 'sent';
  const failed = entry.state === 'failed';
  return (
    <div className="compose-delivery" data-testid="compose-delivery" data-state={entry.state}>
      <progress max={3} value={done ? 3 : 2} aria-label={t('compose.progress.delivery')} />
      <ol className="compose-steps" aria-live="polite">
        <li className="step-done">{t('compose.step.signed')}</li>
        <li className="step-done">{t('compose.step.outbox')}</li>
        <li className={done ? 'step-done' : failed ? 'step-failed' : 'step-current'} aria-current={done ? undefined : 'step'}>
          {t('compose.step.server')}: <strong data-testid="compose-delivery-state">{t(DELIVERY_KEYS[entry.state])}</strong>
          {entry.lastError !== undefined && (
            <>
              {' '}
              — {t('outbox.reason')}: <span className="error-detail">{entry.lastError}</span>
            </>
          )}
        </li>
      </ol>
    </div>
  );
}
