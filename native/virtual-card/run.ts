import { VirtualPivCard } from './piv-card';
import { CardStateStore } from './state';
import { VpcdLink } from './vpcd-link';

export interface RunVirtualCardOptions {
  stateFile: string;
  host: string;
  port: number;
  delayIns?: number;
  delayMs?: number;
  silentIns?: number;
  /** Log every APDU and its answer. */
  verbose?: boolean;
  log?: (line: string) => void;
}

/**
 * Runs one virtual PIV card inserted into a vpcd reader until `stop()` (card pulled out). Logs
 * "ready host:port" once connected and "control power-on" when pcscd has seen the card, which is
 * what the test harness waits for. Reconnects by itself when pcscd restarts.
 */
export async function runVirtualCard(
  opts: RunVirtualCardOptions,
): Promise<{ card: VirtualPivCard; stop: () => Promise<void> }> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const card = new VirtualPivCard(new CardStateStore(opts.stateFile), {
    delayIns: opts.delayIns,
    delayMs: opts.delayMs,
    silentIns: opts.silentIns,
  });
  const link = new VpcdLink(card, { host: opts.host, port: opts.port });
  if (opts.verbose) {
    link.on('apdu', (e: { command: Uint8Array; response: Uint8Array; ms: number }) =>
      log(
        `> ${Buffer.from(e.command).toString('hex')}\n< ${Buffer.from(e.response).toString('hex')} (${e.ms.toFixed(2)} ms)`,
      ),
    );
  }
  link.on('error', (err: Error) => log(`virtual card: ${err.message} ${err.cause ? String(err.cause) : ''}`));
  link.on('disconnected', () => log('disconnected from the reader; reconnecting'));
  link.on('connected', () => log(`ready ${opts.host}:${opts.port}`));
  card.on('control', (what: string) => log(`control ${what}`));
  await link.open();
  return { card, stop: () => link.close() };
}
