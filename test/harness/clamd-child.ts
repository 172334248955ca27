import { startClamd } from './clamd';

/**
 * Starts clamd, prints its PID and work dir as one JSON line, then waits to be killed. The clamd
 * proof test SIGKILLs this process to check that clamd does not outlive a dead test runner.
 */
const clamd = await startClamd();
process.stdout.write(`${JSON.stringify({ pid: clamd.pid, dir: clamd.dir })}\n`);
setInterval(() => undefined, 60_000);
