/**
 * Entry of the card service process. Under Electron it is started with `utilityProcess.fork` and
 * talks through `process.parentPort`; under Node (tests, CLI tools) with `child_process.fork(...,
 * { serialization: 'advanced' })` and talks through `process.send`.
 */
import { serveCards, type ServicePort } from './service';
import type { FromService, ToService } from './protocol';

interface ParentPort {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (e: { data: unknown }) => void): void;
}

const parentPort = (process as unknown as { parentPort?: ParentPort }).parentPort;
let port: ServicePort;
if (parentPort) {
  port = {
    send: (m: FromService) => parentPort.postMessage(m),
    onMessage: (l) => parentPort.on('message', (e) => l(e.data as ToService)),
  };
} else if (process.send) {
  const send = process.send.bind(process);
  port = {
    send: (m: FromService) => void send(m),
    onMessage: (l) => process.on('message', (m) => l(m as ToService)),
  };
  // The app went away: nothing left to serve.
  process.on('disconnect', () => process.exit(0));
} else {
  console.error('card service: start me with utilityProcess.fork or child_process.fork');
  process.exit(2);
}

await serveCards(port, {
  pinTtlMs: process.env.SSMAX_PIN_TTL_MS ? Number(process.env.SSMAX_PIN_TTL_MS) : undefined,
  apduTimeoutMs: process.env.SSMAX_APDU_TIMEOUT_MS ? Number(process.env.SSMAX_APDU_TIMEOUT_MS) : undefined,
});
