import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, statSync } from 'node:fs';
import { copyFile, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { PROVISIONING_FORMAT } from '../client/first-launch/provisioning';
import type { ServiceHostOptions } from '../client/service-host';
import { fromPem } from '../org-node/pem';
import { verifyOrgBundle } from '../smime/bundle';
import { hashPassword } from '../org-node/smtp/credentials';
import { startClamd, type ClamdHandle } from '../test/harness/clamd';
import { startDovecot, type DovecotHandle } from '../test/harness/dovecot';
import { startPcscd, type PcscdHandle } from '../test/harness/pcsc';
import { Daemon, freePort, tailOf, waitFor } from '../test/harness/process';
import { startVirtualCard, type VirtualCardHandle } from '../test/harness/virtual-card';
import { DEFAULT_MGMT_KEY, DEFAULT_PIN } from '../native/virtual-card/state';
import { seedMessages, type SeededMessage } from './seed';

/**
 * The local two-organisation SSMAX world (issue 9): the SSMAX authority, A Corp (a.example) and
 * B Corp (b.example) made through the real `ssmax` CLI, one org node per org (`ssmax node run`,
 * submission + inbound + HTTPS side), one Dovecot per org, one clamd, one pcscd with a single
 * virtual reader, a virtual staff card per person enrolled through `ssmax org enroll-card`, and
 * seeded mail in bob@b.example's inbox. Used by `npm run demo` and the tests (see README.md).
 */

export type DemoUser = 'alice' | 'bob' | 'carol';
export const DEMO_USERS: readonly DemoUser[] = ['alice', 'bob', 'carol'];
export type DemoOrgKey = 'a' | 'b';

export interface DemoPerson {
  /** Short name: one of DEMO_USERS, or the one given to `addMember` (names the card and client dir). */
  readonly user: string;
  readonly address: string;
  readonly name: string;
  readonly staffId: string;
  readonly org: DemoOrgKey;
  /** IMAP and SMTP submission password (demo only). */
  readonly password: string;
  /** The card's PIN when it is not the factory one (a member added with `addMember`: the PIN IT sets at enrollment). */
  readonly pin?: string;
}

/** A member to add to a running world (`addMember`): a person of `org` with a blank card. */
export interface NewDemoMember {
  /** Short name, lower case (their card is `cards/<user>.json`, their client `clients/<user>/`). */
  readonly user: string;
  readonly address: string;
  readonly name: string;
  readonly staffId: string;
  readonly org: DemoOrgKey;
  readonly password: string;
  /** The PIN IT will give the card when enrolling it (what `clientFor(user).pin` reports). */
  readonly pin: string;
}

export interface DemoOrg {
  readonly key: DemoOrgKey;
  readonly name: string;
  readonly domain: string;
  /** The org directory made by `ssmax org init` (org.json, keys, directory.sqlite, bundle). */
  readonly dir: string;
  /** HTTPS side of the node: bundle, CRL, enrollment API, abuse desk. */
  readonly httpsUrl: string;
  readonly bundleUrl: string;
  readonly submission: { host: string; port: number };
  readonly inbound: { host: string; port: number };
  /** The node's spool (held/ holds mail an administrator has to release). */
  readonly spoolDir: string;
  readonly imap: { host: string; port: number };
  readonly lmtp: { host: string; port: number };
}

export const DEMO_PEOPLE: Record<DemoUser, DemoPerson> = {
  alice: {
    user: 'alice',
    address: 'alice@a.example',
    name: 'Alice Arai',
    staffId: 'A-0001',
    org: 'a',
    password: 'alice-demo',
  },
  carol: {
    user: 'carol',
    address: 'carol@a.example',
    name: 'Carol Chiba',
    staffId: 'A-0002',
    org: 'a',
    password: 'carol-demo',
  },
  bob: {
    user: 'bob',
    address: 'bob@b.example',
    name: 'Bob Baba',
    staffId: 'B-0001',
    org: 'b',
    password: 'bob-demo',
  },
};

const ORGS: Record<DemoOrgKey, { name: string; domain: string }> = {
  a: { name: 'A Corp', domain: 'a.example' },
  b: { name: 'B Corp', domain: 'b.example' },
};

/** What a desktop client of `user` needs (data dir with provisioning.json, ServiceHost options, IMAP login). */
export interface DemoClient {
  readonly person: DemoPerson;
  /** The client's data dir under the state dir (settings, pinned bundle, cache, outbox). */
  readonly dataDir: string;
  /** `<dataDir>/provisioning.json` (IT's provisioning file, written by the world). */
  readonly provisioningFile: string;
  readonly provisioning: string;
  /** Ready for `ServiceHost.open` (card env of the demo pcscd, the SSMAX root, the node's TLS CA). */
  readonly hostOptions: ServiceHostOptions;
  /** The account to add with `accounts.add` (plain IMAP on loopback). */
  readonly imap: { host: string; port: number; security: 'none'; username: string; password: string };
  readonly pin: string;
}

export interface DemoWorld {
  readonly stateDir: string;
  readonly people: Record<DemoUser, DemoPerson>;
  readonly orgs: Record<DemoOrgKey, DemoOrg>;
  /** SSMAX root (PEM) made by `ssmax authority init`. */
  readonly rootPem: string;
  /** The TLS certificate (self-signed, 127.0.0.1) of both nodes' HTTPS and SMTP. */
  readonly tlsCaPem: string;
  /** PC/SC client environment of the demo pcscd (one reader: "Virtual PCD 00 00"). */
  readonly cardEnv: { PCSCLITE_CSOCK_NAME: string };
  /** The seeded messages (bob's inbox unless `mailbox` says otherwise), in seeding order. */
  readonly seeded: readonly SeededMessage[];
  /** Whose card is in the reader now (undefined: none). */
  readonly cardHolder: string | undefined;
  /** A person's client (a DEMO_USERS name or a member added with `addMember`). */
  clientFor(user: string): DemoClient;
  /** Puts `user`'s card in the (single) reader, pulling the one there (a member's card is blank until enrolled). */
  insertCard(user: string): Promise<void>;
  /**
   * Adds a member to the org the way its administrator does, with a blank card for IT to enroll:
   * `ssmax org member add`, a Dovecot mailbox and submission password, their client's data dir with
   * IT's provisioning file, and a one-time enrollment code (`ssmax org enroll-code`), returned. The
   * member is kept in `world.json`, so a later start brings their mailbox and client back.
   */
  addMember(member: NewDemoMember): Promise<{ person: DemoPerson; enrollmentCode: string }>;
  /** Pulls the card out of the reader. */
  removeCard(): Promise<void>;
  /** Stops everything, in reverse order of start. State stays in `stateDir`. */
  stop(): Promise<void>;
}

export interface DemoWorldOptions {
  stateDir: string;
  /** Wipe the state dir first. */
  reset?: boolean;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
  /** Card in the reader once the world is up (default bob; null: none). */
  card?: DemoUser | null;
}

/** The world's bookkeeping in `<stateDir>/world.json`: what exists already, so a restart reuses it. */
interface WorldState {
  version: 1;
  ports: {
    httpA: number;
    httpB: number;
    submissionA: number;
    submissionB: number;
    inboundA: number;
    inboundB: number;
  };
  created: boolean;
  enrolled: DemoUser[];
  seeded: SeededMessage[] | undefined;
  /** Members added with `addMember` (absent in a world.json written before it existed). */
  members?: DemoPerson[];
}

export class DemoWorldError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DemoWorldError';
  }
}

const repo = resolve(import.meta.dirname, '..');
const cliBin = join(repo, 'cli/bin/ssmax.mjs');
const run = promisify(execFile);

/** Runs the real `ssmax` CLI; a failure carries its stderr. */
async function ssmax(args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  try {
    const { stdout } = await run(process.execPath, [cliBin, ...args], {
      cwd: repo,
      env: { ...process.env, ...env },
      timeout: 120_000,
    });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new DemoWorldError(
      `ssmax ${args.slice(0, 2).join(' ')} failed: ${(e.stderr || e.stdout || e.message).trim()}`,
      { cause: err },
    );
  }
}

async function isFree(port: number): Promise<boolean> {
  const { createServer } = await import('node:net');
  return new Promise((done) => {
    const s = createServer();
    s.once('error', () => done(false));
    s.listen(port, '127.0.0.1', () => s.close(() => done(true)));
  });
}

export async function startDemoWorld(options: DemoWorldOptions): Promise<DemoWorld> {
  const stateDir = resolve(options.stateDir);
  const log = options.log ?? (() => undefined);
  const at = (...p: string[]): string => join(stateDir, ...p);
  if (options.reset) {
    await rm(mailHome(stateDir), { recursive: true, force: true });
    await rm(stateDir, { recursive: true, force: true });
  }
  await mkdir(stateDir, { recursive: true });
  // Dovecot's mail processes (user `mail`) keep the maildirs under the state dir.
  chmodSync(stateDir, 0o755);
  const mailRoot = await prepareMailRoot(stateDir);

  const stateFile = at('world.json');
  let state: WorldState;
  if (existsSync(stateFile)) {
    state = JSON.parse(await readFile(stateFile, 'utf8')) as WorldState;
    for (const [name, port] of Object.entries(state.ports)) {
      if (!(await isFree(port)))
        throw new DemoWorldError(
          `Port ${port} (${name}) of the demo world in ${stateDir} is in use: is another demo running? (Or start again with --reset.)`,
        );
    }
  } else {
    state = {
      version: 1,
      ports: {
        httpA: await freePort(),
        httpB: await freePort(),
        submissionA: await freePort(),
        submissionB: await freePort(),
        inboundA: await freePort(),
        inboundB: await freePort(),
      },
      created: false,
      enrolled: [],
      seeded: undefined,
    };
  }
  const save = (): Promise<void> => writeFile(stateFile, `${JSON.stringify(state, null, 2)}\n`);
  await save();

  const stops: { name: string; stop: () => Promise<void> }[] = [];
  const stopAll = async (): Promise<void> => {
    for (const s of stops.splice(0).reverse()) {
      await s.stop().catch((err: unknown) => log(`stopping ${s.name}: ${String(err)}`));
    }
  };

  try {
    const passphraseFile = at('secrets', 'passphrase');
    const tlsCert = at('tls', 'tls.pem');
    const tlsKey = at('tls', 'tls.key');
    const rootFile = at('authority', 'root.pem');
    const orgDir = (k: DemoOrgKey): string => at('orgs', k);
    const nodeDir = (k: DemoOrgKey): string => at('nodes', k);
    const httpPort = (k: DemoOrgKey): number => (k === 'a' ? state.ports.httpA : state.ports.httpB);
    const subPort = (k: DemoOrgKey): number =>
      k === 'a' ? state.ports.submissionA : state.ports.submissionB;
    const inPort = (k: DemoOrgKey): number => (k === 'a' ? state.ports.inboundA : state.ports.inboundB);
    const everyone = (): DemoPerson[] => [...Object.values(DEMO_PEOPLE), ...(state.members ?? [])];
    const people = (k: DemoOrgKey): DemoPerson[] => everyone().filter((p) => p.org === k);
    const personOf = (user: string): DemoPerson => {
      const p = everyone().find((q) => q.user === user);
      if (!p) throw new DemoWorldError(`Nobody called "${user}" is in the demo world (${everyone().map((q) => q.user).join(', ')}).`);
      return p;
    };

    if (!state.created) {
      log('creating the SSMAX authority and the two organisations (ssmax CLI)…');
      await rm(at('authority'), { recursive: true, force: true });
      await rm(at('orgs'), { recursive: true, force: true });
      await mkdir(at('secrets'), { recursive: true, mode: 0o700 });
      await writeFile(passphraseFile, 'ssmax demo world passphrase\n', { mode: 0o600 });
      const pass = ['--passphrase-file', passphraseFile];
      await ssmax(['authority', 'init', '--dir', at('authority'), '--name', 'SSMAX Demo Root CA', ...pass]);
      await mkdir(at('orgs'), { recursive: true });
      // Both orgs at once (each CLI call is a process start); the authority admits one at a time.
      let admitting: Promise<unknown> = Promise.resolve();
      const admit = (args: string[]): Promise<string> => {
        const next = admitting.then(() => ssmax(args));
        admitting = next.catch(() => undefined);
        return next;
      };
      await Promise.all(
        (['a', 'b'] as const).map(async (k) => {
          const o = ORGS[k];
          await ssmax([
            'org',
            'init',
            '--dir',
            orgDir(k),
            '--name',
            o.name,
            '--domain',
            o.domain,
            '--base-url',
            `https://127.0.0.1:${httpPort(k)}`,
            '--submission',
            `127.0.0.1:${subPort(k)}`,
            ...pass,
          ]);
          await admit([
            'authority',
            'admit',
            '--dir',
            at('authority'),
            '--org',
            o.name,
            '--domain',
            o.domain,
            '--csr',
            join(orgDir(k), 'org-ca.csr.pem'),
            '--out',
            join(orgDir(k), 'org-ca.pem'),
            ...pass,
          ]);
          await ssmax([
            'org',
            'install-ca',
            '--dir',
            orgDir(k),
            '--cert',
            join(orgDir(k), 'org-ca.pem'),
            '--root',
            rootFile,
            ...pass,
          ]);
          for (const p of people(k))
            await ssmax([
              'org',
              'member',
              'add',
              '--dir',
              orgDir(k),
              '--address',
              p.address,
              '--name',
              p.name,
              '--staff-id',
              p.staffId,
            ]);
        }),
      );
      await mkdir(at('tls'), { recursive: true });
      await run('openssl', [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '3650',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
        '-keyout',
        tlsKey,
        '-out',
        tlsCert,
      ]);
      state.created = true;
      await save();
    }
    const rootPem = await readFile(rootFile, 'utf8');
    const tlsCaPem = await readFile(tlsCert, 'utf8');
    const rootDer = fromPem(rootPem, ['CERTIFICATE']);

    log('starting pcscd, clamd and a Dovecot per org…');
    const [pcscd, clamd, dovecotA, dovecotB] = await Promise.all([
      startPcscd(),
      startClamd(),
      startDovecot({
        users: people('a').map((p) => ({ address: p.address, password: p.password })),
        mailRoot: join(mailRoot, 'a'),
      }),
      startDovecot({
        users: people('b').map((p) => ({ address: p.address, password: p.password })),
        mailRoot: join(mailRoot, 'b'),
      }),
    ] as [Promise<PcscdHandle>, Promise<ClamdHandle>, Promise<DovecotHandle>, Promise<DovecotHandle>]);
    stops.push(
      { name: 'pcscd', stop: () => pcscd.stop() },
      { name: 'clamd', stop: () => clamd.stop() },
      { name: 'dovecot a', stop: () => dovecotA.stop() },
      { name: 'dovecot b', stop: () => dovecotB.stop() },
    );
    const dovecot = { a: dovecotA, b: dovecotB };

    // Submission passwords of the org's people (the node re-reads the file when it changes).
    const writeCredentials = async (k: DemoOrgKey): Promise<void> => {
      const creds: Record<string, string> = {};
      for (const p of people(k)) creds[p.address] = await hashPassword(p.password);
      await writeFile(join(nodeDir(k), 'credentials.json'), JSON.stringify(creds, null, 2), { mode: 0o600 });
    };

    // The org nodes, from node.json files (rewritten at each start: Dovecot and clamd ports change).
    for (const k of ['a', 'b'] as const) {
      const other: DemoOrgKey = k === 'a' ? 'b' : 'a';
      const dir = nodeDir(k);
      await mkdir(join(dir, 'bundles'), { recursive: true });
      await writeCredentials(k);
      // The other org's bundle, as an import (its well-known host ssmax.<domain> has no DNS here): the
      // node verifies it against the root at every use and keeps using it when a refresh cannot reach it.
      const otherDomain = ORGS[other].domain;
      await copyFile(join(orgDir(other), 'bundle.p7s'), join(dir, 'bundles', `${otherDomain}.p7s`));
      const otherBundle = await verifyOrgBundle(
        new Uint8Array(await readFile(join(orgDir(other), 'bundle.p7s'))),
        { roots: [rootDer], now: new Date(), domain: otherDomain },
      );
      await writeFile(
        join(dir, 'bundles', `${otherDomain}.json`),
        `${JSON.stringify({ version: otherBundle.version, fetchedAt: new Date().toISOString() })}\n`,
      );
      const config = {
        org: relativeTo(dir, orgDir(k)),
        name: `node.${ORGS[k].domain}`,
        spool: 'spool',
        submission: {
          listen: `127.0.0.1:${subPort(k)}`,
          tlsCert: relativeTo(dir, tlsCert),
          tlsKey: relativeTo(dir, tlsKey),
          credentials: 'credentials.json',
        },
        inbound: { listen: `127.0.0.1:${inPort(k)}`, external: true },
        lmtp: `${dovecot[k].lmtp.host}:${dovecot[k].lmtp.port}`,
        clamd: `${clamd.tcp.host}:${clamd.tcp.port}`,
        peers: { [otherDomain]: `127.0.0.1:${inPort(other)}` },
        bundleCache: 'bundles',
        http: {
          listen: `127.0.0.1:${httpPort(k)}`,
          tlsCert: relativeTo(dir, tlsCert),
          tlsKey: relativeTo(dir, tlsKey),
        },
        // Danger is held for the administrator instead of refused, so the demo can release one and show its verdict.
        inspection: { danger: 'hold' },
      };
      await writeFile(join(dir, 'node.json'), `${JSON.stringify(config, null, 2)}\n`);
    }
    log('starting the org nodes (ssmax node run)…');
    await Promise.all(
      (['a', 'b'] as const).map(async (k) => {
        const logFile = join(nodeDir(k), 'node.log');
        const daemon = new Daemon({
          name: `ssmax node ${k}`,
          command: process.execPath,
          args: [
            cliBin,
            'node',
            'run',
            '--config',
            join(nodeDir(k), 'node.json'),
            '--passphrase-file',
            passphraseFile,
          ],
          logFile,
          cwd: repo,
          // Other orgs' CRLs are fetched over HTTPS from their nodes, whose certificate is the demo's own.
          env: { ...process.env, NODE_EXTRA_CA_CERTS: tlsCert },
        });
        stops.push({ name: `node ${k}`, stop: () => daemon.stop(10_000) });
        const before = tailOf(logFile, 10_000).split('\n').length;
        await waitFor(
          `org node ${k} to start`,
          () =>
            tailOf(logFile, 10_000)
              .split('\n')
              .slice(before - 1)
              .some((l) => l.startsWith(`node ${ORGS[k].name}:`))
              ? true
              : undefined,
          { daemon, timeoutMs: 60_000 },
        );
      }),
    );

    const orgs: Record<DemoOrgKey, DemoOrg> = Object.fromEntries(
      (['a', 'b'] as const).map((k) => [
        k,
        {
          key: k,
          ...ORGS[k],
          dir: orgDir(k),
          httpsUrl: `https://127.0.0.1:${httpPort(k)}`,
          bundleUrl: `https://127.0.0.1:${httpPort(k)}/.well-known/ssmax/bundle.p7s`,
          submission: { host: '127.0.0.1', port: subPort(k) },
          inbound: { host: '127.0.0.1', port: inPort(k) },
          spoolDir: join(nodeDir(k), 'spool'),
          imap: dovecot[k].imap,
          lmtp: dovecot[k].lmtp,
        },
      ]),
    ) as Record<DemoOrgKey, DemoOrg>;

    // The single reader: one card process at a time; "switching user" re-inserts another state file.
    let card: VirtualCardHandle | undefined;
    let holder: string | undefined;
    const removeCard = async (): Promise<void> => {
      const c = card;
      card = undefined;
      holder = undefined;
      await c?.stop();
    };
    const insertCard = async (user: string): Promise<void> => {
      personOf(user);
      if (holder === user && card) return;
      await removeCard();
      await mkdir(at('cards'), { recursive: true });
      card = await startVirtualCard(pcscd, { stateFile: at('cards', `${user}.json`) });
      holder = user;
    };
    stops.splice(1, 0, { name: 'card', stop: removeCard });

    for (const user of DEMO_USERS) {
      if (state.enrolled.includes(user)) continue;
      const p = DEMO_PEOPLE[user];
      log(`enrolling ${p.name}'s staff card (ssmax org enroll-card)…`);
      await rm(at('cards', `${user}.json`), { force: true });
      await insertCard(user);
      const code = (
        await ssmax(['org', 'enroll-code', '--dir', orgDir(p.org), '--address', p.address])
      ).trim();
      await ssmax(
        [
          'org',
          'enroll-card',
          '--node',
          orgs[p.org].httpsUrl,
          '--address',
          p.address,
          '--root',
          rootFile,
          '--tls-ca',
          tlsCert,
        ],
        {
          ...pcscd.env,
          SSMAX_ENROLL_CODE: code,
          SSMAX_CARD_PIN: DEFAULT_PIN,
          SSMAX_CARD_MGMT_KEY: DEFAULT_MGMT_KEY,
        },
      );
      state.enrolled.push(user);
      await save();
    }

    const clientFor = (user: string): DemoClient => {
      const person = personOf(user);
      const org = orgs[person.org];
      const dataDir = at('clients', user);
      const provisioning = JSON.stringify(
        {
          format: PROVISIONING_FORMAT,
          address: person.address,
          bundleUrl: org.bundleUrl,
          tlsCaPem,
          smtp: org.submission,
          trustAnchorsPem: [rootPem],
        },
        null,
        2,
      );
      return {
        person,
        dataDir,
        provisioningFile: join(dataDir, 'provisioning.json'),
        provisioning,
        hostOptions: {
          dataDir,
          runtime: 'bridge',
          firstLaunch: { roots: [rootDer], tlsCaPem },
          card: { env: { ...process.env, ...pcscd.env }, requestTimeoutMs: 60_000 },
          compose: { smtp: org.submission, smtpCaPem: tlsCaPem },
        },
        imap: {
          host: org.imap.host,
          port: org.imap.port,
          security: 'none',
          username: person.address,
          password: person.password,
        },
        pin: person.pin ?? DEFAULT_PIN,
      };
    };
    // Each client's data dir gets its provisioning file, and a known account's IMAP port follows Dovecot.
    for (const p of everyone()) await prepareClientDir(clientFor(p.user));

    const addMember = async (m: NewDemoMember): Promise<{ person: DemoPerson; enrollmentCode: string }> => {
      const address = m.address.trim().toLowerCase();
      if (!/^[a-z0-9-]+$/.test(m.user))
        throw new DemoWorldError(`"${m.user}" cannot name a demo member: lower-case letters, digits and "-" only.`);
      if (!address.endsWith(`@${ORGS[m.org].domain}`))
        throw new DemoWorldError(`${m.address} is not an address of ${ORGS[m.org].name} (${ORGS[m.org].domain}).`);
      if (everyone().some((p) => p.user === m.user || p.address === address))
        throw new DemoWorldError(`${m.user} <${address}> is already in the demo world.`);
      await ssmax(['org', 'member', 'add', '--dir', orgDir(m.org), '--address', address, '--name', m.name, '--staff-id', m.staffId]);
      const person: DemoPerson = { ...m, address };
      state.members = [...(state.members ?? []), person];
      await save();
      await dovecot[m.org].addUser(address, m.password);
      await writeCredentials(m.org);
      await prepareClientDir(clientFor(m.user));
      // A card left from an earlier member of that name would not be blank.
      await rm(at('cards', `${m.user}.json`), { force: true });
      const enrollmentCode = (await ssmax(['org', 'enroll-code', '--dir', orgDir(m.org), '--address', address])).trim();
      return { person, enrollmentCode };
    };

    if (!state.seeded) {
      log('seeding mail (every state) into bob@b.example…');
      state.seeded = await seedMessages({
        stateDir,
        orgs,
        clientFor,
        insertCard,
        maildir: (user) => dovecot[DEMO_PEOPLE[user].org].maildirOf(DEMO_PEOPLE[user].address),
        tlsCert,
        tlsKey,
        log,
      });
      await save();
    }
    if (options.card !== null) await insertCard(options.card ?? 'bob');

    return {
      stateDir,
      people: DEMO_PEOPLE,
      orgs,
      rootPem,
      tlsCaPem,
      cardEnv: pcscd.env,
      seeded: state.seeded,
      get cardHolder() {
        return holder;
      },
      clientFor,
      insertCard,
      addMember,
      removeCard,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** Where the maildirs go when the state dir is not reachable by the system user `mail` (e.g. under /root). */
function mailHome(stateDir: string): string {
  return join(
    '/var/lib/ssmax-demo',
    createHash('sha256').update(stateDir).digest('hex').slice(0, 16),
    'mail',
  );
}

/**
 * Dovecot delivers as the system user `mail`, which must traverse every folder above the maildirs.
 * Under a private home (/root is 0700) the maildirs live in /var/lib/ssmax-demo/<hash>/mail instead,
 * linked from `<stateDir>/mail`; `reset` removes both.
 */
async function prepareMailRoot(stateDir: string): Promise<string> {
  const inState = join(stateDir, 'mail');
  let traversable = true;
  for (let d = dirname(stateDir); ; d = dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0) traversable = false;
    if (d === dirname(d)) break;
  }
  if (traversable) return inState;
  const home = mailHome(stateDir);
  await mkdir(home, { recursive: true });
  for (let d = dirname(home); d.startsWith('/var/lib/ssmax-demo'); d = dirname(d)) chmodSync(d, 0o755);
  if (!existsSync(inState)) await symlink(home, inState);
  return home;
}

function relativeTo(base: string, path: string): string {
  return resolve(path).startsWith(`${base}/`) ? resolve(path).slice(base.length + 1) : resolve(path);
}

/** Writes provisioning.json and keeps an existing account pointed at this run's Dovecot. */
async function prepareClientDir(c: DemoClient): Promise<void> {
  await mkdir(c.dataDir, { recursive: true, mode: 0o700 });
  await writeFile(c.provisioningFile, `${c.provisioning}\n`);
  const accountsFile = join(c.dataDir, 'accounts.json');
  if (!existsSync(accountsFile)) return;
  const file = JSON.parse(await readFile(accountsFile, 'utf8')) as {
    accounts: { email: string; imap: { host: string; port: number } }[];
  };
  for (const a of file.accounts)
    if (a.email === c.person.address) a.imap = { ...a.imap, host: c.imap.host, port: c.imap.port };
  await writeFile(accountsFile, JSON.stringify(file, null, 2), { mode: 0o600 });
}
