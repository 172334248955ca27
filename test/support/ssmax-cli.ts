import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { request } from 'node:https';
import { webcrypto } from 'node:crypto';
import { x509 } from '../../smime/x509';

/** Runs the `ssmax` CLI as a child process, as IT would (integration tests only). */
export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function ssmax(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['cli/bin/ssmax.mjs', ...args], { env: { ...process.env, ...env }, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(error);
      resolve({ code: error ? Number(error.code) : 0, stdout, stderr });
    });
  });
}

export interface ServeHandle {
  readonly url: string;
  readonly output: () => string;
  stop(): Promise<number | null>;
}

/** Starts `ssmax org serve …` and waits for its "serving … on <url>" line. */
export async function ssmaxServe(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<ServeHandle> {
  const child = spawn(process.execPath, ['cli/bin/ssmax.mjs', 'org', 'serve', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (out += d.toString('utf8')));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ssmax org serve did not start:\n${out}`)), 30_000);
    const onData = (): void => {
      const m = / on (https?:\/\/[^\s]+) \(bundle/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`ssmax org serve exited with ${code}:\n${out}`));
    });
  });
  return {
    url,
    output: () => out,
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number | null];
      return code;
    },
  };
}

export interface HttpsAnswer {
  readonly status: number;
  readonly body: Buffer;
  readonly headers: Record<string, string | string[] | undefined>;
}

/** One HTTPS request trusting only `ca` (the test server's self-signed certificate). */
export function httpsRequest(url: string, options: { ca: string; method?: string; json?: unknown }): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const body = options.json === undefined ? undefined : Buffer.from(JSON.stringify(options.json));
    const req = request(url, { method: options.method ?? (body ? 'POST' : 'GET'), ca: options.ca, headers: body ? { 'content-type': 'application/json', 'content-length': body.length } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Stand-in for a staff card's two key pairs and their self-signed CSRs (the real card is in native/). */
export async function cardRequests(algorithm: 'P-256' | 'RSA-2048', name: string): Promise<{ signatureCsr: string; keyManagementCsr: string }> {
  const params =
    algorithm === 'P-256'
      ? { name: 'ECDSA', namedCurve: 'P-256' }
      : { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' };
  const signingAlgorithm = algorithm === 'P-256' ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'RSASSA-PKCS1-v1_5' };
  const csr = async (): Promise<string> => {
    const keys = (await webcrypto.subtle.generateKey(params, false, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
    return (await x509.Pkcs10CertificateRequestGenerator.create({ name: `CN=${name}`, keys, signingAlgorithm })).toString('pem');
  };
  return { signatureCsr: await csr(), keyManagementCsr: await csr() };
}
