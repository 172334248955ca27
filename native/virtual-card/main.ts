/**
 * Runs one virtual PIV card as its own process, inserted into a vpcd reader:
 *   tsx native/virtual-card/main.ts --state card.json [--host 127.0.0.2] [--port 35963]
 *     [--delay-ins 87 --delay-ms 5000] [--silent-ins 87]
 * Prints "ready <host>:<port>" once connected; SIGTERM pulls the card out.
 */
import { parseArgs } from 'node:util';
import { VirtualPivCard } from './piv-card';
import { CardStateStore } from './state';
import { VpcdLink } from './vpcd-link';

const { values } = parseArgs({
  options: {
    state: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: String(0x8c7b) },
    'delay-ins': { type: 'string' },
    'delay-ms': { type: 'string' },
    'silent-ins': { type: 'string' },
    verbose: { type: 'boolean', default: false },
  },
});

if (!values.state) {
  console.error('usage: main.ts --state <file> [--host H] [--port N]');
  process.exit(2);
}

const hexOpt = (v: string | undefined): number | undefined => (v === undefined ? undefined : parseInt(v, 16));
const card = new VirtualPivCard(new CardStateStore(values.state), {
  delayIns: hexOpt(values['delay-ins']),
  delayMs: values['delay-ms'] === undefined ? undefined : Number(values['delay-ms']),
  silentIns: hexOpt(values['silent-ins']),
});
const link = new VpcdLink(card, { host: values.host, port: Number(values.port) });
if (values.verbose) {
  link.on('apdu', (e: { command: Uint8Array; response: Uint8Array; ms: number }) =>
    console.log(`> ${Buffer.from(e.command).toString('hex')}\n< ${Buffer.from(e.response).toString('hex')} (${e.ms.toFixed(2)} ms)`),
  );
}
link.on('error', (err: Error) => console.error(`virtual card: ${err.message}`, err.cause ?? ''));
link.on('disconnected', () => console.log('disconnected from the reader; reconnecting'));
link.on('connected', () => console.log(`ready ${values.host}:${values.port}`));
// pcscd powers a card up once it has noticed it: from then on PC/SC clients see it present.
card.on('control', (what: string) => console.log(`control ${what}`));

for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    void link.close().then(() => process.exit(0));
  });
}

link.open().catch((err: Error) => {
  console.error(err.message, err.cause ?? '');
  process.exit(1);
});
