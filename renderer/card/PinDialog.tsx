import { useEffect, useRef, useState, type ReactNode, type RefObject } from 'react';
import { ApiError, type ApiErrorCode, type PinRequest, type SsmaxClient } from '../../api';
import { useI18n } from '../i18n/i18n';
import './card.css';

/**
 * The PIN dialog: opened by `pin.requested`, closed by `pin.closed` (answered, cancelled, or
 * withdrawn because the card went away). A modal `<dialog>` (focus stays inside, Escape cancels).
 * It never answers on its own: a wrong PIN fails the operation, and only the user starts another.
 */
export function PinDialog({ client }: { client: SsmaxClient }): ReactNode {
  const { t, error } = useI18n();
  const [request, setRequest] = useState<PinRequest | null>(null);
  const [pin, setPin] = useState('');
  // Setting a new PIN (enrollment): typed twice, so a slip does not lock the holder out of a new card.
  const [again, setAgain] = useState('');
  const choosing = request?.purpose === 'enroll';
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const dialog = useRef<HTMLDialogElement>(null);
  const input = useRef<HTMLInputElement>(null);

  useEffect(() => {
    const offRequested = client.events.on('pin.requested', (r) => {
      setRequest(r);
      setPin('');
      setAgain('');
      setProblem(null);
      setBusy(false);
    });
    const offClosed = client.events.on('pin.closed', ({ requestId }) =>
      setRequest((r) => (r?.requestId === requestId ? null : r)),
    );
    return () => {
      offRequested();
      offClosed();
    };
  }, [client]);

  useEffect(() => {
    const el = dialog.current;
    if (el === null) return;
    if (request !== null && !el.open) {
      if (typeof el.showModal === 'function') el.showModal();
      else el.setAttribute('open', '');
      input.current?.focus();
    }
    if (request === null && el.open) {
      if (typeof el.close === 'function') el.close();
      else el.removeAttribute('open');
    }
  }, [request]);

  const fail = (err: unknown): void => {
    const code: ApiErrorCode = err instanceof ApiError ? err.code : 'Internal';
    setProblem(`${t('card.pin.failed')} ${error(code)}`);
    setBusy(false);
  };

  const answer = (): void => {
    if (request === null || busy) return;
    if (choosing) {
      if (!/^[0-9]{6,8}$/.test(pin)) return setProblem(t('card.pin.new.digits'));
      if (pin !== again) return setProblem(t('card.pin.new.mismatch'));
    } else if (pin.length < 6 || pin.length > 8) {
      setProblem(t('card.pin.tooShort'));
      return;
    }
    setBusy(true);
    const id = request.requestId;
    client.pin.answer(id, pin).then(() => {
      setPin('');
      setAgain('');
      setRequest((r) => (r?.requestId === id ? null : r));
    }, fail);
  };

  const cancel = (): void => {
    if (request === null) return;
    const id = request.requestId;
    setBusy(true);
    client.pin.cancel(id).then(
      () => setRequest((r) => (r?.requestId === id ? null : r)),
      // Already settled elsewhere (NotFound): the dialog has nothing left to ask.
      () => setRequest((r) => (r?.requestId === id ? null : r)),
    );
  };

  const tries = request?.triesLeft;
  return (
    <dialog
      ref={dialog}
      className="pin-dialog"
      aria-labelledby="pin-title"
      aria-describedby="pin-purpose"
      data-testid="pin-dialog"
      onCancel={(e) => {
        // Escape: cancel the request itself, not just hide the dialog.
        e.preventDefault();
        cancel();
      }}
    >
      {request !== null && (
        <form
          method="dialog"
          onSubmit={(e) => {
            e.preventDefault();
            answer();
          }}
        >
          <h2 id="pin-title">{t(choosing ? 'card.pin.new.title' : 'card.pin.title')}</h2>
          <p id="pin-purpose" className="pin-purpose">
            <strong>{t(`card.pin.purpose.${request.purpose}`)}</strong>
            {request.description !== '' && <span data-testid="pin-description">: {request.description}</span>}
          </p>
          {tries !== undefined && (
            <p className={`pin-tries${tries <= 1 ? ' pin-tries-low' : ''}`} data-testid="pin-tries">
              {t('card.pin.triesLeft')}: <strong>{tries}</strong>
            </p>
          )}
          {tries === 1 && <p className="pin-warning">{t('card.pin.lastTry')}</p>}
          {tries === 0 && <p className="pin-warning">{t('card.pin.blocked')}</p>}
          <PinField
            id="pin-input"
            label={t(choosing ? 'card.pin.new.label' : 'card.pin.label')}
            inputRef={input}
            value={pin}
            onChange={setPin}
            busy={busy}
            invalid={problem !== null}
          />
          {choosing && (
            <PinField id="pin-again" label={t('card.pin.new.confirm')} value={again} onChange={setAgain} busy={busy} invalid={problem !== null} />
          )}
          {problem !== null && (
            <p id="pin-problem" role="alert" className="pin-problem">
              {problem}
            </p>
          )}
          <div className="pin-buttons">
            <button type="button" onClick={cancel} data-testid="pin-cancel">
              {t('card.pin.cancel')}
            </button>
            <button type="submit" className="primary" disabled={busy} data-testid="pin-ok">
              {t('card.pin.ok')}
            </button>
          </div>
        </form>
      )}
    </dialog>
  );
}

/** One PIN entry (6–8 digits, never autofilled), described by the dialog's problem line when invalid. */
function PinField({
  id,
  label,
  inputRef,
  value,
  onChange,
  busy,
  invalid,
}: {
  id: string;
  label: string;
  inputRef?: RefObject<HTMLInputElement | null>;
  value: string;
  onChange: (value: string) => void;
  busy: boolean;
  invalid: boolean;
}): ReactNode {
  return (
    <>
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        ref={inputRef}
        type="password"
        inputMode="numeric"
        autoComplete="off"
        minLength={6}
        maxLength={8}
        value={value}
        disabled={busy}
        onChange={(e) => onChange(e.target.value)}
        aria-invalid={invalid}
        aria-describedby={invalid ? 'pin-problem' : undefined}
      />
    </>
  );
}
