import { useCallback, useEffect, useId, useRef, useState, type DragEvent, type FormEvent, type ReactNode } from 'react';
import {
  ApiError,
  type Account,
  type ApiErrorCode,
  type Draft,
  type MessageRef,
  type PpapCheck,
  type SendReceipt,
  type SsmaxClient,
} from '../../api';
import { useI18n } from '../i18n/i18n';
import type { MessageKey } from '../i18n/messages';
import { bytesToBase64, fill, formatSize, looksLikeAddress, quoteLines, splitAddresses } from './format';
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
  knownAddresses,
  start = { mode: 'new' },
  pinnedOrgName,
  onDone,
}: {
  client: SsmaxClient;
  accounts: readonly Account[];
  knownAddresses: readonly string[];
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
    text,
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

  // Completion: the list offers "what is typed so far, <known address>" for the last piece.
  const suggestionsFor = (value: string): string[] => {
    const parts = value.split(',');
    const last = (parts.pop() ?? '').trim().toLowerCase();
    const head = parts.map((p) => p.trim()).filter((p) => p !== '');
    if (last === '') return [];
    return knownAddresses
      .filter((a) => a.toLowerCase().includes(last) && !head.includes(a))
      .slice(0, 20)
      .map((a) => [...head, a].join(', '));
  };

  if (state.phase === 'queued') {
    return (
      <section className="compose" aria-labelledby={`${ids}-h`}>
        <h2 id={`${ids}-h`}>{t(HEADINGS[start.mode])}</h2>
        <p role="status" className="compose-queued" data-testid="compose-queued">
          {t('compose.queued')}
        </p>
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
          <RecipientField id={`${ids}-to`} label={t('compose.to')} value={to} onChange={setTo} suggestions={suggestionsFor(to)} hint={t('compose.recipients.hint')} />
          <RecipientField id={`${ids}-cc`} label={t('compose.cc')} value={cc} onChange={setCc} suggestions={suggestionsFor(cc)} />
          <div className="field">
            <label htmlFor={`${ids}-subject`}>{t('compose.subject')}</label>
            <input id={`${ids}-subject`} type="text" value={subject} onChange={(e) => setSubject(e.target.value)} />
          </div>
          <div className="field field-body">
            <label htmlFor={`${ids}-body`}>{t('compose.body')}</label>
            <textarea id={`${ids}-body`} rows={8} value={text} onChange={(e) => setText(e.target.value)} />
          </div>
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

function RecipientField({
  id,
  label,
  value,
  onChange,
  suggestions,
  hint,
}: {
  id: string;
  label: string;
  value: string;
  onChange: (v: string) => void;
  suggestions: string[];
  hint?: string;
}): ReactNode {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type="text"
        inputMode="email"
        autoComplete="off"
        list={`${id}-list`}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        aria-describedby={hint !== undefined ? `${id}-hint` : undefined}
      />
      <datalist id={`${id}-list`}>
        {suggestions.map((s) => (
          <option key={s} value={s} />
        ))}
      </datalist>
      {hint !== undefined && (
        <span id={`${id}-hint`} className="field-hint">
          {hint}
        </span>
      )}
    </div>
  );
}
