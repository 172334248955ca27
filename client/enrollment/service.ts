import { randomUUID } from 'node:crypto';
import { createPublicKey, X509Certificate } from 'node:crypto';
import { ApiError, type ApiErrorCode, type EnrollmentProgress, type EnrollmentRequest, type EnrollmentStep } from '../../api';
import type { CardServiceClient } from '../../native/card-service/client';
import { EnrollmentApiError, checkEnrollmentCode, checkIssued, enrollmentUrl, requestCertificates } from '../../native/piv/enrollment-api';
import type { CardSession } from '../card/card-session';

const METHOD = 'enrollment.start';

/** PIV factory values (SP 800-73 test cards, YubiKey): what a fresh card answers to. */
export const FACTORY = {
  pin: '123456',
  puk: '12345678',
  managementKey: '010203040506070801020304050607080102030405060708',
} as const;

export interface EnrollmentDeps {
  card: CardSession;
  /** The org node's URL (its pinned bundle's URL; the enrollment API is on the same origin) and the TLS CA it was fetched with. */
  org(): { bundleUrl: string; tlsCaPem?: string | undefined } | undefined;
  /** SSMAX roots the issued org CA must chain to (first launch's). */
  roots(): Promise<Uint8Array[]>;
  emit(progress: EnrollmentProgress): void;
  /** TLS CA for a `nodeUrl` given in the request (default: the pinned one, else the system CAs). */
  tlsCaPem?: string;
}

/** A failed step: the progress code the UI explains, and the API error the call rejects with. */
class StepFailed extends Error {
  constructor(
    readonly code: string,
    readonly apiCode: ApiErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * IT mode of the client (SPEC §2 "enrollment"): on the card in the reader — ask the node whether it
 * accepts the one-time code for the address (not spending it; a refusal leaves the card untouched), initialise (the new PIN
 * through a `pin.requested` prompt of purpose `enroll`; PUK and management key from the request),
 * generate 9C and 9D keys on the card with card-signed CSRs, POST them with the one-time code to the
 * org node's enrollment API, check the answer (keys, org CA under the SSMAX root) before writing,
 * write both certificates and the org CA (slot 95), then a sign / decrypt round trip on the card.
 * Every step goes out as `enrollment.progress`; the card is reached only through the card service.
 * Shares the API client and the checks with `ssmax org enroll-card` (native/piv/enrollment-api.ts).
 */
export class EnrollmentService {
  readonly #running = new Map<string, { cancelled: boolean }>();

  constructor(private readonly deps: EnrollmentDeps) {}

  async cancel(id: string): Promise<void> {
    const run = this.#running.get(id);
    if (!run) throw new ApiError('NotFound', `No enrollment ${id} is running.`, { method: 'enrollment.cancel' });
    run.cancelled = true;
  }

  async start(request: EnrollmentRequest): Promise<EnrollmentProgress> {
    const enrollmentId = randomUUID();
    const run = { cancelled: false };
    this.#running.set(enrollmentId, run);
    let step: EnrollmentStep = 'insert-card';
    const at = (next: EnrollmentStep): void => {
      if (run.cancelled) throw new StepFailed('cancelled', 'Refused', 'The enrollment was cancelled; the card may be half set up — start again.');
      step = next;
      this.deps.emit({ enrollmentId, step });
    };
    try {
      const done = await this.#enroll(request, at);
      const progress: EnrollmentProgress = { enrollmentId, step: 'done', certificates: done };
      this.deps.emit(progress);
      return progress;
    } catch (err) {
      const f = err instanceof StepFailed ? err : classify(err);
      this.deps.emit({ enrollmentId, step, error: { code: f.code, message: f.message } });
      throw new ApiError(f.apiCode, f.message, { method: METHOD, cause: err });
    } finally {
      this.#running.delete(enrollmentId);
    }
  }

  async #enroll(request: EnrollmentRequest, at: (step: EnrollmentStep) => void): Promise<{ signatureSerial: string; keyManagementSerial: string }> {
    const c = request.card ?? {};
    const currentMgmt = Buffer.from(c.currentManagementKey ?? FACTORY.managementKey, 'hex');
    const newMgmt = c.newManagementKey ? Buffer.from(c.newManagementKey, 'hex') : undefined;
    const managementKey = newMgmt ?? currentMgmt;
    const org = this.deps.org();
    const nodeUrl = request.nodeUrl ?? org?.bundleUrl;
    if (!nodeUrl) throw new StepFailed('no-org', 'Refused', 'No org node is known: pin the org bundle (first launch) or give the node URL.');
    const url = enrollmentUrl(nodeUrl);
    const tlsCa = request.nodeUrl ? (this.deps.tlsCaPem ?? org?.tlsCaPem) : org?.tlsCaPem;
    const roots = await this.deps.roots();
    const card = this.deps.card;

    at('insert-card');
    const status = await card.status();
    if (status.state === 'no-reader' || status.state === 'no-card')
      throw new StepFailed('no-card', 'CardUnavailable', 'No card is in the reader: insert the card to enroll.');
    if (status.state === 'blocked') throw new StepFailed('pin-blocked', 'PinBlocked', 'The card\'s PIN is blocked: reset it with the PUK first.');

    // Before anything on the card changes: re-enrolling an enrolled card with a wrong, used or expired
    // code (or the wrong address) would otherwise replace its keys and orphan its certificates.
    at('check-code');
    await checkEnrollmentCode({ url, address: request.email, code: request.enrollmentCode, tlsCa });

    at('initialise');
    const newPin = await card.requestPin('enroll', `Choose the new PIN for ${request.email}'s card (6–8 digits)`);
    if (newPin === null) throw new StepFailed('pin-cancelled', 'PinCancelled', 'PIN entry was cancelled; the card was not changed.');
    await onCard(card, (s) =>
      s.enrollInitialise({
        currentPin: c.currentPin ?? FACTORY.pin,
        currentPuk: c.currentPuk ?? FACTORY.puk,
        currentManagementKey: currentMgmt,
        newPin,
        ...(c.newPuk ? { newPuk: c.newPuk } : {}),
        ...(newMgmt ? { newManagementKey: { algorithm: newMgmt.length === 16 ? 'aes128' : newMgmt.length === 32 ? 'aes256' : 'aes192', key: newMgmt } } : {}),
      }),
    );

    at('generate-keys');
    const keys = await onCard(card, (s) => s.enrollGenerate({ algorithm: request.algorithm, subject: `CN=${request.email}`, pin: newPin, managementKey }));

    at('request-certificates');
    const issued = await requestCertificates({
      url,
      address: request.email,
      code: request.enrollmentCode,
      signatureCsr: Buffer.from(keys.signature.csr).toString('base64'),
      keyManagementCsr: Buffer.from(keys.keyManagement.csr).toString('base64'),
      tlsCa,
    });
    const spki = (der: Uint8Array) => createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' });
    checkIssued(issued, { signature: spki(keys.signature.spki), keyManagement: spki(keys.keyManagement.spki) }, roots);

    at('write-certificates');
    await onCard(card, (s) => s.enrollWrite({ managementKey, ...issued }));

    at('check');
    await onCard(card, (s) => s.enrollCheck(newPin));
    const serial = (der: Uint8Array): string => new X509Certificate(der).serialNumber.toLowerCase();
    return { signatureSerial: serial(issued.signatureCertificate), keyManagementSerial: serial(issued.keyManagementCertificate) };
  }
}

function onCard<T>(card: CardSession, op: (service: CardServiceClient) => Promise<T>): Promise<T> {
  return card.run(METHOD, 'Enroll the staff card', op);
}

/** Card and API failures as the step codes the UI explains. */
function classify(err: unknown): StepFailed {
  const names: string[] = [];
  for (let e: unknown = err; e instanceof Error; e = e.cause) names.push(e.name);
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof EnrollmentApiError) {
    if (err.code === 'unreachable') return new StepFailed('ca-unreachable', 'ServerUnavailable', `The org's enrollment service cannot be reached: ${message}`, { cause: err });
    if (err.code === 'code-refused') return new StepFailed('code-refused', 'Refused', 'The enrollment code is not valid for this address (unknown, used or expired); ask the org CA for a new one.', { cause: err });
    if (err.code === 'refused') return new StepFailed('refused', 'Refused', message, { cause: err });
    return new StepFailed('bad-answer', 'Refused', `The issued certificates failed the checks, nothing was written to the card: ${message}`, { cause: err });
  }
  if (names.some((n) => n === 'PinBlockedError' || n === 'PinBlocked')) return new StepFailed('pin-blocked', 'PinBlocked', 'The card\'s PIN is blocked: reset it with the PUK first.', { cause: err });
  if (names.some((n) => ['ManagementKeyError', 'WrongPinError', 'WrongPukError', 'WrongPin'].includes(n)))
    return new StepFailed('wrong-card', 'Refused', `This card does not accept the given current PIN, PUK or management key (not factory-fresh, or another org's): ${message}`, { cause: err });
  if (names.includes('EnrollmentCheckFailed')) return new StepFailed('check-failed', 'Refused', message, { cause: err });
  if (err instanceof ApiError) return new StepFailed(err.code === 'CardUnavailable' ? 'no-card' : 'card-failed', err.code, message, { cause: err });
  return new StepFailed('card-failed', 'Internal', message, { cause: err });
}
