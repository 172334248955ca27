import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { CardWatcher } from '../../native/pcsc/card-watcher';
import { CardError } from '../../native/pcsc/errors';
import { generateKeyWithCsr, importCertificate, writeOrgCa } from '../../native/piv/enrollment';
import { EnrollmentApiError, checkEnrollmentCode, checkIssued, requestCertificates } from '../../native/piv/enrollment-api';
import { PinBlockedError, WrongPinError } from '../../native/piv/errors';
import { PivSession, PivSlot, type PivKeyAlgorithm } from '../../native/piv/piv-session';
import { ENROLL_PATH } from '../../smime/bundle/manifest';
import { fromPem, toPem } from '../../org-node/pem';
import { readSecret } from '../../org-node/secrets';
import { CliError, ExitCode, UsageError } from '../command';
import { optional, parse, required } from './node-options';

/**
 * `ssmax org enroll-card`: IT's one-step card enrollment at the card station. First the node checks
 * the one-time code for the address without spending it (a refusal leaves the card untouched). On the card in the
 * reader: generate the 9C and 9D keys and card-signed CSRs; send them with the employee's one-time
 * code to the org node's enrollment API; check what comes back (each certificate carries the key
 * of its slot and chains to the org CA, which chains to the SSMAX root IT trusts); write the two
 * certificates and the org CA to the card. Secrets only from the environment or files.
 */

export const enrollCardUsage = `usage: ssmax org enroll-card --node <https://ssmax.domain> --address <a> --root <root.pem>
       [--alg p256|rsa2048 (both slots; default p256)] [--tls-ca <pem>] [--reader <name>]
  one-time code: SSMAX_ENROLL_CODE or --code-file; card PIN: SSMAX_CARD_PIN or --pin-file;
  card management key (hex): SSMAX_CARD_MGMT_KEY or --mgmt-key-file`;

function algorithmOption(value: string | undefined, name: string, fallback: PivKeyAlgorithm): PivKeyAlgorithm {
  if (value === undefined) return fallback;
  if (value !== 'p256' && value !== 'rsa2048') throw new UsageError(`--${name} must be p256 or rsa2048`);
  return value;
}

function cardFailure(err: unknown): never {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (e instanceof WrongPinError) throw new CliError(`wrong PIN, ${e.triesLeft} ${e.triesLeft === 1 ? 'try' : 'tries'} left`, ExitCode.failed, { cause: e });
    if (e instanceof PinBlockedError) throw new CliError('PIN blocked; unblock it with the PUK (ssmax card unblock)', ExitCode.failed, { cause: e });
    if (e instanceof CardError) throw new CliError(`${e.userMessage} [card error ${e.code}]`, ExitCode.failed, { cause: e });
  }
  throw err;
}

async function withCard<T>(reader: string | undefined, work: (piv: PivSession) => Promise<T>): Promise<T> {
  const watcher = new CardWatcher();
  let serviceError: CardError | undefined;
  watcher.on('error', (e) => (serviceError = e));
  await watcher.start();
  try {
    const found = await watcher.waitForCard({ reader, timeoutMs: 5_000 }).catch((err: unknown) => {
      throw serviceError ?? err;
    });
    return await watcher.transaction((channel) => work(new PivSession(channel)), { reader: found.reader });
  } catch (err) {
    return cardFailure(err);
  } finally {
    watcher.stop();
  }
}

export async function enrollCard(args: string[]): Promise<ExitCode> {
  const { values } = parse(
    args,
    {
      node: { type: 'string' },
      address: { type: 'string' },
      root: { type: 'string' },
      alg: { type: 'string' },
      'tls-ca': { type: 'string' },
      reader: { type: 'string' },
      'code-file': { type: 'string' },
      'pin-file': { type: 'string' },
      'mgmt-key-file': { type: 'string' },
    },
    enrollCardUsage,
  );
  const node = required(values, 'node').replace(/\/+$/, '');
  if (!node.startsWith('https://')) throw new UsageError('--node must be an https:// URL (the enrollment code is a secret)');
  const address = required(values, 'address');
  const alg = algorithmOption(optional(values, 'alg'), 'alg', 'p256');
  const rootPath = required(values, 'root');
  const tlsCa = optional(values, 'tls-ca');
  const readFileOr = async (path: string, what: string): Promise<Buffer> =>
    readFile(path).catch(() => {
      throw new CliError(`cannot read ${what} ${path}`, ExitCode.usage);
    });
  const root = new X509Certificate(fromPem(await readFileOr(rootPath, 'the SSMAX root'), ['CERTIFICATE']));
  const ca = tlsCa ? await readFileOr(tlsCa, 'the TLS CA') : undefined;
  const file = (name: string): { file?: string } => (optional(values, name) ? { file: optional(values, name)! } : {});
  const code = await readSecret({ envVar: 'SSMAX_ENROLL_CODE', what: 'enrollment code', ...file('code-file') });
  const pin = await readSecret({ envVar: 'SSMAX_CARD_PIN', what: 'card PIN', ...file('pin-file') });
  const mgmtHex = await readSecret({ envVar: 'SSMAX_CARD_MGMT_KEY', what: 'card management key', ...file('mgmt-key-file') });
  if (!/^([0-9a-f]{2}){16,32}$/i.test(mgmtHex)) throw new UsageError('the card management key must be 32, 48 or 64 hex digits');
  const managementKey = Buffer.from(mgmtHex, 'hex');
  const reader = optional(values, 'reader');
  const url = `${node}${ENROLL_PATH}`;
  const apiFailure = (err: unknown): never => {
    if (err instanceof EnrollmentApiError) throw new CliError(err.message.replace('the trusted SSMAX root', 'the SSMAX root given with --root'), ExitCode.failed, { cause: err });
    throw err;
  };

  // 0. The code, judged by the node without spending it, before the card is touched: on an enrolled
  // card a refusal after key generation would leave its certificates without their keys.
  await checkEnrollmentCode({ url, address, code, tlsCa: ca }).catch(apiFailure);

  // 1. Keys and card-signed CSRs.
  const generated = await withCard(reader, async (piv) => ({
    signature: await generateKeyWithCsr(piv, { slot: PivSlot.SIGNATURE, algorithm: alg, subject: `CN=${address}`, pin, managementKey }),
    keyManagement: await generateKeyWithCsr(piv, { slot: PivSlot.KEY_MANAGEMENT, algorithm: alg, subject: `CN=${address}`, pin, managementKey }),
  }));

  // 2. The enrollment API, 3. checks before writing: right keys, right chain, the root IT trusts.
  let issued;
  try {
    issued = await requestCertificates({
      url,
      address,
      code,
      signatureCsr: toPem(generated.signature.csr, 'CERTIFICATE REQUEST'),
      keyManagementCsr: toPem(generated.keyManagement.csr, 'CERTIFICATE REQUEST'),
      tlsCa: ca,
    });
    checkIssued(issued, { signature: generated.signature.publicKey, keyManagement: generated.keyManagement.publicKey }, [new Uint8Array(root.raw)]);
  } catch (err) {
    return apiFailure(err);
  }
  const sigCert = issued.signatureCertificate;
  const kmCert = issued.keyManagementCertificate;
  const orgCaDer = issued.orgCa;

  // 4. Onto the card.
  await withCard(reader, async (piv) => {
    await importCertificate(piv, PivSlot.SIGNATURE, sigCert, managementKey);
    await importCertificate(piv, PivSlot.KEY_MANAGEMENT, kmCert, managementKey);
    await writeOrgCa(piv, orgCaDer, managementKey);
  });
  console.log(`card enrolled for ${address}: 9C ${new X509Certificate(sigCert).serialNumber.toLowerCase()}, 9D ${new X509Certificate(kmCert).serialNumber.toLowerCase()}, org CA written`);
  return ExitCode.ok;
}
