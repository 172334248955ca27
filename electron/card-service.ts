import { utilityProcess, type UtilityProcess } from 'electron';
import type { ServiceChannel, ServiceLauncher } from '../native/card-service/client';
import type { FromService } from '../native/card-service/protocol';

/**
 * The card service (native/card-service/worker) in an Electron utility process: the PC/SC binding
 * never loads in the main process, so a stuck reader cannot freeze the UI. Same `ServiceLauncher`
 * interface as `nodeServiceLauncher` (child_process.fork) used under plain Node and in tests; the
 * worker talks through `process.parentPort` here and `process.send` there.
 *
 * `entry` is the bundled worker (`dist/electron/card-service.js`, `npm run build:electron`).
 */
export function utilityProcessLauncher(
  entry: string,
  opts: { env?: NodeJS.ProcessEnv; pinTtlMs?: number } = {},
): ServiceLauncher {
  return (): ServiceChannel => {
    const env: NodeJS.ProcessEnv = { ...(opts.env ?? process.env) };
    if (opts.pinTtlMs !== undefined) env.SSMAX_PIN_TTL_MS = String(opts.pinTtlMs);
    const child: UtilityProcess = utilityProcess.fork(entry, [], {
      serviceName: 'SSMAX card service',
      env,
      stdio: 'inherit',
    });
    return {
      send: (m) => child.postMessage(m),
      onMessage: (l) => child.on('message', (m: unknown) => l(m as FromService)),
      onExit: (l) => void child.once('exit', () => l()),
      kill: () => void child.kill(),
    };
  };
}
