/**
 * `npm run demo [-- --reset] [--user alice|bob|carol] [--once] [--open] [--browser] [--state-dir DIR]`:
 * brings up the local two-organisation SSMAX world (demo/world.ts), then the desktop client of the
 * chosen user: Electron when its binary is installed (unless --browser), otherwise the renderer built
 * with Vite, the service host and the loopback bridge (URL printed; --open starts Chromium on it).
 * `--once`: bring up, seed, check, stop. Ctrl-C stops everything cleanly.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs, promisify } from 'node:util';
import { startBridge, type Bridge } from '../client/bridge/server';
import { openDemoClient, type OpenedDemoClient } from '../demo/client';
import { DEMO_USERS, startDemoWorld, type DemoUser, type DemoWorld } from '../demo/world';
import { findElectronBinary } from './electron-binary';

const run = promisify(execFile);
const repo = resolve(import.meta.dirname, '..');

const { values } = parseArgs({
  options: {
    reset: { type: 'boolean', default: false },
    once: { type: 'boolean', default: false },
    open: { type: 'boolean', default: false },
    browser: { type: 'boolean', default: false },
    user: { type: 'string', default: 'bob' },
    'state-dir': { type: 'string', default: resolve(repo, '.ssmax-demo') },
  },
});
let user = values.user as DemoUser;
if (!DEMO_USERS.includes(user)) {
  console.error(`demo: --user must be one of ${DEMO_USERS.join(', ')}`);
  process.exit(2);
}

let world: DemoWorld | undefined;
let client: OpenedDemoClient | undefined;
let bridge: Bridge | undefined;
let browser: ChildProcess | undefined;
let stopping: Promise<void> | undefined;

function stopAll(): Promise<void> {
  stopping ??= (async () => {
    browser?.kill('SIGTERM');
    await bridge?.close().catch((e: unknown) => console.error(`stopping the bridge: ${String(e)}`));
    await client?.close().catch((e: unknown) => console.error(`stopping the client: ${String(e)}`));
    await world?.stop();
  })();
  return stopping;
}

async function main(): Promise<void> {
  // Registered before anything starts. Ctrl-C reaches npm, tsx and this process at once, so the
  // signal can arrive twice: keep handling it (a second default SIGINT would orphan the daemons).
  const interrupted = new Promise<void>((done) => {
    process.on('SIGINT', () => done());
    process.on('SIGTERM', () => done());
  });
  const t0 = Date.now();
  world = await startDemoWorld({
    stateDir: values['state-dir'],
    reset: values.reset,
    card: user,
    log: (l) => console.log(`demo: ${l}`),
  });
  console.log(`demo: world up in ${((Date.now() - t0) / 1000).toFixed(1)} s (state in ${world.stateDir})`);

  if (values.once) {
    // The check: the user's client lists the seeded mail of their inbox.
    client = await openDemoClient(world.clientFor(user), { answerPin: true });
    const expected = world.seeded.filter((m) => m.mailbox === user).length;
    const rows = await waitForRows(client, expected);
    console.log(`demo: ${user}'s inbox lists ${rows} message(s); ${expected} seeded there`);
    if (rows < expected) throw new Error(`${user}'s inbox lists ${rows} messages, ${expected} were seeded`);
    await stopAll();
    return;
  }

  console.log('demo: building the renderer (vite)…');
  await run('npx', ['vite', 'build', '--config', 'vite.renderer.config.ts', '--logLevel', 'warn'], {
    cwd: repo,
  });
  const electron = findElectronBinary();
  if (electron.found && !values.browser) {
    await startElectron(world, electron.binary);
  } else {
    if (!electron.found)
      console.log(
        `demo: no Electron binary (${electron.reason}); the client runs in the browser through the loopback bridge.`,
      );
    await startBrowserClient(world);
    // One-key user switch: type alice, bob or carol and Enter — the card in the reader and the client change.
    createInterface({ input: process.stdin }).on('line', (line) => {
      const next = line.trim() as DemoUser;
      if (!DEMO_USERS.includes(next) || next === user || stopping) return;
      void switchUser(next).catch((err: unknown) =>
        console.error(`demo: switching to ${next} failed: ${String(err)}`),
      );
    });
  }
  await interrupted;
  console.log('\ndemo: stopping…');
  await stopAll();
}

async function startBrowserClient(w: DemoWorld): Promise<void> {
  await w.insertCard(user);
  client = await openDemoClient(w.clientFor(user));
  bridge = await startBridge({
    host: client.host,
    staticDir: resolve(repo, 'dist/renderer'),
    log: (m) => console.error(m),
  });
  const p = w.people[user];
  console.log(`
SSMAX demo — ${p.name} <${p.address}> (${w.orgs[p.org].name}), card PIN ${w.clientFor(user).pin}

  Open:  ${bridge.url}

Seeded mail:
${w.seeded.map((m) => `  [${m.mailbox}] ${m.subject} — ${m.shows}`).join('\n')}

Switch user: type alice, bob or carol + Enter (or npm run demo -- --user carol)   Start over: npm run demo -- --reset
Ctrl-C stops everything.`);
  if (values.open) {
    const chromium = '/usr/bin/chromium';
    if (existsSync(chromium))
      browser = spawn(chromium, ['--no-sandbox', '--no-first-run', bridge.url], { stdio: 'ignore' });
    else console.log('demo: --open: /usr/bin/chromium is not installed; open the address by hand.');
  }
}

async function switchUser(next: DemoUser): Promise<void> {
  browser?.kill('SIGTERM');
  browser = undefined;
  await bridge?.close();
  bridge = undefined;
  await client?.close();
  client = undefined;
  user = next;
  await startBrowserClient(world!);
}

/**
 * Electron on this checkout (as \`npm start\` runs it) with the user's own data folder and provisioning
 * file; the card service reaches the demo pcscd, the node's TLS certificate is trusted through
 * NODE_EXTRA_CA_CERTS. The first-launch wizard and the account entry are the user's (password printed).
 */
async function startElectron(w: DemoWorld, binary: string): Promise<void> {
  await w.insertCard(user);
  const c = w.clientFor(user);
  const r = await run('npm', ['run', 'build:electron'], { cwd: repo }).catch((err: unknown) => err as Error);
  if (r instanceof Error) throw new Error(`npm run build:electron failed: ${r.message}`);
  const env = {
    ...process.env,
    ...w.cardEnv,
    SSMAX_DATA_DIR: join(w.stateDir, 'clients', `${user}-electron`),
    SSMAX_PROVISIONING_FILE: c.provisioningFile,
    NODE_EXTRA_CA_CERTS: join(w.stateDir, 'tls', 'tls.pem'),
  };
  browser = spawn(binary, ['.'], { cwd: repo, env, stdio: 'inherit' });
  console.log(
    `demo: Electron started for ${c.person.address} — IMAP ${c.imap.host}:${c.imap.port} (plain, loopback), password ${c.imap.password}, card PIN ${c.pin}. Ctrl-C stops everything.`,
  );
}

async function waitForRows(c: OpenedDemoClient, n: number): Promise<number> {
  const end = Date.now() + 60_000;
  let rows = 0;
  while (Date.now() < end) {
    const page = await c.host.messages
      .page({ folder: { accountId: c.accountId, path: 'INBOX' }, offset: 0, limit: 50 })
      .catch(() => undefined);
    rows = page?.rows.length ?? 0;
    if (rows >= n) break;
    await new Promise((r) => setTimeout(r, 300));
  }
  return rows;
}

main().then(
  // stdin (the user switch) would keep the process alive.
  () => process.exit(0),
  async (err: unknown) => {
    console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
    await stopAll();
    process.exit(1);
  },
);
