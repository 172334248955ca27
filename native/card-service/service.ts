import { CardWatcher } from '../pcsc/card-watcher';
import { CardSigner, openCardDecryptor, type PinRequest } from '../piv/card-keys';
import { PinCache } from '../piv/pin-cache';
import { checkEnrolledCard, generateKeyWithCsr, importCertificate, writeOrgCa } from '../piv/enrollment';
import { PivSession, PivSlot } from '../piv/piv-session';
import type { EcdhDecryptor, RsaDecryptor } from '../../smime/keys';
import {
  serializeError,
  type CardRequest,
  type CardStatusInfo,
  type FromService,
  type GeneratedKeys,
  type ToService,
} from './protocol';

/** The two ends a service can be reached through: Node's `process` (fork) or Electron's `process.parentPort`. */
export interface ServicePort {
  send(message: FromService): void;
  onMessage(listener: (message: ToService) => void): void;
}

/**
 * The card service: the only place the PC/SC binding is loaded. It owns the watcher and the PIN
 * cache; the app asks for operations and answers PIN requests. A stuck card can freeze this
 * process's PC/SC calls, never the app: the client times out and restarts it.
 */
export async function serveCards(
  port: ServicePort,
  options: { pinTtlMs?: number; apduTimeoutMs?: number } = {},
): Promise<() => void> {
  const watcher = new CardWatcher({ apduTimeoutMs: options.apduTimeoutMs });
  const pinCache = new PinCache({ ttlMs: options.pinTtlMs });
  pinCache.clearOnRemoval(watcher);
  watcher.on('insert', (e) => port.send({ type: 'event', event: 'insert', reader: e.reader }));
  watcher.on('remove', (e) => port.send({ type: 'event', event: 'remove', reader: e.reader }));
  watcher.on('service-lost', () => port.send({ type: 'event', event: 'service-lost' }));
  watcher.on('service-restored', () => port.send({ type: 'event', event: 'service-restored' }));
  watcher.on('error', () => undefined);

  let nextPin = 1;
  const pinWaiters = new Map<number, (pin: string | null) => void>();
  const pinPrompt = (request: PinRequest): Promise<string | null> =>
    new Promise((resolve) => {
      const id = nextPin++;
      pinWaiters.set(id, resolve);
      port.send({ type: 'pin-request', id, request });
    });

  const signers = new Map<string, CardSigner>();
  const decryptors = new Map<string, RsaDecryptor | EcdhDecryptor>();
  const key = (reader?: string): string => reader ?? '';

  /** One card transaction on the named reader, else the first reader with a card. */
  const onCard = async <T>(reader: string | undefined, work: (piv: PivSession) => Promise<T>): Promise<T> => {
    const found = await watcher.waitForCard({ reader, timeoutMs: 2_000 });
    return watcher.transaction((channel) => work(new PivSession(channel)), { reader: found.reader });
  };
  /** After enrollment the card's keys, certificates and PIN changed: forget what was cached. */
  const forgetCard = (): void => {
    pinCache.clear();
    signers.clear();
    decryptors.clear();
  };

  const handle = async (req: CardRequest): Promise<{ value: unknown; stats?: unknown }> => {
    switch (req.op) {
      case 'readers':
        return { value: watcher.readers().map((r) => ({ name: r.name, present: r.present })) };
      case 'status': {
        const readers = watcher.readers();
        const first = readers[0];
        if (first === undefined) return { value: { state: 'no-reader' } satisfies CardStatusInfo };
        const reader =
          req.reader === undefined
            ? (readers.find((r) => r.present) ?? first)
            : readers.find((r) => r.name === req.reader || r.name.startsWith(req.reader as string));
        if (reader === undefined || !reader.present)
          return { value: { state: 'no-card', reader: reader?.name ?? first.name } satisfies CardStatusInfo };
        const info = await watcher.transaction(
          async (channel) => {
            const piv = new PivSession(channel);
            await piv.select();
            const cardId = (await piv.cardGuid()) ?? 'unknown-card';
            const pin = await piv.pinStatus();
            const signatureCertificate = await piv.readCertificate(PivSlot.SIGNATURE);
            return {
              state: 'present',
              reader: channel.readerName,
              cardId,
              signatureCertificate,
              triesLeft: pin.triesLeft,
              blocked: pin.blocked,
              pinCached: pinCache.get(cardId) !== undefined,
            } satisfies CardStatusInfo;
          },
          { reader: reader.name },
        );
        return { value: info };
      }
      case 'clear-pin':
        pinCache.clear();
        return { value: true };
      case 'enroll-initialise': {
        forgetCard();
        const i = req.init;
        await onCard(req.reader, async (piv) => {
          // Management key first (a wrong one leaves PIN and PUK untouched), then PIN, then PUK.
          await piv.select();
          await piv.authenticateManagementKey(i.currentManagementKey);
          if (i.newManagementKey) await piv.setManagementKey(i.newManagementKey.algorithm, i.newManagementKey.key);
          await piv.changePin(i.currentPin, i.newPin);
          if (i.newPuk) await piv.changePuk(i.currentPuk, i.newPuk);
        });
        return { value: true };
      }
      case 'enroll-generate': {
        forgetCard();
        const value = await onCard(req.reader, async (piv): Promise<GeneratedKeys> => {
          const one = async (slot: number) => {
            const g = await generateKeyWithCsr(piv, { slot, algorithm: req.algorithm, subject: req.subject, pin: req.pin, managementKey: req.managementKey });
            return { spki: new Uint8Array(g.publicKey.export({ type: 'spki', format: 'der' })), csr: g.csr };
          };
          return { signature: await one(PivSlot.SIGNATURE), keyManagement: await one(PivSlot.KEY_MANAGEMENT) };
        });
        return { value };
      }
      case 'enroll-write': {
        forgetCard();
        await onCard(req.reader, async (piv) => {
          await importCertificate(piv, PivSlot.SIGNATURE, req.signatureCertificate, req.managementKey);
          await importCertificate(piv, PivSlot.KEY_MANAGEMENT, req.keyManagementCertificate, req.managementKey);
          await writeOrgCa(piv, req.orgCa, req.managementKey);
        });
        return { value: true };
      }
      case 'enroll-check':
        await onCard(req.reader, (piv) => checkEnrolledCard(piv, req.pin));
        return { value: true };
      case 'open-signer': {
        const signer = await CardSigner.open({ watcher, pinPrompt, pinCache, reader: req.reader });
        signers.set(key(req.reader), signer);
        return {
          value: { certificate: signer.certificate, algorithm: signer.algorithm, cardId: signer.cardId },
        };
      }
      case 'open-decryptor': {
        const d = await openCardDecryptor({ watcher, pinPrompt, pinCache, reader: req.reader });
        decryptors.set(key(req.reader), d);
        return { value: { kind: d.kind, certificate: d.certificate } };
      }
      case 'sign': {
        const signer =
          signers.get(key(req.reader)) ??
          (await CardSigner.open({ watcher, pinPrompt, pinCache, reader: req.reader }));
        const value = await signer.sign({ digest: req.digest, data: req.data });
        return { value, stats: signer.lastStats };
      }
      case 'rsa-raw-decrypt':
      case 'ecdh': {
        const d =
          decryptors.get(key(req.reader)) ??
          (await openCardDecryptor({ watcher, pinPrompt, pinCache, reader: req.reader }));
        const stats = (): unknown => (d as { lastStats?: unknown }).lastStats;
        if (req.op === 'rsa-raw-decrypt') {
          if (d.kind !== 'rsa') throw new Error('the 9D key is not RSA');
          return { value: await d.rsaRawDecrypt(req.block), stats: stats() };
        }
        if (d.kind !== 'ecdh') throw new Error('the 9D key is not P-256');
        return { value: await d.ecdh(req.point), stats: stats() };
      }
    }
  };

  port.onMessage((msg) => {
    if (msg.type === 'pin-response') {
      pinWaiters.get(msg.id)?.(msg.pin);
      pinWaiters.delete(msg.id);
      return;
    }
    handle(msg.request).then(
      ({ value, stats }) => port.send({ type: 'response', id: msg.id, ok: true, value, stats }),
      (err: unknown) => port.send({ type: 'response', id: msg.id, ok: false, error: serializeError(err) }),
    );
  });
  await watcher.start();
  port.send({ type: 'ready' });
  return () => watcher.stop();
}
