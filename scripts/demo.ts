/**
 * `npm run demo`. The two-organisation demo world (authority, org nodes, enrolled virtual cards,
 * seeded mail, the desktop client) is issue 9 and grows as each capability lands. Until then this
 * starts the real services the product runs on, prints where they are, and says plainly what is
 * not there yet. Ctrl-C stops everything.
 */
import { startClamd } from '../test/harness/clamd';
import { startDovecot } from '../test/harness/dovecot';
import { startPcscd } from '../test/harness/pcsc';
import type { ServiceHandle } from '../test/harness/process';

const started: ServiceHandle[] = [];

async function stopAll(): Promise<void> {
  for (const s of started.reverse()) {
    await s.stop().catch((err: unknown) => console.error(`stopping ${s.name}: ${String(err)}`));
  }
}

async function main(): Promise<void> {
  // Registered before any service starts, so Ctrl-C stops them cleanly instead of killing them.
  // Ctrl-C reaches npm, tsx and this process at once, so the signal can arrive twice: keep
  // handling it (a second default SIGINT would kill us mid-shutdown and orphan the daemons).
  const interrupted = new Promise<void>((resolve) => {
    process.on('SIGINT', () => resolve());
    process.on('SIGTERM', () => resolve());
  });
  console.log('SSMAX demo: starting the services the product runs on…');
  const dovecot = await startDovecot({ users: [{ address: 'alice@a.example', password: 'demo' }] });
  started.push(dovecot);
  const clamd = await startClamd();
  started.push(clamd);
  const pcscd = await startPcscd();
  started.push(pcscd);

  console.log(`
  Dovecot  IMAP ${dovecot.imap.host}:${dovecot.imap.port}  LMTP ${dovecot.lmtp.host}:${dovecot.lmtp.port}  (user alice@a.example / demo)
  ClamAV   clamd ${clamd.tcp.host}:${clamd.tcp.port}  (project test signatures only)
  PC/SC    pcscd socket ${pcscd.socketPath}  reader "${pcscd.readerName}"  (vpcd at ${pcscd.vpcd.host}:${pcscd.vpcd.port})

Not there yet: the SSMAX authority and org nodes, enrolled staff cards, seeded mail and the desktop
client are being built (see the README's status). Press Ctrl-C to stop.`);

  if (process.argv.includes('--once')) {
    await stopAll();
    return;
  }
  await interrupted;
  console.log('\nstopping…');
  await stopAll();
}

main().catch(async (err: unknown) => {
  console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
  await stopAll();
  process.exit(1);
});
