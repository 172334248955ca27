import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../../cli/main';
import { AbuseDesk, FORWARD_FORMAT, createAbuseReport } from '../../../org-node/abuse/desk';
import { bundleAbuseEndpoint } from '../../../org-node/abuse/open';
import { Authority } from '../../../org-node/authority/authority';
import { FileBundleCache } from '../../../org-node/bundle/file-cache';
import { httpsBundleFetcher } from '../../../org-node/bundle/https-fetcher';
import { OrgBundleClient } from '../../../smime/bundle/client';
import { startOrgServer, type OrgServerHandle } from '../../../org-node/http/server';
import { Org } from '../../../org-node/org';
import { fromPem } from '../../../org-node/pem';
import { readCrl } from '../../../smime/chain';
import { signData } from '../../../smime/cms';
import { SoftwareSigner, type Signer } from '../../../smime/keys';
import { createCsr, exportPkcs8, generateProfileKeyPair } from '../../../smime/pki';
import { buildOrg, buildRoot } from '../../support/ssmax-pki';
import { workdir, type Workdir } from '../../support/openssl';
import { buildMail, headersFor, signerOf } from '../../smime/chain/world';
import { processSubmission } from '../../../org-node/relay/pipeline';
import { staticResolver } from '../../../org-node/relay/resolver';
import type { RelayDeps } from '../../../org-node/relay/types';
import { safeInspector } from '../relay/relay-world';

/**
 * SPEC §8 end to end over HTTP: Bob (org B) reports mail from Alice (org A) at B's desk → recorded at B
 * with the chain → forwarded to A's desk (signed by B's org key) → `ssmax abuse show` at A identifies
 * Alice → `ssmax abuse suspend` revokes her certificates → A's CRL lists her 9C certificate.
 */

interface Node {
  readonly org: Org;
  readonly desk: AbuseDesk;
  readonly server: OrgServerHandle;
  readonly dir: string;
}

interface Card {
  readonly address: string;
  readonly signer: Signer;
  readonly serial: string;
}

let wd: Workdir;
let a: Node;
let b: Node;
let alice: Card;
let bob: Card;
let mail: Buffer;
const logs: string[] = [];

async function orgSigner(org: Org): Promise<Signer> {
  return org.keys.signer(org.config.keys.signing, await org.orgKeyCertificate(org.config.keys.signing));
}

async function enrol(org: Org, address: string, name: string, staffId: string): Promise<Card> {
  await org.directory.addMember({ address, name, staffId }, 'test');
  const sig = await generateProfileKeyPair('P-256');
  const km = await generateProfileKeyPair('P-256');
  const csr = async (k: Awaited<ReturnType<typeof generateProfileKeyPair>>): Promise<Uint8Array> => createCsr([{ CN: [name] }], new Uint8Array(await crypto.subtle.exportKey('spki', k.publicKey)), k.privateKey);
  const issued = await org.issueMemberCertificates(address, await csr(sig), await csr(km), 'test');
  const signer = new SoftwareSigner(await exportPkcs8(sig.privateKey), issued.signature);
  const serial = (await org.directory.certificates(address)).find((c) => c.slot === '9C')!.serial;
  return { address, signer, serial };
}

/** Org A's relay (the pipeline over A's real keys, directory and CRL) takes a new submission from Alice. */
async function aliceSubmits(): Promise<string[]> {
  const orgA = a.org;
  const encId = orgA.config.keys.encryption[orgA.config.keys.encryption.length - 1]!;
  const encCert = await orgA.orgKeyCertificate(encId);
  const root = await orgA.rootCertificate();
  const bEnc = (await b.org.encryptionCertificates())[0]!;
  const deps: RelayDeps = {
    org: { domains: orgA.config.domains, caCertificate: await orgA.orgCaCertificate(), signer: await orgSigner(orgA), decryptors: [await orgA.keys.decryptor(encId, encCert)] },
    trustAnchors: [root],
    crls: async () => [await orgA.currentCrl()],
    directory: orgA.directory,
    resolveOrg: staticResolver({ 'b.example.jp': { id: 'b.example.jp', encryptionCertificate: bEnc } }),
    inspect: safeInspector,
    now: () => new Date(),
  };
  const now = new Date();
  const built = await buildMail({ headers: { ...headersFor(alice.address, bob.address, 'Again'), date: now }, signer: alice.signer, signerCaDer: await orgA.orgCaCertificate(), signingTime: now, encryptTo: encCert });
  const out = await processSubmission(deps, { raw: built.wire, submitter: alice.address, envelope: { mailFrom: alice.address, rcptTo: [bob.address] } });
  return out.outcomes.map((o) => o.kind);
}

function post(url: string, body: Uint8Array | string, type = 'application/pkcs7-mime; smime-type=signed-data'): Promise<{ status: number; json: Record<string, unknown> }> {
  return fetch(url, { method: 'POST', headers: { 'content-type': type }, body }).then(async (r) => ({ status: r.status, json: (await r.json()) as Record<string, unknown> }));
}

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...x: unknown[]) => void out.push(x.join(' ')));
  const error = vi.spyOn(console, 'error').mockImplementation((...x: unknown[]) => void err.push(x.join(' ')));
  try {
    const code = await main([...args, '--passphrase-file', wd.path('passphrase')]);
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

beforeAll(async () => {
  wd = await workdir('ssmax-abuse-');
  await wd.file('passphrase', 'abuse test passphrase\n');
  const secrets = { passphraseFile: wd.path('passphrase') };
  const authority = await Authority.init(wd.path('authority'), {}, secrets);
  const orgs: Org[] = [];
  for (const [name, domain] of [
    ['A Corp', 'a.example.jp'],
    ['B Corp', 'b.example.jp'],
  ] as const) {
    const init = await Org.init(wd.path(domain), { name, domains: [domain], publicBaseUrl: `http://127.0.0.1/${domain}` }, secrets);
    await init.org.installCa(await authority.admit({ orgName: name, domains: [domain], csr: fromPem(await readFile(init.csrPath, 'utf8'), ['CERTIFICATE REQUEST']) }), await authority.rootCertificate());
    orgs.push(init.org);
  }
  await authority.close();
  const [orgA, orgB] = orgs as [Org, Org];
  // The abuse endpoint's path is the configured one (publicBaseUrl + /ssmax/abuse/v1): here /a.example.jp/ssmax/abuse/v1.
  const log = (line: string): void => void logs.push(line);
  const deskA = AbuseDesk.open(orgA, { resolveAbuseEndpoint: () => Promise.resolve(undefined), log });
  const serverA = await startOrgServer(orgA, { listen: { host: '127.0.0.1', port: 0 }, log, abuseDesk: deskA });
  const deskB = AbuseDesk.open(orgB, {
    // Production: the abuse endpoint of the sender's org bundle; here A's server.
    resolveAbuseEndpoint: (domain) => Promise.resolve(domain === 'a.example.jp' ? `${serverA.url}${deskA.path}` : undefined),
    retryDelayMs: 0,
    log,
  });
  const serverB = await startOrgServer(orgB, { listen: { host: '127.0.0.1', port: 0 }, log, abuseDesk: deskB });
  a = { org: orgA, desk: deskA, server: serverA, dir: wd.path('a.example.jp') };
  b = { org: orgB, desk: deskB, server: serverB, dir: wd.path('b.example.jp') };
  alice = await enrol(orgA, 'alice@a.example.jp', 'Alice Sato', 'S-0042');
  bob = await enrol(orgB, 'bob@b.example.jp', 'Bob Tanaka', 'S-7001');

  // alice@a → bob@b as Bob's client holds it after decryption: ① Alice, ② A, ③ B.
  const now = new Date();
  const envelope = { mailFrom: alice.address, rcptTo: [bob.address] };
  const built = await buildMail({
    headers: { ...headersFor(alice.address, bob.address, 'Invoice'), date: now },
    signer: alice.signer,
    signerCaDer: await orgA.orgCaCertificate(),
    signingTime: now,
    links: [
      { signer: await orgSigner(orgA), caDer: await orgA.orgCaCertificate(), hop: 'sending-org', time: now, envelope },
      { signer: await orgSigner(orgB), caDer: await orgB.orgCaCertificate(), hop: 'receiving-org', time: now, envelope },
    ],
  });
  mail = built.wire;
}, 120_000);

afterAll(async () => {
  for (const n of [a, b]) {
    if (!n) continue;
    await n.server.close();
    n.desk.close();
    await n.org.close();
  }
  await wd?.remove();
});

describe('abuse desk (SPEC §8)', () => {
  let idAtA = '';

  it('records Bob\'s report at B with the verified chain and forwards it to A', async () => {
    const report = await createAbuseReport({ message: mail, reason: 'Phishing: asks for my password', signer: bob.signer, orgCa: await b.org.orgCaCertificate() });
    const res = await post(`${b.server.url}${b.desk.path}`, report);
    expect(res.status, JSON.stringify(res.json)).toBe(202);
    expect(res.json).toMatchObject({ state: 'verified', senderVerified: true, forwardStatus: 'forwarded' });

    const atB = b.desk.get(res.json.id as string)!;
    expect(atB).toMatchObject({ kind: 'member', reporter: bob.address, senderEmail: alice.address, senderStaffId: 'S-0042', senderOrg: 'A Corp', senderSerial: alice.serial, forwardAttempts: 1 });
    expect(atB.forwardedTo).toBe(`${a.server.url}${a.desk.path}`);
    expect(atB.chain.map((l) => [l.role, l.status])).toEqual([
      ['sender', 'valid'],
      ['sending-org', 'valid'],
      ['receiving-org', 'valid'],
    ]);
    expect(atB.chain[0]!.fingerprints).toHaveLength(3);
    expect(Buffer.from(atB.message).equals(mail)).toBe(true);
    const auditB = await b.org.directory.auditLog({ subject: alice.address });
    expect(auditB.map((e) => e.action)).toEqual(expect.arrayContaining(['abuse.report', 'abuse.forward']));
    expect(auditB.find((e) => e.action === 'abuse.report')!.detail).toContain('S-0042');

    const atA = a.desk.list();
    expect(atA).toHaveLength(1);
    expect(atA[0]).toMatchObject({ kind: 'forwarded', sourceReportId: atB.id, reporter: bob.address, reason: 'Phishing: asks for my password', senderEmail: alice.address, senderVerified: true });
    expect(atA[0]!.reporterOrg).toContain('b.example.jp');
    expect((await a.org.directory.auditLog({ subject: alice.address })).map((e) => e.action)).toContain('abuse.report-forwarded');
    idAtA = atA[0]!.id;
  });

  it('`ssmax abuse list|show` at A identifies Alice from ①\'s certificate', async () => {
    const list = await cli(['abuse', 'list', '--dir', a.dir]);
    expect(list.code, list.err).toBe(0);
    expect(list.out).toContain(idAtA);
    const show = await cli(['abuse', 'show', idAtA, '--dir', a.dir]);
    expect(show.code, show.err).toBe(0);
    expect(show.out).toMatch(/name:\s+Alice Sato/);
    expect(show.out).toMatch(/staff ID:\s+S-0042/);
    expect(show.out).toMatch(/address:\s+alice@a\.example\.jp/);
    expect(show.out).toMatch(/org:\s+A Corp/);
    expect(show.out).toContain(`serial ${alice.serial}`);
    expect(show.out).toMatch(/sender\s+valid/);
    const missing = await cli(['abuse', 'show', 'nope', '--dir', a.dir]);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('no abuse report nope');
  });

  it('`ssmax abuse suspend` suspends Alice: her certificates revoked, A\'s CRL lists her 9C certificate, A\'s relay refuses her next mail, logged', async () => {
    expect(await aliceSubmits()).toEqual(['relay']);
    const before = readCrl(await a.org.currentCrl());
    expect(before.crl.entries.map((e) => e.serialNumber.toLowerCase())).not.toContain(alice.serial);
    const r = await cli(['abuse', 'suspend', idAtA, '--dir', a.dir]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('alice@a.example.jp suspended; 2 certificate(s) revoked; CRL reissued');
    expect((await a.org.directory.getMember(alice.address))!.status).toBe('suspended');
    const crl = readCrl(await a.org.currentCrl());
    expect(crl.crl.entries.map((e) => e.serialNumber.toLowerCase().replace(/^(00)+/, ''))).toContain(alice.serial);
    expect((await a.org.directory.auditLog({ subject: alice.address })).map((e) => e.action)).toContain('abuse.suspend');
    expect(a.desk.get(idAtA)!.action).toMatch(/^suspended alice@a\.example\.jp/);
    // A's relay refuses her next submission.
    expect(await aliceSubmits()).toEqual(['bounce']);
    const again = await cli(['abuse', 'suspend', idAtA, '--dir', a.dir]);
    expect(again.code).toBe(1);
    expect(again.err).toContain('already suspended');
  });

  it('refuses forwarded reports that are not signed by a known SSMAX org\'s signing key; nothing recorded', async () => {
    const before = a.desk.list().length;
    const json = Buffer.from(JSON.stringify({ format: FORWARD_FORMAT, reportId: 'x', reporter: 'bob@b.example.jp', reason: 'forged', message: mail.toString('base64') }));
    // signed by a member card instead of an org key
    const byCard = await signData({ content: json, signers: [bob.signer], detached: false, certificates: [await b.org.orgCaCertificate()] });
    // signed by a "B Corp" under another root
    const rogue = await buildOrg(await buildRoot('P-256'), 'P-256', 'B Corp', 'b.example.jp');
    const byRogue = await signData({ content: json, signers: [signerOf(rogue.signing)], detached: false, certificates: [new Uint8Array(rogue.ca.certificate.rawData)] });
    for (const body of [byCard, byRogue]) {
      const res = await post(`${a.server.url}${a.desk.path}`, body);
      expect(res.status).toBe(403);
      expect(res.json.error).toMatch(/signed by the org-signing key of a known SSMAX org/);
    }
    // altered after signing
    const good = await signData({ content: json, signers: [await orgSigner(b.org)], detached: false, certificates: [await b.org.orgCaCertificate()] });
    const at = Buffer.from(good).indexOf(Buffer.from('forged'));
    const tampered = Buffer.from(good);
    tampered[at] = 'F'.charCodeAt(0);
    const res = await post(`${a.server.url}${a.desk.path}`, tampered);
    expect(res.status).toBe(403);
    expect(res.json.error).toMatch(/signature does not verify/);
    // unsigned JSON
    const plain = await post(`${a.server.url}${a.desk.path}`, json);
    expect(plain.status).toBe(400);
    expect(a.desk.list()).toHaveLength(before);
  });

  it('retries forwarding: transient failures then success → forwarded; always down → failed with the last error; a 4xx is not retried', async () => {
    const report = await createAbuseReport({ message: mail, reason: 'retry test', signer: bob.signer, orgCa: await b.org.orgCaCertificate() });
    const calls: string[] = [];
    const flaky = AbuseDesk.open(b.org, {
      resolveAbuseEndpoint: () => Promise.resolve(`${a.server.url}${a.desk.path}`),
      retryDelayMs: 0,
      log: () => undefined,
      post: async (url, body) => {
        calls.push(url);
        if (calls.length === 1) throw new Error('connection refused');
        if (calls.length === 2) return { status: 503, body: 'busy' };
        const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/pkcs7-mime' }, body });
        return { status: r.status, body: await r.text() };
      },
    });
    const down = AbuseDesk.open(b.org, { resolveAbuseEndpoint: () => Promise.resolve('http://127.0.0.1:9/x'), retryDelayMs: 0, attempts: 4, log: () => undefined, post: () => Promise.resolve({ status: 503, body: 'down' }) });
    const refusing = AbuseDesk.open(b.org, { resolveAbuseEndpoint: () => Promise.resolve('http://127.0.0.1:9/x'), retryDelayMs: 0, log: () => undefined, post: () => Promise.resolve({ status: 403, body: 'no' }) });
    const unknown = AbuseDesk.open(b.org, { resolveAbuseEndpoint: () => Promise.resolve(undefined), log: () => undefined });
    try {
      expect(await flaky.receive(report)).toMatchObject({ forwardStatus: 'forwarded', forwardAttempts: 3 });
      expect(a.desk.list().filter((r) => r.reason === 'retry test')).toHaveLength(1);
      expect(await down.receive(report)).toMatchObject({ forwardStatus: 'failed', forwardAttempts: 4, forwardError: 'HTTP 503: down' });
      expect(await refusing.receive(report)).toMatchObject({ forwardStatus: 'failed', forwardAttempts: 1, forwardError: 'HTTP 403: no' });
      const none = await unknown.receive(report);
      expect(none.forwardStatus).toBe('failed');
      expect(none.forwardError).toMatch(/no abuse endpoint for a\.example\.jp/);
      expect((await b.org.directory.auditLog({ subject: alice.address })).filter((e) => e.action === 'abuse.forward-failed')).toHaveLength(3);
    } finally {
      for (const d of [flaky, down, refusing, unknown]) d.close();
    }
  });

  it('forwarding survives a restart: killed while forwarding (report pending), the reopened desk forwards it once', async () => {
    const report = await createAbuseReport({ message: mail, reason: 'restart test', signer: bob.signer, orgCa: await b.org.orgCaCertificate() });
    // The first desk's forward never completes (the process "dies" during the POST).
    const dying = AbuseDesk.open(b.org, { resolveAbuseEndpoint: () => Promise.resolve(`${a.server.url}${a.desk.path}`), log: () => undefined, post: () => new Promise(() => undefined) });
    void dying.receive(report);
    const pending = await (async () => {
      for (let i = 0; i < 200; i++) {
        const r = dying.list().find((x) => x.reason === 'restart test');
        if (r) return r;
        await new Promise((res) => setTimeout(res, 50));
      }
      return undefined;
    })();
    expect(pending?.forwardStatus).toBe('pending');
    dying.close();
    const restarted = AbuseDesk.open(b.org, { resolveAbuseEndpoint: () => Promise.resolve(`${a.server.url}${a.desk.path}`), retryDelayMs: 0, log: () => undefined });
    try {
      const resumed = await restarted.resumeForwards();
      expect(resumed.map((r) => [r.id, r.forwardStatus])).toEqual([[pending?.id, 'forwarded']]);
      expect(a.desk.list().filter((r) => r.reason === 'restart test')).toHaveLength(1);
      expect(await restarted.resumeForwards()).toEqual([]); // nothing pending any more: never twice
    } finally {
      restarted.close();
    }
  });

  it('refuses a member report signed by someone who is not an active member of this org', async () => {
    const before = b.desk.list().length;
    const byAlice = await createAbuseReport({ message: mail, reason: 'x', signer: alice.signer, orgCa: await a.org.orgCaCertificate() });
    const res = await post(`${b.server.url}${b.desk.path}`, byAlice);
    expect(res.status).toBe(403);
    expect(res.json.error).toMatch(/not signed by the card of an active member of this org/);
    expect(b.desk.list()).toHaveLength(before);
  });

  it('records a report about an unverifiable message, marked unverified and not forwarded', async () => {
    const junk = Buffer.from('From: alice@a.example.jp\r\nTo: bob@b.example.jp\r\nSubject: hi\r\n\r\nclick here\r\n');
    const report = await createAbuseReport({ message: junk, reason: 'spam', signer: bob.signer, orgCa: await b.org.orgCaCertificate() });
    const res = await post(`${b.server.url}${b.desk.path}`, report);
    expect(res.status).toBe(202);
    expect(res.json).toMatchObject({ state: 'unsigned', senderVerified: false, forwardStatus: 'not-needed' });
    expect(b.desk.get(res.json.id as string)!.chain).toEqual([]);
  });

  it('answers garbage with 400/405/415 and a clear message; nothing recorded', async () => {
    const before = b.desk.list().length;
    const url = `${b.server.url}${b.desk.path}`;
    const orgCa = await b.org.orgCaCertificate();
    const signed = (content: string): Promise<Uint8Array> => signData({ content: Buffer.from(content), signers: [bob.signer], detached: false, certificates: [orgCa] });
    const cases: [Promise<{ status: number; json: Record<string, unknown> }>, number, RegExp][] = [
      [post(url, 'garbage'), 400, /not a CMS SignedData/],
      [post(url, ''), 400, /empty/],
      [post(url, '{"reason":"x"}', 'application/json'), 415, /CMS SignedData/],
      [fetch(url).then(async (r) => ({ status: r.status, json: (await r.json()) as Record<string, unknown> })), 405, /Use POST/],
      [signed('not json').then((d) => post(url, d)), 400, /not valid JSON/],
      [createAbuseReport({ message: mail, reason: '', signer: bob.signer, orgCa }).then((d) => post(url, d)), 400, /needs a reason/],
      [
        signed(JSON.stringify({ format: 'ssmax-abuse-report/1', reason: 'x', message: '%%' })).then((d) => post(url, d)),
        400,
        /reported message \(base64\)/,
      ],
      [signed(JSON.stringify({ format: 'other' })).then((d) => post(url, d)), 400, /Unknown report format/],
    ];
    for (const [p, status, message] of cases) {
      const res = await p;
      expect(res.status, JSON.stringify(res.json)).toBe(status);
      expect(res.json.error).toMatch(message);
    }
    expect(b.desk.list()).toHaveLength(before);
  });

  it('production lookup: the forward endpoint is the abuseEndpoint of the other org\'s verified bundle', async () => {
    const bundles = new OrgBundleClient({
      roots: [await b.org.rootCertificate()],
      fetcher: httpsBundleFetcher({ allowHttp: true }),
      cache: new FileBundleCache(wd.path('b-bundles')),
      urlFor: (domain) => (domain === 'a.example.jp' ? `${a.server.url}/.well-known/ssmax/bundle.p7s` : `${a.server.url}/nothing/${domain}`),
    });
    const resolve = bundleAbuseEndpoint(bundles);
    expect(await resolve('a.example.jp')).toBe(a.org.config.abuseEndpoint);
    expect(new URL(a.org.config.abuseEndpoint).pathname).toBe(a.desk.path);
    await expect(resolve('unknown.example')).rejects.toThrow();
  });
});
