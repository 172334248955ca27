import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ServiceHost } from '../service-host';
import { startBridge } from './server';

/**
 * `npm run bridge`: the client without Electron — starts the service host and the loopback bridge
 * and prints the address to open in a browser (it carries the per-run token, so keep it private).
 *
 *   npm run bridge -- [--data-dir DIR] [--renderer DIR]
 */
const { values } = parseArgs({
  options: {
    'data-dir': { type: 'string', default: join(homedir(), '.ssmax') },
    renderer: { type: 'string', default: resolve('dist', 'renderer') },
  },
});

const host = await ServiceHost.open({ dataDir: resolve(values['data-dir']), runtime: 'bridge' });
const bridge = await startBridge({ host, staticDir: resolve(values.renderer), log: (m) => console.error(m) });
console.log(`SSMAX is running. Open this address in a browser on this machine:\n\n  ${bridge.url}\n`);
console.log(`Data: ${host.dataDir}   (Ctrl-C to stop)`);

const stop = (): void => {
  void bridge.close().then(() => process.exit(0));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
