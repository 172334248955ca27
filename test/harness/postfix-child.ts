import { startPostfix } from './postfix';

/**
 * Starts a private Postfix, prints its master PID and work dir as one JSON line, then waits to be
 * killed. The Postfix proof test SIGKILLs this process to check that no Postfix outlives it.
 */
const postfix = await startPostfix({ contentFilter: false });
process.stdout.write(`${JSON.stringify({ masterPid: postfix.masterPid, dir: postfix.dir })}\n`);
setInterval(() => undefined, 60_000);
