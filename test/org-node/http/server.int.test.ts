import { request } from 'node:http';
import type { webcrypto } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Authority } from '../../../org-node/authority/authority';
import { startOrgServer, type OrgServerHandle } from '../../../org-node/http/server';
import { Org } from '../../../org-node/org';
import { fromPem } from '../../../org-node/pem';
import { x509 } from '../../../smime/x509';
import { workdir, type Workdir } from '../../support/openssl';

/** The node's HTTP side refuses bad requests with the right status and one JSON line, never a crash. */

let wd: Workdir;
let org: Org;
let server: OrgServerHandle;
let weakCsr: string;

function http(path: string, options: { method?: string; headers?: Record<string, string>; body?: Buffer | string } = {}): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(`${server.url}${path}`, { method: options.method ?? 'GET', headers: options.headers ?? {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: res.headers }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

beforeAll(async () => {
  wd = await workdir('ssmax-org-http-');
  await wd.file('passphrase', 'http test passphrase\n');
  const secrets = { passphraseFile: wd.path('passphrase') };
  const authority = await Authority.init(wd.path('authority'), {}, secrets);
  const init = await Org.init(wd.path('org'), { name: 'Http Corp', domains: ['http.example.jp'] }, secrets);
  org = init.org;
  // Before install-ca there is no bundle: the server refuses to start and says what to do.
  await expect(startOrgServer(org, { listen: { host: '127.0.0.1', port: 0 }, log: () => undefined })).rejects.toThrow(/No org bundle in .* yet \(run `ssmax org install-ca`\)/);
  await org.installCa(await authority.admit({ orgName: 'Http Corp', domains: ['http.example.jp'], csr: fromPem(await readFile(init.csrPath, 'utf8'), ['CERTIFICATE REQUEST']) }), await authority.rootCertificate());
  await authority.close();
  server = await startOrgServer(org, { listen: { host: '127.0.0.1', port: 0 }, log: () => undefined });
  const weak = (await crypto.subtle.generateKey({ name: 'RSASSA-PKCS1-v1_5', modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, false, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  weakCsr = (await x509.Pkcs10CertificateRequestGenerator.create({ name: 'CN=weak', keys: weak, signingAlgorithm: { name: 'RSASSA-PKCS1-v1_5' } })).toString('pem');
});

afterAll(async () => {
  await server?.close();
  await org?.close();
  await wd?.remove();
});

describe('org node HTTP side', () => {
  it('serves the bundle and the CRL (GET and HEAD) with their media types', async () => {
    const bundle = await http('/.well-known/ssmax/bundle.p7s');
    expect(bundle.status).toBe(200);
    expect(bundle.headers['content-type']).toBe('application/pkcs7-mime; smime-type=signed-data');
    const head = await http('/.well-known/ssmax/org-ca.crl', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect(Number(head.headers['content-length'])).toBe((await org.currentCrl()).length);
  });

  it('answers wrong paths, methods, media types, sizes and JSON with one JSON error', async () => {
    const cases: [string, Parameters<typeof http>[1], number, RegExp][] = [
      ['/nothing', {}, 404, /Not found/],
      ['/.well-known/ssmax/bundle.p7s', { method: 'POST' }, 405, /Use GET/],
      ['/ssmax/enroll/v1', {}, 405, /Use POST/],
      ['/ssmax/enroll/v1', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' }, 415, /Send JSON/],
      ['/ssmax/enroll/v1', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{not json' }, 400, /not valid JSON/],
      ['/ssmax/enroll/v1', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"address":"a@http.example.jp"}' }, 400, /address and code are required/],
      ['/ssmax/enroll/v1', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ address: 'a@http.example.jp', code: 'x', signatureCsr: '%%%', keyManagementCsr: 'AA==' }) }, 400, /signatureCsr is neither PEM nor base64 DER/],
      ['/ssmax/enroll/v1', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ address: 'a@http.example.jp', code: 'x', signatureCsr: 'AAAA', keyManagementCsr: 'AAAA' }) }, 422, /not a readable PKCS#10 request/],
      ['/ssmax/enroll/v1', { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"pad":"${'x'.repeat(70_000)}"}` }, 413, /too large/],
      ['/ssmax/enroll/v1', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ address: 'a@http.example.jp', code: 'x', signatureCsr: weakCsr, keyManagementCsr: weakCsr }) }, 422, /RSA key of 1024 bits/],
    ];
    for (const [path, options, status, message] of cases) {
      const res = await http(path, options);
      expect(res.status, `${path} ${res.body}`).toBe(status);
      expect((JSON.parse(res.body) as { error: string }).error).toMatch(message);
    }
  });
});
