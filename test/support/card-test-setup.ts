import { generateProfileKeyPair, issueOrgCa, type CertificateAuthority } from '../../smime/pki';
import { CardWatcher } from '../../native/pcsc/card-watcher';
import type { PcscdHandle } from '../harness/pcsc';
import { startVirtualCard, type VirtualCardHandle } from '../harness/virtual-card';
import { openssl, type OpensslResult, type Workdir } from './openssl';
import { buildRoot, validity } from './ssmax-pki';

/** Shared setup of the card integration tests: a virtual card seen through pcscd, the org CA, OpenSSL checks. */

/** Starts a virtual card on `pcscd` and a CardWatcher (20 s APDU timeout) that has seen it. */
export async function startWatchedCard(
  pcscd: PcscdHandle,
): Promise<{ card: VirtualCardHandle; watcher: CardWatcher }> {
  const card = await startVirtualCard(pcscd);
  const watcher = new CardWatcher({ apduTimeoutMs: 20_000 });
  await watcher.start();
  await watcher.waitForCard();
  return { card, watcher };
}

/** A P-256 SSMAX root and an org CA under it for `orgName`, valid for `domain`. */
export async function buildOrgCa(
  orgName: string,
  domain: string,
): Promise<{ root: CertificateAuthority; orgCa: CertificateAuthority }> {
  const root = await buildRoot('P-256');
  const orgCa = await issueOrgCa(root, {
    orgName,
    domains: [domain],
    keys: await generateProfileKeyPair('P-256'),
    ...validity,
  });
  return { root, orgCa };
}

/** `openssl cms -verify` of a detached DER signature (files in `wd`) to the anchors in `caFile`, purpose smimesign. */
export function opensslCmsVerify(
  wd: Workdir,
  files: { signature: string; content: string; caFile: string; out?: string },
): Promise<OpensslResult> {
  return openssl([
    'cms',
    '-verify',
    '-binary',
    '-inform',
    'DER',
    '-in',
    wd.path(files.signature),
    '-content',
    wd.path(files.content),
    '-CAfile',
    wd.path(files.caFile),
    '-purpose',
    'smimesign',
    ...(files.out === undefined ? [] : ['-out', wd.path(files.out)]),
  ]);
}

/** `openssl req` arguments for a self-signed P-256 test CA (no passphrase, 30 days). */
export function opensslTestCaArgs(keyFile: string, certFile: string, commonName: string): string[] {
  return [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-subj',
    `/CN=${commonName}`,
    '-days',
    '30',
  ];
}

/** `pkcs11-tool` arguments to log in with `pin` and sign `input` into `output` with key `id`. */
export function pkcs11SignArgs(
  module: string,
  sign: { pin: string; id: string; mechanism: string; opensslFormat: boolean; input: string; output: string },
): string[] {
  return [
    '--module',
    module,
    '--login',
    '--pin',
    sign.pin,
    '--sign',
    '--id',
    sign.id,
    '-m',
    sign.mechanism,
    ...(sign.opensslFormat ? ['--signature-format', 'openssl'] : []),
    '-i',
    sign.input,
    '-o',
    sign.output,
  ];
}

/**
 * Extracts the public key of the PEM certificate `certFile` into `pubFile`, then
 * `openssl dgst -sha256 -verify` of `signatureFile` over `dataFile` (all in `wd`).
 */
export async function opensslVerifyWithCertKey(
  wd: Workdir,
  files: { certFile: string; pubFile: string; signatureFile: string; dataFile: string },
): Promise<OpensslResult> {
  await openssl([
    'x509',
    '-in',
    wd.path(files.certFile),
    '-pubkey',
    '-noout',
    '-out',
    wd.path(files.pubFile),
  ]);
  return openssl([
    'dgst',
    '-sha256',
    '-verify',
    wd.path(files.pubFile),
    '-signature',
    wd.path(files.signatureFile),
    wd.path(files.dataFile),
  ]);
}
