import { randomBytes, X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { signData } from '../../smime/cms';
import { CardWatcher } from '../../native/pcsc/card-watcher';
import { CardError } from '../../native/pcsc/errors';
import { CardSigner } from '../../native/piv/card-keys';
import {
  buildCsr,
  generateKeyWithCsr,
  importCertificate,
  initialiseCard,
  type ManagementKey,
} from '../../native/piv/enrollment';
import { PinBlockedError, WrongPinError, WrongPukError } from '../../native/piv/errors';
import { PinCache } from '../../native/piv/pin-cache';
import {
  ORG_CA_SLOT,
  PivSession,
  PivSlot,
  type ManagementKeyAlgorithm,
  type PivKeyAlgorithm,
} from '../../native/piv/piv-session';
import { runVirtualCard } from '../../native/virtual-card/run';
import { DEFAULT_MGMT_KEY, DEFAULT_PIN, DEFAULT_PUK } from '../../native/virtual-card/state';
import { CliError, ExitCode, UsageError, type CommandGroup } from '../command';

const usage = `usage: ssmax card <command> [options]

  virtual --state FILE [--host 127.0.0.1] [--port 35963]   run a virtual PIV card in a vpcd reader
  status                                                   reader, card, certificates, PIN tries left
  init --pin NEW --puk NEW [--mgmt-key HEX]                 set PIN, PUK and a new AES-256 management key
       [--current-pin P] [--current-puk P] [--current-mgmt-key HEX]   (default: factory values)
  generate --slot 9c|9d --alg rsa2048|p256 --mgmt-key HEX   generate a key on the card; prints the public key
       [--subject "CN=…" --pin PIN --csr FILE]                 and optionally a card-signed CSR
  csr --slot 9c|9d --subject "CN=…, O=…" --out FILE         PKCS#10 request signed by the card (PIN)
  import-cert --slot 9c|9d|org-ca --cert FILE --mgmt-key HEX write a certificate (PEM or DER) to the card
  sign --in FILE --out FILE [--opaque]                      S/MIME-sign (CMS, DER) with the 9C key (PIN)
  unblock --puk PUK --new-pin PIN                           unblock the PIN with the PUK

common: --reader NAME (default: first reader with a card). The PIN comes from --pin, then
SSMAX_CARD_PIN, then a prompt. PC/SC: PCSCLITE_CSOCK_NAME selects a non-default pcscd.`;

const common = {
  reader: { type: 'string' },
  pin: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function slotOf(text: string | undefined, allowOrgCa = false): number {
  switch (text?.toLowerCase()) {
    case '9a':
      return PivSlot.AUTHENTICATION;
    case '9c':
      return PivSlot.SIGNATURE;
    case '9d':
      return PivSlot.KEY_MANAGEMENT;
    case '9e':
      return PivSlot.CARD_AUTHENTICATION;
    case 'org-ca':
    case '95':
      if (allowOrgCa) return ORG_CA_SLOT;
      break;
  }
  throw new UsageError(`--slot must be 9c or 9d${allowOrgCa ? ' or org-ca' : ''}`);
}

function hexKey(text: string | undefined, what: string): Uint8Array {
  if (!text || !/^([0-9a-f]{2}){16,32}$/i.test(text))
    throw new UsageError(`${what} must be 32, 48 or 64 hex digits`);
  return Buffer.from(text, 'hex');
}

function mgmtAlgorithmFor(key: Uint8Array): ManagementKeyAlgorithm {
  return key.length === 32 ? 'aes256' : key.length === 16 ? 'aes128' : 'aes192';
}

export async function askPin(given: string | undefined, what = 'PIN'): Promise<string> {
  if (given) return given;
  if (process.env.SSMAX_CARD_PIN) return process.env.SSMAX_CARD_PIN;
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: process.stdin.isTTY });
  try {
    return (await rl.question(`${what}: `)).trim();
  } finally {
    rl.close();
  }
}

function derOf(bytes: Buffer): Uint8Array {
  const text = bytes.toString('latin1');
  return text.includes('-----BEGIN') ? new Uint8Array(new X509Certificate(text).raw) : new Uint8Array(bytes);
}

function pem(der: Uint8Array, label: string): string {
  return `-----BEGIN ${label}-----\n${Buffer.from(der)
    .toString('base64')
    .replace(/.{1,64}/g, '$&\n')}-----END ${label}-----\n`;
}

/** Starts a watcher, finds the card, runs `work`, and always stops the watcher. */
export async function withCard<T>(
  reader: string | undefined,
  work: (watcher: CardWatcher, readerName: string) => Promise<T>,
): Promise<T> {
  const watcher = new CardWatcher();
  let serviceError: CardError | undefined;
  watcher.on('error', (e) => (serviceError = e));
  await watcher.start();
  try {
    const found = await watcher.waitForCard({ reader, timeoutMs: 5_000 }).catch((err: unknown) => {
      throw serviceError ?? err;
    });
    return await work(watcher, found.reader);
  } finally {
    watcher.stop();
  }
}

/** Card errors become one line and exit 1; the wrong-PIN line is the one IT scripts look for. */
export function explain(thrown: unknown): never {
  // The S/MIME core wraps key errors (SigningError with the card error as cause): find the card's.
  let err = thrown;
  for (let e: unknown = thrown; e instanceof Error; e = e.cause) {
    if (e instanceof CardError) {
      err = e;
      break;
    }
  }
  if (err instanceof WrongPinError)
    throw new CliError(
      `wrong PIN, ${err.triesLeft} ${err.triesLeft === 1 ? 'try' : 'tries'} left`,
      ExitCode.failed,
      { cause: err },
    );
  if (err instanceof WrongPukError)
    throw new CliError(
      `wrong PUK, ${err.triesLeft} ${err.triesLeft === 1 ? 'try' : 'tries'} left`,
      ExitCode.failed,
      { cause: err },
    );
  if (err instanceof PinBlockedError)
    throw new CliError('PIN blocked; unblock it with the PUK (ssmax card unblock)', ExitCode.failed, {
      cause: err,
    });
  if (err instanceof CardError)
    throw new CliError(`${err.userMessage} [card error ${err.code}]`, ExitCode.failed, { cause: err });
  throw thrown;
}

async function virtual(args: string[]): Promise<ExitCode> {
  const { values } = parseArgs({
    args,
    options: {
      state: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '35963' },
      verbose: { type: 'boolean' },
    },
  });
  if (!values.state) throw new UsageError('--state FILE is required');
  const port = Number(values.port);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new UsageError('--port must be a TCP port');
  const { stop } = await runVirtualCard({
    stateFile: values.state,
    host: values.host,
    port,
    verbose: values.verbose,
  });
  await new Promise<void>((resolve) => {
    for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => resolve());
  });
  await stop();
  return ExitCode.ok;
}

async function status(args: string[]): Promise<ExitCode> {
  const { values } = parseArgs({ args, options: common });
  await withCard(values.reader, (watcher, reader) =>
    watcher.transaction(
      async (channel) => {
        const piv = new PivSession(channel);
        await piv.select();
        const lines = [
          `Reader:            ${reader}`,
          `Card GUID:         ${(await piv.cardGuid()) ?? '(no CHUID)'}`,
        ];
        const pin = await piv.pinStatus();
        lines.push(
          `PIN tries left:    ${pin.blocked ? '0 (blocked)' : pin.verified ? '(verified)' : String(pin.triesLeft)}`,
        );
        for (const [label, slot] of [
          ['9A authentication', PivSlot.AUTHENTICATION],
          ['9C signature', PivSlot.SIGNATURE],
          ['9D key management', PivSlot.KEY_MANAGEMENT],
          ['9E card auth', PivSlot.CARD_AUTHENTICATION],
          ['Org CA (slot 95)', ORG_CA_SLOT],
        ] as const) {
          const der = await piv.readCertificate(slot);
          if (!der) {
            lines.push(`${label.padEnd(19)}(empty)`);
            continue;
          }
          const c = new X509Certificate(der);
          const key =
            c.publicKey.asymmetricKeyType === 'rsa'
              ? `RSA-${c.publicKey.asymmetricKeyDetails?.modulusLength}`
              : 'P-256';
          lines.push(`${label.padEnd(19)}${c.subject.replace(/\n/g, ', ')} | ${key} | until ${c.validTo}`);
        }
        console.log(lines.join('\n'));
      },
      { reader },
    ),
  ).catch(explain);
  return ExitCode.ok;
}

async function init(args: string[]): Promise<ExitCode> {
  const { values } = parseArgs({
    args,
    options: {
      ...common,
      puk: { type: 'string' },
      'mgmt-key': { type: 'string' },
      'current-pin': { type: 'string' },
      'current-puk': { type: 'string' },
      'current-mgmt-key': { type: 'string' },
    },
  });
  if (!values.pin || !values.puk) throw new UsageError('init needs --pin NEW and --puk NEW');
  const generated = values['mgmt-key'] === undefined;
  const key = generated ? randomBytes(32) : hexKey(values['mgmt-key'], '--mgmt-key');
  const newManagementKey: ManagementKey = { algorithm: mgmtAlgorithmFor(key), key };
  await withCard(values.reader, (watcher, reader) =>
    watcher.transaction(
      (channel) =>
        initialiseCard(new PivSession(channel), {
          currentPin: values['current-pin'] ?? DEFAULT_PIN,
          currentPuk: values['current-puk'] ?? DEFAULT_PUK,
          currentManagementKey: Buffer.from(values['current-mgmt-key'] ?? DEFAULT_MGMT_KEY, 'hex'),
          newPin: values.pin as string,
          newPuk: values.puk as string,
          newManagementKey,
        }),
      { reader },
    ),
  ).catch(explain);
  console.log(`card initialised: new PIN and PUK set, ${newManagementKey.algorithm} management key`);
  // IT must store a generated key: without it the card can never be re-enrolled.
  if (generated) console.log(`management key: ${Buffer.from(key).toString('hex')}`);
  return ExitCode.ok;
}

async function generate(args: string[]): Promise<ExitCode> {
  const { values } = parseArgs({
    args,
    options: {
      ...common,
      slot: { type: 'string' },
      alg: { type: 'string' },
      'mgmt-key': { type: 'string' },
      subject: { type: 'string' },
      csr: { type: 'string' },
    },
  });
  const slot = slotOf(values.slot);
  if (values.alg !== 'rsa2048' && values.alg !== 'p256')
    throw new UsageError('--alg must be rsa2048 or p256');
  const alg: PivKeyAlgorithm = values.alg;
  const mgmt = hexKey(values['mgmt-key'], '--mgmt-key');
  const wantCsr = values.csr !== undefined;
  if (wantCsr && !values.subject) throw new UsageError('--csr needs --subject');
  const pin = wantCsr ? await askPin(values.pin) : '';
  const result = await withCard(values.reader, (watcher, reader) =>
    watcher.transaction(
      async (channel) => {
        const piv = new PivSession(channel);
        if (wantCsr)
          return generateKeyWithCsr(piv, {
            slot,
            algorithm: alg,
            subject: values.subject as string,
            pin,
            managementKey: mgmt,
          });
        await piv.select();
        await piv.authenticateManagementKey(mgmt);
        return { publicKey: await piv.generateKey(slot, alg), csr: undefined };
      },
      { reader },
    ),
  ).catch(explain);
  process.stdout.write(result.publicKey.export({ type: 'spki', format: 'pem' }) as string);
  if (wantCsr && result.csr) await writeFile(values.csr as string, pem(result.csr, 'CERTIFICATE REQUEST'));
  return ExitCode.ok;
}

async function csr(args: string[]): Promise<ExitCode> {
  const { values } = parseArgs({
    args,
    options: { ...common, slot: { type: 'string' }, subject: { type: 'string' }, out: { type: 'string' } },
  });
  const slot = slotOf(values.slot);
  if (!values.subject || !values.out) throw new UsageError('csr needs --subject and --out');
  const pin = await askPin(values.pin);
  const der = await withCard(values.reader, (watcher, reader) =>
    watcher.transaction(
      async (channel) => {
        const piv = new PivSession(channel);
        await piv.select();
        const publicKey = await piv.slotPublicKey(slot);
        if (!publicKey) throw new CliError(`slot ${values.slot} has no key: run ssmax card generate first`);
        return buildCsr(piv, { slot, publicKey, subject: values.subject as string, pin });
      },
      { reader },
    ),
  ).catch(explain);
  await writeFile(values.out, pem(der, 'CERTIFICATE REQUEST'));
  console.log(`wrote ${values.out}`);
  return ExitCode.ok;
}

async function importCert(args: string[]): Promise<ExitCode> {
  const { values } = parseArgs({
    args,
    options: {
      ...common,
      slot: { type: 'string' },
      cert: { type: 'string' },
      'mgmt-key': { type: 'string' },
    },
  });
  const slot = slotOf(values.slot, true);
  if (!values.cert) throw new UsageError('import-cert needs --cert FILE');
  const mgmt = hexKey(values['mgmt-key'], '--mgmt-key');
  let der: Uint8Array;
  try {
    der = derOf(await readFile(values.cert));
    new X509Certificate(der);
  } catch (cause) {
    throw new CliError(`${values.cert} is not a certificate`, ExitCode.usage, { cause });
  }
  await withCard(values.reader, (watcher, reader) =>
    watcher.transaction(
      async (channel) => {
        const piv = new PivSession(channel);
        if (slot !== ORG_CA_SLOT) {
          // A certificate that does not match the slot's key would make the card unusable for mail.
          await piv.select();
          const key = await piv.slotPublicKey(slot);
          const certKey = new X509Certificate(der).publicKey.export({ type: 'spki', format: 'der' });
          if (!key || !key.export({ type: 'spki', format: 'der' }).equals(certKey))
            throw new CliError(`the certificate does not belong to the key in slot ${values.slot}`);
        }
        await importCertificate(piv, slot, der, mgmt);
      },
      { reader },
    ),
  ).catch(explain);
  console.log(`certificate written to slot ${values.slot}`);
  return ExitCode.ok;
}

async function sign(args: string[]): Promise<ExitCode> {
  const { values } = parseArgs({
    args,
    options: { ...common, in: { type: 'string' }, out: { type: 'string' }, opaque: { type: 'boolean' } },
  });
  if (!values.in || !values.out) throw new UsageError('sign needs --in FILE and --out FILE');
  const content = new Uint8Array(await readFile(values.in));
  const stats = await withCard(values.reader, async (watcher, reader) => {
    const signer = await CardSigner.open({
      watcher,
      reader,
      pinCache: new PinCache({ ttlMs: 0 }),
      pinPrompt: async () => askPin(values.pin),
    });
    const cms = await signData({ content, signers: [signer], detached: !values.opaque });
    await writeFile(values.out as string, cms);
    return signer.lastStats;
  }).catch(explain);
  console.log(
    `signed ${values.in} → ${values.out} (${stats?.apdus} APDUs, host ${stats?.hostMs.toFixed(1)} ms)`,
  );
  return ExitCode.ok;
}

async function unblock(args: string[]): Promise<ExitCode> {
  const { values } = parseArgs({
    args,
    options: { ...common, puk: { type: 'string' }, 'new-pin': { type: 'string' } },
  });
  if (!values.puk || !values['new-pin']) throw new UsageError('unblock needs --puk and --new-pin');
  await withCard(values.reader, (watcher, reader) =>
    watcher.transaction(
      async (channel) => {
        const piv = new PivSession(channel);
        await piv.select();
        await piv.unblockPin(values.puk as string, values['new-pin'] as string);
      },
      { reader },
    ),
  ).catch(explain);
  console.log('PIN unblocked and set');
  return ExitCode.ok;
}

const subcommands: Record<string, (args: string[]) => Promise<ExitCode>> = {
  virtual,
  status,
  init,
  generate,
  csr,
  'import-cert': importCert,
  sign,
  unblock,
};

export const command: CommandGroup = {
  summary: 'staff card: status, enrollment (init, generate, csr, import-cert), sign, virtual card',
  usage,
  async run(args) {
    const [sub, ...rest] = args;
    const run = sub === undefined ? undefined : subcommands[sub];
    if (!run) throw new UsageError(`unknown card command "${sub ?? ''}" (ssmax card --help)`);
    try {
      return await run(rest);
    } catch (err) {
      if (
        err instanceof TypeError &&
        'code' in err &&
        String((err as { code: unknown }).code).startsWith('ERR_PARSE_ARGS')
      )
        throw new UsageError(err.message);
      throw err;
    }
  },
};
