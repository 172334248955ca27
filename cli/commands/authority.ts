import { readFile, writeFile } from 'node:fs/promises';
import { Authority } from '../../org-node/authority/authority';
import { fromPem, toPem } from '../../org-node/pem';
import { CliError, ExitCode, UsageError, type CommandGroup } from '../command';
import { algorithm, guarded, keyStoreConfig, keyStoreOptions, list, optional, parse, positiveNumber, required, secretFiles } from './node-options';

const usage = `usage: ssmax authority <command> --dir <dir> [options]

  init   --dir <d> [--name "<root name>"] [--algorithm P-256|RSA-2048] [--years 20]
         creates the SSMAX root key and certificate (<d>/root.pem)
  admit  --dir <d> --org "<name>" --domain <domain>... --csr <org-ca.csr> [--out <org-ca.pem>] [--years 5]
         issues the org CA certificate, name-constrained to the org's domains
  list   --dir <d>
         the admitted organisations

The root key is an encrypted key file (passphrase in SSMAX_KEY_PASSPHRASE or --passphrase-file <f>)
or a PKCS#11 token (--pkcs11-module <so> --token <label>; PIN in SSMAX_TOKEN_PIN or --pin-file <f>).`;

async function init(args: string[]): Promise<ExitCode> {
  const { values } = parse(args, { dir: { type: 'string' }, name: { type: 'string' }, algorithm: { type: 'string' }, years: { type: 'string' }, ...keyStoreOptions }, usage);
  const dir = required(values, 'dir');
  const name = optional(values, 'name');
  const alg = algorithm(values);
  const years = positiveNumber(values, 'years');
  const keyStore = keyStoreConfig(values);
  const authority = await Authority.init(dir, { ...(name ? { name } : {}), ...(alg ? { algorithm: alg } : {}), ...(years ? { years } : {}), ...(keyStore ? { keyStore } : {}) }, secretFiles(values));
  await authority.close();
  console.log(`SSMAX root created: ${dir}/root.pem`);
  return ExitCode.ok;
}

async function admit(args: string[]): Promise<ExitCode> {
  const { values } = parse(
    args,
    { dir: { type: 'string' }, org: { type: 'string' }, domain: { type: 'string', multiple: true }, csr: { type: 'string' }, out: { type: 'string' }, years: { type: 'string' }, ...keyStoreOptions },
    usage,
  );
  const dir = required(values, 'dir');
  const orgName = required(values, 'org');
  const domains = list(values, 'domain');
  if (domains.length === 0) throw new UsageError('at least one --domain is required');
  const csrPath = required(values, 'csr');
  let csrFile: Buffer;
  try {
    csrFile = await readFile(csrPath);
  } catch {
    throw new CliError(`cannot read ${csrPath}`, ExitCode.usage);
  }
  const csr = fromPem(new Uint8Array(csrFile), ['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST']);
  const years = positiveNumber(values, 'years');
  const authority = await Authority.open(dir, secretFiles(values));
  try {
    const cert = await authority.admit({ orgName, domains, csr, ...(years ? { years } : {}) });
    const out = optional(values, 'out');
    if (out) await writeFile(out, toPem(cert, 'CERTIFICATE'));
    else process.stdout.write(toPem(cert, 'CERTIFICATE'));
    console.error(`admitted ${orgName} (${domains.join(', ')})${out ? `: ${out}` : ''}`);
  } finally {
    await authority.close();
  }
  return ExitCode.ok;
}

async function listOrgs(args: string[]): Promise<ExitCode> {
  const { values } = parse(args, { dir: { type: 'string' } }, usage);
  const orgs = await Authority.listOrgs(required(values, 'dir'));
  if (orgs.length === 0) console.log('no organisations admitted');
  for (const o of orgs) console.log(`${o.name}\t${o.domains.join(',')}\tserial ${o.serial}\tvalid until ${o.notAfter.slice(0, 10)}`);
  return ExitCode.ok;
}

export const command: CommandGroup = {
  summary: 'SSMAX authority: root CA, admitting organisations',
  usage,
  async run(args) {
    const [sub, ...rest] = args;
    const table: Record<string, (a: string[]) => Promise<ExitCode>> = { init, admit, list: listOrgs };
    const fn = sub === undefined ? undefined : table[sub];
    if (!fn) throw new UsageError(`unknown or missing authority command${sub ? ` "${sub}"` : ''}\n${usage}`);
    return guarded(() => fn(rest));
  },
};
