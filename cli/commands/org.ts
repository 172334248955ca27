import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MemberStatus, RevocationReason } from '../../org-node/directory/directory';
import { openAbuseDesk } from '../../org-node/abuse/open';
import { FileBundleCache } from '../../org-node/bundle/file-cache';
import { httpsBundleFetcher } from '../../org-node/bundle/https-fetcher';
import { SqliteMemberDirectory } from '../../org-node/directory/sqlite';
import { startOrgServer } from '../../org-node/http/server';
import { Org, OrgSetupError, assertOrgAddress, type OrgConfig } from '../../org-node/org';
import { fromPem } from '../../org-node/pem';
import { OrgBundleClient } from '../../smime/bundle/client';
import { CliError, ExitCode, UsageError, untilInterrupted, type CommandGroup } from '../command';
import { actor, algorithm, guarded, hostPort, keyStoreConfig, keyStoreOptions, list, optional, parse, positiveNumber, required, secretFiles, type Values } from './node-options';

const usage = `usage: ssmax org <command> --dir <dir> [options]

  init        --dir <d> --name "<org>" --domain <domain>... [--algorithm P-256|RSA-2048]
              [--base-url https://ssmax.<domain>] [--submission host:port] [--listen host:port]
              [--pkcs11-module <so> --token <label>]
              creates the org keys and <d>/org-ca.csr.pem for the SSMAX authority
  install-ca  --dir <d> --cert <org-ca.pem> --root <root.pem>
              installs the org CA certificate; issues the org signing and encryption certs, CRL, bundle
  member add      --dir <d> --address <a> --name "<name>" --staff-id <id>
  member list     --dir <d> [--status active|suspended|revoked]
  member show     --dir <d> --address <a>
  member suspend  --dir <d> --address <a>          revokes the member's certificates (on hold)
  member revoke   --dir <d> --address <a> [--reason keyCompromise|affiliationChanged|cessationOfOperation]
  member reactivate --dir <d> --address <a>       lifts a suspension (old certificates stay revoked)
  revoke-cert     --dir <d> --serial <hex> [--reason keyCompromise]   one certificate (a lost card)
  enroll-code     --dir <d> --address <a> [--ttl-hours 24]   one-time code for the enrollment API
  rollover        --dir <d>                       new org encryption key; old keys keep decrypting
  bundle          --dir <d> --out <file> [--republish]       the signed org bundle for offline distribution
  crl             --dir <d> --out <file>          the current CRL (DER)
  serve           --dir <d> [--listen host:port] [--tls-cert <pem> --tls-key <pem> | --insecure-http]
              serves the bundle, the CRL, the enrollment API and the abuse desk (ssmax abuse)
  enroll-card     --node <https://ssmax.domain> --address <a> --root <root.pem> [--alg p256|rsa2048] [--tls-ca <pem>]
              at the card station: keys on the card, CSRs to the enrollment API, certificates onto the card
              (code: SSMAX_ENROLL_CODE / --code-file; PIN: SSMAX_CARD_PIN / --pin-file;
               management key: SSMAX_CARD_MGMT_KEY / --mgmt-key-file)

Keys: encrypted key files (passphrase in SSMAX_KEY_PASSPHRASE or --passphrase-file <f>) or a PKCS#11
token (PIN in SSMAX_TOKEN_PIN or --pin-file <f>). Secrets are never command-line options.`;

const REASONS: readonly RevocationReason[] = ['unspecified', 'keyCompromise', 'affiliationChanged', 'superseded', 'cessationOfOperation'];

function reason(values: Values): RevocationReason | undefined {
  const r = optional(values, 'reason');
  if (r === undefined) return undefined;
  if (!REASONS.includes(r as RevocationReason)) throw new UsageError(`--reason must be one of ${REASONS.join(', ')}`);
  return r as RevocationReason;
}

async function readInput(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch {
    throw new CliError(`cannot read ${path}`, ExitCode.usage);
  }
}

/** Member bookkeeping needs the directory only, not the keys (no passphrase asked). */
async function withDirectory<T>(dir: string, body: (d: SqliteMemberDirectory, config: OrgConfig) => Promise<T>): Promise<T> {
  let config: OrgConfig;
  try {
    config = JSON.parse(await readFile(join(dir, 'org.json'), 'utf8')) as OrgConfig;
  } catch (cause) {
    throw new OrgSetupError(`No org in ${dir} (run \`ssmax org init\` first).`, { cause });
  }
  const directory = SqliteMemberDirectory.open(join(dir, 'directory.sqlite'));
  try {
    return await body(directory, config);
  } finally {
    await directory.close();
  }
}

async function withOrg<T>(values: Values, body: (org: Org) => Promise<T>): Promise<T> {
  const org = await Org.open(required(values, 'dir'), secretFiles(values));
  try {
    return await body(org);
  } finally {
    await org.close();
  }
}

const dirOnly = { dir: { type: 'string' }, ...keyStoreOptions } as const;

async function init(args: string[]): Promise<ExitCode> {
  const { values } = parse(
    args,
    {
      ...dirOnly,
      name: { type: 'string' },
      domain: { type: 'string', multiple: true },
      algorithm: { type: 'string' },
      'base-url': { type: 'string' },
      submission: { type: 'string' },
      listen: { type: 'string' },
    },
    usage,
  );
  const domains = list(values, 'domain');
  if (domains.length === 0) throw new UsageError('at least one --domain is required');
  const alg = algorithm(values);
  const keyStore = keyStoreConfig(values);
  const baseUrl = optional(values, 'base-url');
  const submission = hostPort(values, 'submission');
  const listen = hostPort(values, 'listen');
  const { org, csrPath } = await Org.init(
    required(values, 'dir'),
    {
      name: required(values, 'name'),
      domains,
      ...(alg ? { algorithm: alg } : {}),
      ...(keyStore ? { keyStore } : {}),
      ...(baseUrl ? { publicBaseUrl: baseUrl } : {}),
      ...(submission ? { submission } : {}),
      ...(listen ? { listen } : {}),
    },
    secretFiles(values),
  );
  await org.close();
  console.log(`org keys created; send ${csrPath} to the SSMAX authority, then run: ssmax org install-ca --dir ${org.dir} --cert <org-ca.pem> --root <root.pem>`);
  return ExitCode.ok;
}

async function installCa(args: string[]): Promise<ExitCode> {
  const { values } = parse(args, { ...dirOnly, cert: { type: 'string' }, root: { type: 'string' } }, usage);
  const cert = fromPem(await readInput(required(values, 'cert')), ['CERTIFICATE']);
  const root = fromPem(await readInput(required(values, 'root')), ['CERTIFICATE']);
  await withOrg(values, async (org) => {
    await org.installCa(cert, root);
    console.log(`org CA installed; signing and encryption certificates issued; CRL and bundle written in ${org.dir}`);
  });
  return ExitCode.ok;
}

async function member(args: string[]): Promise<ExitCode> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'add': {
      const { values } = parse(rest, { dir: { type: 'string' }, address: { type: 'string' }, name: { type: 'string' }, 'staff-id': { type: 'string' } }, usage);
      const address = required(values, 'address');
      const m = await withDirectory(required(values, 'dir'), (d, config) => {
        assertOrgAddress(config, address);
        return d.addMember({ address, name: required(values, 'name'), staffId: required(values, 'staff-id') }, actor());
      });
      console.log(`added ${m.address} (${m.name}, staff ID ${m.staffId})`);
      return ExitCode.ok;
    }
    case 'list': {
      const { values } = parse(rest, { dir: { type: 'string' }, status: { type: 'string' } }, usage);
      const status = optional(values, 'status');
      if (status !== undefined && !['active', 'suspended', 'revoked'].includes(status)) throw new UsageError('--status must be active, suspended or revoked');
      const members = await withDirectory(required(values, 'dir'), (d) => d.listMembers(status ? { status: status as MemberStatus } : {}));
      if (members.length === 0) console.log('no members');
      for (const m of members) console.log(`${m.address}\t${m.name}\t${m.staffId}\t${m.status}`);
      return ExitCode.ok;
    }
    case 'show': {
      const { values } = parse(rest, { dir: { type: 'string' }, address: { type: 'string' } }, usage);
      const address = required(values, 'address');
      await withDirectory(required(values, 'dir'), async (d) => {
        const m = await d.getMember(address);
        if (!m) throw new CliError(`${address} is not a member`);
        console.log(`${m.address}\t${m.name}\t${m.staffId}\t${m.status}`);
        for (const c of await d.certificates(m.address)) {
          const state = c.revokedAt ? `revoked ${c.revokedAt.toISOString()} (${c.revocationReason})` : 'valid';
          console.log(`  ${c.slot}\tserial ${c.serial}\t${c.notBefore.toISOString().slice(0, 10)}..${c.notAfter.toISOString().slice(0, 10)}\t${state}`);
        }
      });
      return ExitCode.ok;
    }
    case 'suspend':
    case 'revoke': {
      const { values } = parse(rest, { ...dirOnly, address: { type: 'string' }, reason: { type: 'string' } }, usage);
      const r = reason(values);
      if (sub === 'suspend' && r) throw new UsageError('suspend takes no --reason (certificates are put on hold)');
      const n = await withOrg(values, (org) => org.setMemberStatus(required(values, 'address'), sub === 'suspend' ? 'suspended' : 'revoked', actor(), r));
      console.log(`${required(values, 'address')} ${sub === 'suspend' ? 'suspended' : 'revoked'}; ${n} certificate(s) revoked; CRL reissued`);
      return ExitCode.ok;
    }
    case 'reactivate': {
      const { values } = parse(rest, { dir: { type: 'string' }, address: { type: 'string' } }, usage);
      await withDirectory(required(values, 'dir'), (d) => d.reactivate(required(values, 'address'), actor()));
      console.log(`${required(values, 'address')} active again; enrol a card for new certificates (ssmax org enroll-code)`);
      return ExitCode.ok;
    }
    default:
      throw new UsageError(`unknown or missing member command${sub ? ` "${sub}"` : ''}\n${usage}`);
  }
}

async function revokeCert(args: string[]): Promise<ExitCode> {
  const { values } = parse(args, { ...dirOnly, serial: { type: 'string' }, reason: { type: 'string' } }, usage);
  await withOrg(values, (org) => org.revokeCertificate(required(values, 'serial'), reason(values) ?? 'keyCompromise', actor()));
  console.log(`certificate ${required(values, 'serial')} revoked; CRL reissued`);
  return ExitCode.ok;
}

async function enrollCode(args: string[]): Promise<ExitCode> {
  const { values, positionals } = parse(args, { dir: { type: 'string' }, address: { type: 'string' }, 'ttl-hours': { type: 'string' } }, usage);
  const address = optional(values, 'address') ?? positionals[0];
  if (!address) throw new UsageError('--address is required');
  const hours = positiveNumber(values, 'ttl-hours') ?? 24;
  const { code, expiresAt } = await withDirectory(required(values, 'dir'), (d) => d.createEnrollmentCode(address, hours * 3_600_000, actor()));
  // The code is the output: IT hands it to the person enrolling the card. It is stored only hashed.
  console.log(code);
  console.error(`one-time enrollment code for ${address}, valid until ${expiresAt.toISOString()}`);
  return ExitCode.ok;
}

async function rollover(args: string[]): Promise<ExitCode> {
  const { values } = parse(args, dirOnly, usage);
  const id = await withOrg(values, (org) => org.rolloverEncryptionKey());
  console.log(`new org encryption key ${id}; bundle republished (older keys still decrypt)`);
  return ExitCode.ok;
}

async function bundle(args: string[]): Promise<ExitCode> {
  const { values } = parse(args, { ...dirOnly, out: { type: 'string' }, republish: { type: 'boolean' } }, usage);
  const out = required(values, 'out');
  const bytes = await withOrg(values, (org) => (values.republish ? org.publishBundle() : org.currentBundle()));
  await writeFile(out, bytes);
  console.log(`org bundle written to ${out}`);
  return ExitCode.ok;
}

async function crl(args: string[]): Promise<ExitCode> {
  const { values } = parse(args, { dir: { type: 'string' }, out: { type: 'string' } }, usage);
  const dir = required(values, 'dir');
  let bytes: Buffer;
  try {
    bytes = await readFile(join(dir, 'org-ca.crl'));
  } catch {
    throw new CliError(`no CRL in ${dir} yet (run \`ssmax org install-ca\`)`);
  }
  await writeFile(required(values, 'out'), bytes);
  return ExitCode.ok;
}

async function serve(args: string[]): Promise<ExitCode> {
  const { values } = parse(args, { ...dirOnly, listen: { type: 'string' }, 'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' }, 'insecure-http': { type: 'boolean' } }, usage);
  const listen = hostPort(values, 'listen');
  const certFile = optional(values, 'tls-cert');
  const keyFile = optional(values, 'tls-key');
  if ((certFile === undefined) !== (keyFile === undefined)) throw new UsageError('--tls-cert and --tls-key go together');
  const org = await Org.open(required(values, 'dir'), secretFiles(values));
  const tls = certFile && keyFile ? { certFile, keyFile } : org.config.tls;
  if (!tls && !values['insecure-http']) {
    await org.close();
    throw new UsageError('the enrollment API needs TLS: give --tls-cert and --tls-key (or tls in org.json), or --insecure-http behind a TLS proxy');
  }
  // The abuse desk forwards reports to the desk another org's verified bundle publishes (cache: <dir>/bundles).
  let desk: ReturnType<typeof openAbuseDesk>;
  let server: Awaited<ReturnType<typeof startOrgServer>>;
  try {
    const bundles = new OrgBundleClient({ roots: [await org.rootCertificate()], fetcher: httpsBundleFetcher(), cache: new FileBundleCache(join(org.dir, 'bundles')) });
    desk = openAbuseDesk(org, { bundles });
    try {
      server = await startOrgServer(org, { listen: listen ?? org.config.listen, ...(tls ? { tls } : {}), abuseDesk: desk });
    } catch (err) {
      desk.close();
      throw err;
    }
  } catch (err) {
    await org.close();
    throw err;
  }
  // Reports recorded but not forwarded before a restart go now (in the background).
  void desk.resumeForwards().catch((err: unknown) => console.error(`abuse: resuming forwards failed: ${(err as Error).message}`));
  console.log(`serving ${org.config.name} on ${server.url} (bundle ${server.url}/.well-known/ssmax/bundle.p7s, abuse desk ${server.url}${desk.path})`);
  await untilInterrupted();
  await server.close();
  desk.close();
  await org.close();
  return ExitCode.ok;
}

export const command: CommandGroup = {
  summary: 'org node: keys, org CA, members, enrollment codes, CRL, bundle, HTTPS side',
  usage,
  async run(args) {
    const [sub, ...rest] = args;
    const table: Record<string, (a: string[]) => Promise<ExitCode>> = {
      init,
      'install-ca': installCa,
      member,
      'revoke-cert': revokeCert,
      'enroll-code': enrollCode,
      rollover,
      bundle,
      crl,
      serve,
      // Loaded only here: the other org commands must not need the PC/SC binding.
      'enroll-card': async (a) => (await import('./org-enroll-card')).enrollCard(a),
    };
    const fn = sub === undefined ? undefined : table[sub];
    if (!fn) throw new UsageError(`unknown or missing org command${sub ? ` "${sub}"` : ''}\n${usage}`);
    return guarded(() => fn(rest));
  },
};
