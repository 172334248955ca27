import { useEffect, useState, type ReactNode } from 'react';
import {
  ApiError,
  type ApiErrorCode,
  type AttachmentInfo,
  type MessageRef,
  type OpenedMessage,
  type ReportReceipt,
  type SsmaxClient,
} from '../../api';
import { ChainPanel, formatTime } from '../chain/ChainPanel';
import { TrustBadge } from '../chain/TrustBadge';
import { useI18n } from '../i18n/i18n';

export type ComposeMode = 'reply' | 'replyAll' | 'forward';
export interface ComposeRequest {
  mode: ComposeMode;
  ref: MessageRef;
  /** What the compose screen prefills (recipients, "Re:"/"Fwd:" subject) from the opened message. */
  headers?: { from: string; to: string[]; cc: string[]; subject: string; date?: string };
  /** The opened message's plain text, which a reply quotes. */
  text?: string;
}

type Opened =
  | { status: 'idle' }
  | { status: 'loading' }
  | { status: 'ok'; message: OpenedMessage }
  | { status: 'error'; code: ApiErrorCode; triesLeft?: number };

/**
 * The reading pane: `messages.open` (decrypt on the card — a PIN dialog may come up — and verify),
 * the signed headers, the chain panel, the attachments with their attested verdicts, the body
 * (text as text; HTML in a sandboxed frame without scripts, remote content blocked unless the user
 * loads it for this one message), reply/forward hooks and "report as malicious".
 */
export function ReadingPane({
  client,
  messageRef,
  onOpened,
  onCompose,
}: {
  client: SsmaxClient;
  messageRef: MessageRef | null;
  onOpened: (message: OpenedMessage) => void;
  onCompose?: (request: ComposeRequest) => void;
}): ReactNode {
  const { t, error } = useI18n();
  const [opened, setOpened] = useState<Opened>({ status: 'idle' });
  const [remote, setRemote] = useState(false);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => setRemote(false), [messageRef]);

  useEffect(() => {
    if (messageRef === null) {
      setOpened({ status: 'idle' });
      return;
    }
    let live = true;
    setOpened({ status: 'loading' });
    client.messages.open(messageRef, { loadRemoteContent: remote }).then(
      (message) => {
        if (!live) return;
        setOpened({ status: 'ok', message });
        onOpened(message);
      },
      async (err: unknown) => {
        const code = err instanceof ApiError ? err.code : 'Internal';
        // After a wrong PIN the card's own count is what the user needs to see.
        let triesLeft: number | undefined;
        if (code === 'WrongPin') triesLeft = await client.card.status().then((s) => s.pinTriesLeft, () => undefined);
        if (live) setOpened({ status: 'error', code, ...(triesLeft !== undefined ? { triesLeft } : {}) });
      },
    );
    return () => {
      live = false;
    };
    // onOpened is a notification; re-opening because its identity changed would loop.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [client, messageRef, remote, attempt]);

  return (
    <section className="pane reading-pane" aria-labelledby="reading-heading" data-testid="reading-pane">
      <h2 id="reading-heading" className={opened.status === 'ok' ? 'visually-hidden' : undefined}>
        {t('reading.heading')}
      </h2>
      {opened.status === 'idle' && <p className="empty-state">{t('reading.empty')}</p>}
      {opened.status === 'loading' && (
        <p role="status" className="empty-state">
          {t('mail.read.opening')}
        </p>
      )}
      {opened.status === 'error' && (
        <div className="read-error" role="alert" data-testid="open-error" data-code={opened.code}>
          <p>{error(opened.code)}</p>
          {opened.triesLeft !== undefined && (
            <p data-testid="open-error-tries">
              {t('mail.read.triesLeft')}: {opened.triesLeft}
            </p>
          )}
          {opened.code === 'PinBlocked' && <p>{t('card.pin.blocked')}</p>}
          <button type="button" onClick={() => setAttempt((a) => a + 1)}>
            {t('mail.read.retry')}
          </button>
        </div>
      )}
      {opened.status === 'ok' && (
        <Message
          client={client}
          message={opened.message}
          remoteLoaded={remote}
          onLoadRemote={() => setRemote(true)}
          onCompose={onCompose}
        />
      )}
    </section>
  );
}

function Message({
  client,
  message,
  remoteLoaded,
  onLoadRemote,
  onCompose,
}: {
  client: SsmaxClient;
  message: OpenedMessage;
  remoteLoaded: boolean;
  onLoadRemote: () => void;
  onCompose: ((request: ComposeRequest) => void) | undefined;
}): ReactNode {
  const { t, language } = useI18n();
  const h = message.headers;
  return (
    <article className="message" data-testid="opened-message">
      <header className="message-header">
        <h3 className="message-subject" data-testid="message-subject">
          {h.subject !== '' ? h.subject : t('mail.list.noSubject')}
        </h3>
        <TrustBadge trust={message.chain.state} external={message.chain.external} />
        <dl className="message-meta">
          <div className="fact">
            <dt>{t('mail.read.from')}</dt>
            <dd data-testid="message-from">{h.from}</dd>
          </div>
          <div className="fact">
            <dt>{t('mail.read.to')}</dt>
            <dd>{h.to.join(', ')}</dd>
          </div>
          {h.cc.length > 0 && (
            <div className="fact">
              <dt>{t('mail.read.cc')}</dt>
              <dd>{h.cc.join(', ')}</dd>
            </div>
          )}
          <div className="fact">
            <dt>{t('mail.read.date')}</dt>
            <dd>{h.date !== '' ? formatTime(h.date, language) : ''}</dd>
          </div>
        </dl>
        <div className="message-actions">
          {onCompose !== undefined &&
            (['reply', 'replyAll', 'forward'] as const).map((mode) => (
              <button key={mode} type="button" onClick={() => onCompose({ mode, ref: message.ref, headers: message.headers, ...(message.text !== undefined ? { text: message.text } : {}) })}>
                {t(`mail.read.${mode}`)}
              </button>
            ))}
          <ReportAction client={client} message={message} />
        </div>
      </header>
      {/* Verdicts first: a Danger attachment must be seen before anything else is read. */}
      {message.attachments.length > 0 && <Attachments client={client} message={message} />}
      <ChainPanel chain={message.chain} />
      <Body message={message} remoteLoaded={remoteLoaded} onLoadRemote={onLoadRemote} />
    </article>
  );
}

function Attachments({ client, message }: { client: SsmaxClient; message: OpenedMessage }): ReactNode {
  const { t } = useI18n();
  return (
    <section className="attachments" aria-labelledby="attachments-heading">
      <h3 id="attachments-heading">{t('mail.attach.heading')}</h3>
      <ul>
        {message.attachments.map((a) => (
          <AttachmentItem key={a.index} client={client} message={message} attachment={a} />
        ))}
      </ul>
    </section>
  );
}

function worstVerdict(a: AttachmentInfo): AttachmentInfo['verdicts'][number]['verdict'] | null {
  const order = ['Danger', 'Error', 'Unsupported', 'Safe'] as const;
  for (const v of order) if (a.verdicts.some((x) => x.verdict === v)) return v;
  return null;
}

function AttachmentItem({
  client,
  message,
  attachment: a,
}: {
  client: SsmaxClient;
  message: OpenedMessage;
  attachment: AttachmentInfo;
}): ReactNode {
  const { t, error } = useI18n();
  const [saved, setSaved] = useState<string | null>(null);
  const [failure, setFailure] = useState<ApiErrorCode | null>(null);
  const worst = worstVerdict(a);
  // Danger never gets a save button, whatever `savable` says (the main process refuses anyway).
  const canSave = a.savable && worst !== 'Danger';
  const save = (): void => {
    setFailure(null);
    client.messages.saveAttachment({ message: message.ref, index: a.index }).then(
      (r) => setSaved(r?.savedTo ?? null),
      (err: unknown) => setFailure(err instanceof ApiError ? err.code : 'Internal'),
    );
  };
  return (
    <li className={`attachment attachment-${worst ?? 'none'}`} data-testid="attachment" data-verdict={worst ?? 'none'}>
      <div className="attachment-head">
        <span className="attachment-name">{a.name}</span>
        <span className="attachment-size">{formatSize(a.size)}</span>
        {worst !== null ? (
          <span className={`verdict verdict-${worst}`} data-testid="attachment-verdict">
            <span aria-hidden="true">{worst === 'Safe' ? '✔ ' : worst === 'Danger' ? '✖ ' : '⚠ '}</span>
            {t(`mail.verdict.${worst}`)}
          </span>
        ) : (
          <span className="verdict verdict-none" data-testid="attachment-verdict">
            {/* A forwarded original is not one inspected file: its own chain (with its verdicts) is shown above. */}
            {t(a.mediaType.toLowerCase() === 'message/rfc822' ? 'mail.attach.forwardedMessage' : 'mail.attach.notInspected')}
          </span>
        )}
        {canSave ? (
          <button type="button" onClick={save} data-testid="attachment-save">
            {t('mail.attach.save')}
          </button>
        ) : (
          <span className="attachment-nosave">{worst === 'Danger' ? t('mail.attach.noSave') : ''}</span>
        )}
      </div>
      {a.verdicts.length > 0 && (
        <ul className="attachment-verdicts">
          {a.verdicts.map((v, i) => (
            <li key={i}>
              {t(`mail.verdict.${v.verdict}`)} — {t('mail.attach.by')} {t(`chain.link.${v.by}`)}
              {v.reason !== undefined ? `: ${v.reason}` : ''}
            </li>
          ))}
        </ul>
      )}
      {saved !== null && (
        <p role="status">
          {t('mail.attach.saved')}: {saved}
        </p>
      )}
      {failure !== null && <p role="alert">{error(failure)}</p>}
    </li>
  );
}

function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/**
 * The document for the sandboxed frame. The frame has no `allow-scripts` and its own CSP forbids
 * scripts anyway; remote loads are allowed only after the user chose it for this message (and the
 * main process removed them otherwise).
 */
export function bodyDocument(sanitized: string, remote: boolean): string {
  const remoteSrc = remote ? ' https: http:' : '';
  const csp = `default-src 'none'; script-src 'none'; img-src data: cid:${remoteSrc}; style-src 'unsafe-inline'${remoteSrc}; font-src data:${remoteSrc}`;
  return `<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${csp}"><meta name="referrer" content="no-referrer"></head><body>${sanitized}</body></html>`;
}

function Body({
  message,
  remoteLoaded,
  onLoadRemote,
}: {
  message: OpenedMessage;
  remoteLoaded: boolean;
  onLoadRemote: () => void;
}): ReactNode {
  const { t } = useI18n();
  const html = message.html;
  if (html !== undefined) {
    return (
      <div className="message-body">
        {html.remoteContentBlocked && html.remoteItemsBlocked > 0 && (
          <div className="remote-banner" data-testid="remote-blocked">
            <p className="remote-title">
              {t('mail.remote.blocked')} ({html.remoteItemsBlocked})
            </p>
            <p>{t('mail.remote.explain')}</p>
            <button type="button" onClick={onLoadRemote} data-testid="load-remote">
              {t('mail.remote.load')}
            </button>
          </div>
        )}
        {remoteLoaded && !html.remoteContentBlocked && (
          <p className="remote-banner" data-testid="remote-loaded">
            {t('mail.remote.loaded')}
          </p>
        )}
        <iframe
          className="html-body"
          title={t('mail.read.bodyFrame')}
          sandbox=""
          referrerPolicy="no-referrer"
          srcDoc={bodyDocument(html.sanitized, remoteLoaded && !html.remoteContentBlocked)}
          data-testid="html-body"
        />
      </div>
    );
  }
  if (message.text !== undefined && message.text !== '') {
    return (
      <div className="message-body">
        <pre className="text-body" data-testid="text-body">
          {message.text}
        </pre>
      </div>
    );
  }
  return <p className="empty-state">{t('mail.read.noBody')}</p>;
}

function ReportAction({ client, message }: { client: SsmaxClient; message: OpenedMessage }): ReactNode {
  const { t, error } = useI18n();
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState('');
  const [state, setState] = useState<
    { s: 'idle' } | { s: 'sending' } | { s: 'done'; receipt: ReportReceipt } | { s: 'error'; code: ApiErrorCode }
  >({ s: 'idle' });
  const send = (): void => {
    if (reason.trim() === '') return;
    setState({ s: 'sending' });
    client.report.malicious(message.ref, reason.trim()).then(
      (receipt) => setState({ s: 'done', receipt }),
      (err: unknown) => setState({ s: 'error', code: err instanceof ApiError ? err.code : 'Internal' }),
    );
  };
  if (!open)
    return (
      <>
        <button type="button" className="danger-button" onClick={() => setOpen(true)} data-testid="report-open">
          {t('mail.report.button')}
        </button>
        {state.s === 'done' && <ReportReceiptLine receipt={state.receipt} />}
      </>
    );
  return (
    <form
      className="report-form"
      aria-labelledby="report-title"
      data-testid="report-form"
      onSubmit={(e) => {
        e.preventDefault();
        send();
      }}
    >
      <p id="report-title" className="report-title">
        {t('mail.report.title')}
      </p>
      <p>{t('mail.report.explain')}</p>
      <label htmlFor="report-reason">{t('mail.report.reason')}</label>
      <textarea
        id="report-reason"
        required
        maxLength={4000}
        rows={3}
        value={reason}
        onChange={(e) => setReason(e.target.value)}
      />
      <div className="form-buttons">
        <button type="submit" disabled={state.s === 'sending' || reason.trim() === ''}>
          {t('mail.report.send')}
        </button>
        <button type="button" onClick={() => setOpen(false)}>
          {t('mail.report.cancel')}
        </button>
      </div>
      {state.s === 'sending' && <p role="status">{t('mail.report.sending')}</p>}
      {state.s === 'done' && <ReportReceiptLine receipt={state.receipt} />}
      {state.s === 'error' && <p role="alert">{error(state.code)}</p>}
    </form>
  );
}

function ReportReceiptLine({ receipt }: { receipt: ReportReceipt }): ReactNode {
  const { t } = useI18n();
  return (
    <p role="status" data-testid="report-receipt">
      {t('mail.report.done')}: {receipt.id} ({t('mail.report.state')}: {receipt.state})
    </p>
  );
}
