/**
 * Runs one virtual PIV card as its own process, inserted into a vpcd reader:
 *   node --import tsx native/virtual-card/main.ts --state card.json [--host 127.0.0.2] [--port 35963]
 *     [--delay-ins 87 --delay-ms 5000] [--silent-ins 87] [--verbose]
 * (`ssmax card virtual` does the same.) SIGTERM pulls the card out.
 */
import { parseArgs } from 'node:util';
import { runVirtualCard } from './run';

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
try {
  const { stop } = await runVirtualCard({
    stateFile: values.state,
    host: values.host,
    port: Number(values.port),
    delayIns: hexOpt(values['delay-ins']),
    delayMs: values['delay-ms'] === undefined ? undefined : Number(values['delay-ms']),
    silentIns: hexOpt(values['silent-ins']),
    verbose: values.verbose,
  });
  for (const sig of ['SIGTERM', 'SIGINT'] as const)
    process.on(sig, () => void stop().then(() => process.exit(0)));
} catch (err) {
  console.error((err as Error).message, (err as Error).cause ?? '');
  process.exit(1);
}
