import { startDovecot } from './dovecot';

/**
 * Starts a private Dovecot, prints its instance name and work dir as one JSON line, then waits to
 * be killed. The Dovecot proof test SIGKILLs this process to check that no Dovecot outlives it.
 */
const dovecot = await startDovecot({ users: [{ address: 'child@org-a.test', password: 'child-secret' }] });
process.stdout.write(`${JSON.stringify({ instance: dovecot.instance, dir: dovecot.dir })}\n`);
setInterval(() => undefined, 60_000);
