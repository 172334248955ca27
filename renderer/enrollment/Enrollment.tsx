import { useEffect, useId, useRef, useState, type FormEvent, type ReactNode } from 'react';
import {
  ApiError,
  METHODS,
  type ApiErrorCode,
  type EnrollmentProgress,
  type EnrollmentRequest,
  type EnrollmentStep,
  type SsmaxClient,
} from '../../api';
import { useI18n } from '../i18n/i18n';
import type { MessageKey } from '../i18n/messages';
import '../compose/forms.css';

export const ENROLLMENT_STEPS: readonly EnrollmentStep[] = [
  'insert-card',
  'check-code',
  'initialise',
  'generate-keys',
  'request-certificates',
  'write-certificates',
  'check',
  'done',
];

/** The error codes the enrollment service reports, mapped to an explanation; others show their message. */
const KNOWN_ERRORS: Record<string, MessageKey> = {
  'wrong-card': 'enrollment.error.wrong-card',
  'unknown-card': 'enrollment.error.wrong-card',
  'pin-blocked': 'enrollment.error.pin-blocked',
  PinBlocked: 'enrollment.error.pin-blocked',
  'ca-unreachable': 'enrollment.error.ca-unreachable',
  ServerUnavailable: 'enrollment.error.ca-unreachable',
  'wrong-code': 'enrollment.error.wrong-code',
  'code-refused': 'enrollment.error.wrong-code',
  'no-card': 'enrollment.error.no-card',
  CardUnavailable: 'enrollment.error.no-card',
  'pin-cancelled': 'enrollment.error.pin-cancelled',
  PinCancelled: 'enrollment.error.pin-cancelled',
  refused: 'enrollment.error.refused',
  'bad-answer': 'enrollment.error.bad-answer',
  'check-failed': 'enrollment.error.check-failed',
  cancelled: 'enrollment.error.cancelled',
  'no-org': 'enrollment.error.no-org',
  'card-failed': 'enrollment.error.card-failed',
};

const PUK = /^[0-9]{6,8}$/;
const PIN = /^[0-9]{6,8}$/;
const MANAGEMENT_KEY = /^(?:[0-9a-fA-F]{32}|[0-9a-fA-F]{48}|[0-9a-fA-F]{64})$/;

/** The card secrets typed in the form (the new PIN is never among them: the PIN prompt asks it). */
interface Secrets {
  newPuk: string;
  newPukAgain: string;
  newKey: string;
  newKeyAgain: string;
  currentPin: string;
  currentPuk: string;
  currentKey: string;
}
const NO_SECRETS: Secrets = { newPuk: '', newPukAgain: '', newKey: '', newKeyAgain: '', currentPin: '', currentPuk: '', currentKey: '' };

/** Checks the secrets and builds the request's `card` part (absent fields: defaults / kept). */
function cardSecrets(s: Secrets): { ok: true; card: EnrollmentRequest['card'] } | { ok: false; problem: MessageKey } {
  if ((s.newPuk !== '' || s.newPukAgain !== '') && (!PUK.test(s.newPuk) || s.newPuk !== s.newPukAgain))
    return { ok: false, problem: 'enrollment.invalidPuk' };
  if ((s.newKey !== '' || s.newKeyAgain !== '') && (!MANAGEMENT_KEY.test(s.newKey) || s.newKey !== s.newKeyAgain))
    return { ok: false, problem: 'enrollment.invalidKey' };
  if ((s.currentPin !== '' && !PIN.test(s.currentPin)) || (s.currentPuk !== '' && !PUK.test(s.currentPuk)) || (s.currentKey !== '' && !MANAGEMENT_KEY.test(s.currentKey)))
    return { ok: false, problem: 'enrollment.invalidCurrent' };
  const card = {
    ...(s.currentPin !== '' ? { currentPin: s.currentPin } : {}),
    ...(s.currentPuk !== '' ? { currentPuk: s.currentPuk } : {}),
    ...(s.currentKey !== '' ? { currentManagementKey: s.currentKey } : {}),
    ...(s.newPuk !== '' ? { newPuk: s.newPuk } : {}),
    ...(s.newKey !== '' ? { newManagementKey: s.newKey } : {}),
  };
  return { ok: true, card: Object.keys(card).length > 0 ? card : undefined };
}

type Run =
  | { phase: 'form' }
  | { phase: 'running'; progress: EnrollmentProgress | null }
  | { phase: 'failed'; step: EnrollmentStep | null; code: string; message: string; apiCode?: ApiErrorCode }
  | { phase: 'done'; progress: EnrollmentProgress; at: Date };

/**
 * The IT enrollment wizard: the holder's details and the CA's one-time code, then the card is driven
 * step by step by the main process (`enrollment.start`; `enrollment.progress` events). The new PIN
 * is set through the PIN prompt (purpose `enroll`), never typed here. Ends with a printable summary.
 */
export function Enrollment({ client }: { client: SsmaxClient }): ReactNode {
  const { t, error, language } = useI18n();
  const ids = useId();
  const [request, setRequest] = useState<EnrollmentRequest>({
    email: '',
    displayName: '',
    staffId: '',
    enrollmentCode: '',
    algorithm: 'p256',
  });
  const [run, setRun] = useState<Run>({ phase: 'form' });
  const [invalid, setInvalid] = useState<MessageKey | null>(null);
  const [secrets, setSecrets] = useState<Secrets>(NO_SECRETS);
  const current = useRef<string | null>(null);
  const available = METHODS['enrollment.start'].available;

  // Progress of the running enrollment (events for another enrollment id are not ours).
  useEffect(
    () =>
      client.events.on('enrollment.progress', (p) => {
        if (current.current !== null && p.enrollmentId !== current.current) return;
        current.current = p.enrollmentId;
        setRun((r) => (r.phase === 'running' ? apply(p) : r));
      }),
    [client],
  );

  const start = (e: FormEvent): void => {
    e.preventDefault();
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(request.email)) return setInvalid('enrollment.invalidEmail');
    if (request.enrollmentCode.trim().length < 4) return setInvalid('enrollment.invalidCode');
    const card = cardSecrets(secrets);
    if (!card.ok) return setInvalid(card.problem);
    setInvalid(null);
    current.current = null;
    setRun({ phase: 'running', progress: null });
    client.enrollment.start({ ...request, enrollmentCode: request.enrollmentCode.trim(), ...(card.card !== undefined ? { card: card.card } : {}) }).then(
      (p) => {
        current.current = p.enrollmentId;
        setRun(apply(p));
      },
      (err: unknown) => {
        const apiCode = err instanceof ApiError ? err.code : 'Internal';
        // The progress event already said which step failed and why: keep its more precise code.
        setRun((r) => r.phase === 'failed' ? r : ({
          phase: 'failed',
          step: r.phase === 'running' ? (r.progress?.step ?? null) : null,
          code: apiCode,
          apiCode,
          message: err instanceof Error ? err.message : String(err),
        }));
      },
    );
  };

  const cancel = (): void => {
    const id = current.current;
    if (id !== null) void client.enrollment.cancel(id).catch(() => undefined);
    setRun({ phase: 'form' });
  };

  const set = <K extends keyof EnrollmentRequest>(k: K, v: EnrollmentRequest[K]): void => setRequest((r) => ({ ...r, [k]: v }));
  const field = (k: 'email' | 'displayName' | 'staffId' | 'enrollmentCode', label: MessageKey, type = 'text', hint?: MessageKey): ReactNode => (
    <div className="field">
      <label htmlFor={`${ids}-${k}`}>{t(label)}</label>
      <input
        id={`${ids}-${k}`}
        type={type}
        required
        autoComplete="off"
        value={request[k]}
        onChange={(e) => set(k, e.target.value)}
        aria-describedby={hint !== undefined ? `${ids}-${k}-hint` : undefined}
      />
      {hint !== undefined && (
        <span id={`${ids}-${k}-hint`} className="field-hint">
          {t(hint)}
        </span>
      )}
    </div>
  );

  const secret = (k: keyof Secrets, label: MessageKey, mode: 'numeric' | 'text'): ReactNode => (
    <div className="field">
      <label htmlFor={`${ids}-${k}`}>{t(label)}</label>
      <input
        id={`${ids}-${k}`}
        type="password"
        inputMode={mode}
        autoComplete="off"
        spellCheck={false}
        value={secrets[k]}
        onChange={(e) => setSecrets((x) => ({ ...x, [k]: e.target.value.trim() }))}
        aria-describedby={`${ids}-rules`}
      />
    </div>
  );

  const stepOf = run.phase === 'running' ? (run.progress?.step ?? null) : run.phase === 'failed' ? run.step : run.phase === 'done' ? 'done' : null;

  return (
    <main className="wizard enrollment" aria-labelledby={`${ids}-h`} data-testid="enrollment">
      <h1 id={`${ids}-h`}>{t('enrollment.heading')}</h1>
      <p className="wizard-intro no-print">{t('enrollment.intro')}</p>
      {!available && (
        <p role="alert" className="banner banner-warning no-print" data-testid="enrollment-unavailable">
          {t('enrollment.unavailable')}
        </p>
      )}

      {run.phase === 'form' && (
        <form className="wizard-panel no-print" onSubmit={start} noValidate>
          <fieldset>
            <legend>{t('enrollment.person')}</legend>
            {field('displayName', 'enrollment.displayName')}
            {field('email', 'enrollment.email', 'email')}
            {field('staffId', 'enrollment.staffId')}
          </fieldset>
          {field('enrollmentCode', 'enrollment.code', 'text', 'enrollment.code.hint')}
          <div className="field">
            <label htmlFor={`${ids}-alg`}>{t('enrollment.algorithm')}</label>
            <select id={`${ids}-alg`} value={request.algorithm} onChange={(e) => set('algorithm', e.target.value as EnrollmentRequest['algorithm'])}>
              <option value="p256">{t('enrollment.algorithm.p256')}</option>
              <option value="rsa2048">{t('enrollment.algorithm.rsa2048')}</option>
            </select>
          </div>
          <fieldset>
            <legend>{t('enrollment.secrets')}</legend>
            <p className="field-hint" id={`${ids}-rules`}>
              {t('enrollment.secrets.rules')}
            </p>
            {secret('newPuk', 'enrollment.newPuk', 'numeric')}
            {secret('newPukAgain', 'enrollment.newPuk.confirm', 'numeric')}
            {secret('newKey', 'enrollment.newKey', 'text')}
            {secret('newKeyAgain', 'enrollment.newKey.confirm', 'text')}
            <details>
              <summary>{t('enrollment.current')}</summary>
              {secret('currentPin', 'enrollment.currentPin', 'numeric')}
              {secret('currentPuk', 'enrollment.currentPuk', 'numeric')}
              {secret('currentKey', 'enrollment.currentKey', 'text')}
            </details>
          </fieldset>
          <p>{t('enrollment.insertHint')}</p>
          <p>{t('enrollment.pinHint')}</p>
          {invalid !== null && (
            <p role="alert" className="field-error">
              {t(invalid)}
            </p>
          )}
          <div className="actions">
            <button type="submit" className="primary">
              {t('enrollment.start')}
            </button>
          </div>
        </form>
      )}

      {run.phase !== 'form' && (
        <section className="wizard-panel" aria-labelledby={`${ids}-p`}>
          <h2 id={`${ids}-p`} className="no-print">
            {t('enrollment.progress')}
          </h2>
          <ol className="enrollment-steps no-print" data-testid="enrollment-steps">
            {ENROLLMENT_STEPS.map((step) => {
              const status = statusOf(step, stepOf, run.phase);
              return (
                <li key={step} className={`step step-${status}`} data-step={step} data-status={status} aria-current={status === 'current' ? 'step' : undefined}>
                  <span className="step-name">{t(`enrollment.step.${step}`)}</span>{' '}
                  <span className="step-status">({t(`enrollment.status.${status}`)})</span>
                </li>
              );
            })}
          </ol>
          <p role="status" className="visually-hidden">
            {stepOf !== null ? t(`enrollment.step.${stepOf}`) : ''}
          </p>
          {run.phase === 'running' && (
            <div className="actions no-print">
              <button type="button" onClick={cancel}>
                {t('enrollment.cancel')}
              </button>
            </div>
          )}
          {run.phase === 'failed' && (
            <div role="alert" className="banner banner-error no-print" data-testid="enrollment-error">
              <p>
                <strong>{t('enrollment.failed.heading')}</strong>
              </p>
              <p>{explain(run, t, error)}</p>
              {run.step !== null && ENROLLMENT_STEPS.indexOf(run.step) > ENROLLMENT_STEPS.indexOf('initialise') && (
                // The card's secrets are already the new ones: a retry on this card needs them as the "current" ones.
                <p data-testid="enrollment-initialised">{t('enrollment.error.initialised')}</p>
              )}
              <p className="error-detail">{run.message}</p>
              <div className="actions">
                <button type="button" onClick={() => setRun({ phase: 'form' })}>
                  {t('firstLaunch.retry')}
                </button>
              </div>
            </div>
          )}
          {run.phase === 'done' && (
            <div className="enrollment-summary" data-testid="enrollment-summary">
              <h2>{t('enrollment.summary.heading')}</h2>
              <p className="no-print">{t('enrollment.done.heading')}</p>
              <dl className="org-facts">
                <dt>{t('enrollment.displayName')}</dt>
                <dd>{request.displayName}</dd>
                <dt>{t('enrollment.email')}</dt>
                <dd>{request.email}</dd>
                <dt>{t('enrollment.staffId')}</dt>
                <dd>{request.staffId}</dd>
                <dt>{t('enrollment.algorithm')}</dt>
                <dd>{t(`enrollment.algorithm.${request.algorithm}`)}</dd>
                <dt>{t('enrollment.summary.id')}</dt>
                <dd>
                  <code>{run.progress.enrollmentId}</code>
                </dd>
                {run.progress.certificates !== undefined && (
                  <>
                    <dt>{t('enrollment.summary.signatureSerial')}</dt>
                    <dd>
                      <code>{run.progress.certificates.signatureSerial}</code>
                    </dd>
                    <dt>{t('enrollment.summary.keySerial')}</dt>
                    <dd>
                      <code>{run.progress.certificates.keyManagementSerial}</code>
                    </dd>
                  </>
                )}
                <dt>{t('enrollment.summary.date')}</dt>
                <dd>{run.at.toLocaleString(language === 'ja' ? 'ja-JP' : 'en-GB')}</dd>
              </dl>
              <p>{t('enrollment.summary.handover')}</p>
              <div className="actions no-print">
                <button type="button" className="primary" onClick={() => window.print()}>
                  {t('enrollment.print')}
                </button>
                <button
                  type="button"
                  onClick={() => {
                    setSecrets(NO_SECRETS);
                    setRun({ phase: 'form' });
                  }}
                >
                  {t('enrollment.again')}
                </button>
              </div>
            </div>
          )}
        </section>
      )}
    </main>
  );
}

function apply(p: EnrollmentProgress): Run {
  if (p.error !== undefined) return { phase: 'failed', step: p.step, code: p.error.code, message: p.error.message };
  if (p.step === 'done') return { phase: 'done', progress: p, at: new Date() };
  return { phase: 'running', progress: p };
}

type StepStatus = 'done' | 'current' | 'failed' | 'pending';

function statusOf(step: EnrollmentStep, at: EnrollmentStep | null, phase: Run['phase']): StepStatus {
  if (phase === 'done') return 'done';
  // Refused before the card was touched (e.g. the method is not available): no step failed.
  if (phase === 'failed' && at === null) return 'pending';
  const i = ENROLLMENT_STEPS.indexOf(step);
  const j = at === null ? 0 : ENROLLMENT_STEPS.indexOf(at);
  if (i < j) return 'done';
  if (i > j) return 'pending';
  return phase === 'failed' ? 'failed' : 'current';
}

function explain(
  run: Extract<Run, { phase: 'failed' }>,
  t: (k: MessageKey) => string,
  error: (c: ApiErrorCode) => string,
): string {
  const known = KNOWN_ERRORS[run.code];
  if (known !== undefined) return t(known);
  if (run.apiCode !== undefined) return error(run.apiCode);
  return t('enrollment.error.other');
}
