import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyMessage } from '../../../smime/chain';
import { decryptContent, encryptContent, signData } from '../../../smime/cms';
import { softwareDecryptor } from '../../../smime/keys';
import { buildMultipartSigned, buildPkcs7Mime, buildProtectedPayload, parseMessage } from '../../../smime/mime';
import { verifyOrgBundle } from '../../../smime/bundle/verify';
import { exportPkcs8, generateProfileKeyPair } from '../../../smime/pki';
import { x509 } from '../../../smime/x509';
import { CardWatcher } from '../../../native/pcsc/card-watcher';
import { CardSigner, openCardDecryptor } from '../../../native/piv/card-keys';
import { PinCache } from '../../../native/piv/pin-cache';
import { DEFAULT_MGMT_KEY, DEFAULT_PIN } from '../../../native/virtual-card/state';
import { Authority } from '../../../org-node/authority/authority';
import { Org } from '../../../org-node/org';
import { toPem } from '../../../org-node/pem';
import { hashPassword } from '../../../org-node/smtp/credentials';
import { startClamd, type ClamdHandle } from '../../harness/clamd';
import { startDovecot, type DovecotHandle } from '../../harness/dovecot';
import { startPcscd, type PcscdHandle } from '../../harness/pcsc';
import { freePort } from '../../harness/process';
import { startVirtualCard, type VirtualCardHandle } from '../../harness/virtual-card';
import { openssl } from '../../support/openssl';
import { ssmax } from '../../support/ssmax-cli';

/**
 * Issue 6's first test, on the production path: two orgs made with the real Authority/Org code,
 * staff cards (virtual PIV cards behind pcscd + vpcd) enrolled with `ssmax org enroll-card` against
 * the node's enrollment API, both org nodes started as `ssmax node run --config node.json` child
 * processes. Alice signs on her card and submits to node a; node a relays to node b (bundle from its
 * cache, verified against the root); node b delivers to Bob's Dovecot. The delivered message is
 * encrypted only to Bob's 9D certificate, `ssmax verify --card` decrypts it on Bob's card and says
 * `verified` with ① ② ③, and OpenSSL still verifies Alice's signature. Internal mail is one hop.
 */
const repo = resolve(__dirname, '../../..');
const ALICE = 'alice@a.example';
const CAROL = 'carol@a.example';
const BOB = 'bob@b.example';

let work: string;
let pass: string;
let rootPem: string;
let tlsCert: string;
let pcscd: PcscdHandle;
let clamd: ClamdHandle;
let dovecotA: DovecotHandle;
let dovecotB: DovecotHandle;
const nodes: { proc: ChildProcess; out: () => string }[] = [];
const ports = { subA: 0, inA: 0, inB: 0, httpA: 0, httpB: 0 };
let orgCaA: Uint8Array;
let orgEncA: Uint8Array;
let orgEncB: Uint8Array;
let carolKm: { pkcs8: Uint8Array; cert: Uint8Array };
const cards: Record<string, string> = {};

const orgDir = (k: 'a' | 'b'): string => join(work, `org-${k}`);
const nodeDir = (k: 'a' | 'b'): string => join(work, `node-${k}`);

async function softwareMember(org: Org, address: string): Promise<{ pkcs8: Uint8Array; cert: Uint8Array }> {
  await org.directory.addMember({ address, name: address.split('@')[0] ?? 'x', staffId: `S-${address.split('@')[0] ?? 'x'}` }, 'test');
  const req = async (): Promise<{ csr: Uint8Array; pkcs8: Uint8Array }> => {
    const keys = await generateProfileKeyPair('P-256');
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: `CN=${address}`, keys, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } });
    return { csr: new Uint8Array(csr.rawData), pkcs8: await exportPkcs8(keys.privateKey) };
  };
  const s = await req();
  const k = await req();
  const issued = await org.issueMemberCertificates(address, s.csr, k.csr, 'test');
  return { pkcs8: k.pkcs8, cert: issued.keyManagement };
}

function startNode(k: 'a' | 'b'): Promise<{ proc: ChildProcess; out: () => string }> {
  const proc = spawn(process.execPath, ['cli/bin/ssmax.mjs', 'node', 'run', '--config', join(nodeDir(k), 'node.json'), '--passphrase-file', pass], {
    cwd: repo,
    // Other orgs' CRLs are fetched over HTTPS from their nodes, whose TLS certificate is the test's own.
    env: { ...process.env, NODE_EXTRA_CA_CERTS: tlsCert },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`node ${k} did not start:\n${out}`)), 60_000);
    proc.stderr?.on('data', () => {
      if (/^node .*: submission/m.test(out)) {
        clearTimeout(timer);
        res({ proc, out: () => out });
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`node ${k} exited (${code}):\n${out}`));
    });
  });
}

/** A card in the reader for the duration of `fn`, seen by a fresh watcher. */
async function withCardOf<T>(address: string, fn: (watcher: CardWatcher) => Promise<T>): Promise<T> {
  const card: VirtualCardHandle = await startVirtualCard(pcscd, { stateFile: cards[address] ?? '' });
  const watcher = new CardWatcher({ apduTimeoutMs: 20_000 });
  try {
    await watcher.start();
    await watcher.waitForCard({ timeoutMs: 10_000 });
    return await fn(watcher);
  } finally {
    watcher.stop();
    await card.stop();
  }
}

function mailbox(d: DovecotHandle, address: string): Buffer[] {
  const out: Buffer[] = [];
  for (const sub of ['new', 'cur']) {
    const p = join(d.maildirOf(address), sub);
    if (existsSync(p)) for (const f of readdirSync(p)) out.push(readFileSync(join(p, f)));
  }
  return out;
}

async function until<T>(what: string, fn: () => T | undefined, limitMs = 60_000): Promise<T> {
  for (const end = Date.now() + limitMs; ; await new Promise((r) => setTimeout(r, 100))) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}\n${nodes.map((n) => n.out().slice(-3000)).join('\n---\n')}`);
  }
}

/** Alice's client: protected headers, signed on her card (9C), encrypted to org a's key only. */
async function composeOnCard(to: string, messageId: string, text: string): Promise<Buffer> {
  const { entity, outerHeaders } = await buildProtectedPayload({ from: { address: ALICE }, to: [{ address: to }], subject: `card mail to ${to}`, date: new Date(Date.now() - 30_000), messageId }, { text }, 'cipher');
  const signature = await withCardOf(ALICE, async (watcher) => {
    const signer = await CardSigner.open({ watcher, pinCache: new PinCache(), pinPrompt: async () => DEFAULT_PIN });
    return signData({ content: entity, signers: [signer], detached: true, certificates: [orgCaA], signingTime: new Date(Date.now() - 30_000) });
  });
  const inner = buildMultipartSigned({ signedPart: entity, signature, digest: 'SHA-256' });
  return buildPkcs7Mime({ smimeType: 'authEnveloped-data', der: encryptContent({ content: inner, recipients: [orgEncA] }), headers: outerHeaders });
}

async function submit(raw: Buffer, to: string): Promise<string> {
  const t = nodemailer.createTransport({ host: '127.0.0.1', port: ports.subA, secure: false, requireTLS: true, tls: { ca: readFileSync(tlsCert) }, auth: { user: ALICE, pass: 'pw-alice' } });
  try {
    return String((await t.sendMail({ envelope: { from: ALICE, to: [to] }, raw })).response);
  } finally {
    t.close();
  }
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'ssmax-cards-'));
  pass = join(work, 'passphrase');
  writeFileSync(pass, 'two orgs with cards\n');
  const secrets = { passphraseFile: pass };
  for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await freePort();
  [pcscd, clamd, dovecotA, dovecotB] = await Promise.all([
    startPcscd(),
    startClamd(),
    startDovecot({ users: [{ address: ALICE, password: 'x' }, { address: CAROL, password: 'x' }] }),
    startDovecot({ users: [{ address: BOB, password: 'x' }] }),
  ]);
  process.env.PCSCLITE_CSOCK_NAME = pcscd.env.PCSCLITE_CSOCK_NAME;

  const authority = await Authority.init(join(work, 'authority'), { name: 'Test SSMAX Root' }, secrets);
  const rootDer = await authority.rootCertificate();
  rootPem = toPem(rootDer, 'CERTIFICATE');
  writeFileSync(join(work, 'root.pem'), rootPem);
  const codes: Record<string, string> = {};
  for (const [k, domain, name, http, sub] of [['a', 'a.example', 'A Corp', ports.httpA, ports.subA], ['b', 'b.example', 'B Corp', ports.httpB, 0]] as const) {
    const { org, csrPath } = await Org.init(orgDir(k), { name, domains: [domain], publicBaseUrl: `https://127.0.0.1:${http}`, submission: { host: '127.0.0.1', port: sub || 587 } }, secrets);
    const csr = new Uint8Array(Buffer.from(readFileSync(csrPath, 'utf8').replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64'));
    await org.installCa(await authority.admit({ orgName: name, domains: [domain], csr }), rootDer);
    for (const address of k === 'a' ? [ALICE] : [BOB]) {
      await org.directory.addMember({ address, name: address.split('@')[0] ?? 'x', staffId: `S-${address.split('@')[0] ?? 'x'}` }, 'test');
      codes[address] = (await org.directory.createEnrollmentCode(address, 3_600_000, 'test')).code;
    }
    if (k === 'a') {
      carolKm = await softwareMember(org, CAROL);
      orgCaA = await org.orgCaCertificate();
      orgEncA = (await org.encryptionCertificates())[0] ?? new Uint8Array();
    } else orgEncB = (await org.encryptionCertificates())[0] ?? new Uint8Array();
    await org.close();
  }
  await authority.close();

  tlsCert = join(work, 'tls.pem');
  const tls = await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(work, 'tls.key'), '-out', tlsCert]);
  expect(tls.code, tls.stderr).toBe(0);

  for (const k of ['a', 'b'] as const) {
    const other = k === 'a' ? 'b' : 'a';
    const otherDomain = `${other}.example`;
    mkdirSync(join(nodeDir(k), 'bundles'), { recursive: true });
    // The other org's bundle, imported as IT would (ssmax.<domain> has no DNS here); verified at every use.
    copyFileSync(join(orgDir(other), 'bundle.p7s'), join(nodeDir(k), 'bundles', `${otherDomain}.p7s`));
    const v = await verifyOrgBundle(new Uint8Array(readFileSync(join(orgDir(other), 'bundle.p7s'))), { roots: [rootDer], now: new Date(), domain: otherDomain });
    writeFileSync(join(nodeDir(k), 'bundles', `${otherDomain}.json`), JSON.stringify({ version: v.version, fetchedAt: new Date().toISOString() }));
    writeFileSync(join(nodeDir(k), 'credentials.json'), JSON.stringify(k === 'a' ? { [ALICE]: await hashPassword('pw-alice') } : {}));
    const d = k === 'a' ? dovecotA : dovecotB;
    const config = {
      org: `../org-${k}`,
      name: `node.${k}.example`,
      spool: 'spool',
      ...(k === 'a' ? { submission: { listen: `127.0.0.1:${ports.subA}`, tlsCert: '../tls.pem', tlsKey: '../tls.key', credentials: 'credentials.json' } } : {}),
      inbound: { listen: `127.0.0.1:${k === 'a' ? ports.inA : ports.inB}` },
      lmtp: `${d.lmtp.host}:${d.lmtp.port}`,
      clamd: `${clamd.tcp.host}:${clamd.tcp.port}`,
      peers: { [otherDomain]: `127.0.0.1:${k === 'a' ? ports.inB : ports.inA}` },
      bundleCache: 'bundles',
      http: { listen: `127.0.0.1:${k === 'a' ? ports.httpA : ports.httpB}`, tlsCert: '../tls.pem', tlsKey: '../tls.key' },
    };
    writeFileSync(join(nodeDir(k), 'node.json'), JSON.stringify(config, null, 2));
  }
  nodes.push(...(await Promise.all([startNode('a'), startNode('b')])));

  // IT enrolls Alice's and Bob's staff cards at the card station against their org's node.
  for (const [address, http] of [[ALICE, ports.httpA], [BOB, ports.httpB]] as const) {
    cards[address] = join(work, `${address}.card.json`);
    const card = await startVirtualCard(pcscd, { stateFile: cards[address] });
    try {
      const r = await ssmax(['org', 'enroll-card', '--node', `https://127.0.0.1:${http}`, '--address', address, '--root', join(work, 'root.pem'), '--tls-ca', tlsCert], {
        ...pcscd.env,
        SSMAX_ENROLL_CODE: codes[address] ?? '',
        SSMAX_CARD_PIN: DEFAULT_PIN,
        SSMAX_CARD_MGMT_KEY: DEFAULT_MGMT_KEY,
      });
      expect(r.code, r.stderr + r.stdout).toBe(0);
    } finally {
      await card.stop();
    }
  }
}, 240_000);

afterAll(async () => {
  await Promise.all(
    nodes.map(async (n) => {
      if (n.proc.exitCode !== null) return;
      n.proc.kill('SIGTERM');
      await new Promise((r) => n.proc.once('exit', r));
    }),
  );
  await Promise.all([pcscd?.stop(), clamd?.stop(), dovecotA?.stop(), dovecotB?.stop()]);
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('two orgs, staff cards, nodes from node.json (ssmax node run)', () => {
  it('alice@a (card) → bob@b: encrypted only to Bob\'s 9D, opens on Bob\'s card, ① ② ③ verified by ssmax verify; OpenSSL verifies Alice\'s signature', async () => {
    const messageId = `<card-${Date.now()}@a.example>`;
    const raw = await composeOnCard(BOB, messageId, 'Signed on my staff card.\n');
    expect(await submit(raw, BOB)).toMatch(/^250/);
    const delivered = await until('delivery to bob', () => mailbox(dovecotB, BOB).find((m) => m.includes(messageId)));
    const file = join(work, 'delivered.eml');
    writeFileSync(file, delivered);

    // RecipientInfos: exactly one, for Bob's key-management certificate (read from his card).
    const bobKm = await withCardOf(BOB, async (watcher) => (await openCardDecryptor({ watcher, pinCache: new PinCache(), pinPrompt: async () => DEFAULT_PIN })).certificate);
    const printed = await openssl(['cms', '-cmsout', '-print', '-inform', 'SMIME', '-in', file]);
    expect(printed.code, printed.stderr).toBe(0);
    const text = printed.stdout.toString('utf8');
    const ris = text.slice(text.indexOf('recipientInfos:'), text.indexOf('authEncryptedContentInfo:') < 0 ? undefined : text.indexOf('authEncryptedContentInfo:'));
    // One recipient (key transport or one ECDH recipientEncryptedKey) naming Bob's 9D certificate; OpenSSL prints small serials in decimal.
    expect(ris.match(/d\.(ktri|kari|kekri|pwri|ori):/g)).toHaveLength(1);
    const serials = [...ris.matchAll(/serialNumber: (0x[0-9A-Fa-f]+|\d+)/g)].map((m) => BigInt(m[1] ?? '0'));
    const bobSerial = BigInt(`0x${new X509Certificate(Buffer.from(bobKm)).serialNumber}`);
    expect(serials).toEqual([bobSerial]);
    // Nothing else opens it: not org b's key (the hop before), not the org key of a.
    const der = new Uint8Array(Buffer.from(parseMessage(delivered).root.bodyBytes().toString('latin1'), 'base64'));
    const orgB = await Org.open(orgDir('b'), { passphraseFile: pass });
    try {
      const cfg = orgB.config;
      const orgBKey = await orgB.keys.decryptor(cfg.keys.encryption[cfg.keys.encryption.length - 1] ?? '', orgEncB);
      await expect(decryptContent(der, orgBKey)).rejects.toThrow();
    } finally {
      await orgB.close();
    }

    // Bob's card decrypts; the real CLI verifies the chain to the SSMAX root.
    const card = await startVirtualCard(pcscd, { stateFile: cards[BOB] ?? '' });
    let out;
    try {
      out = await ssmax(['verify', file, '--card', '--trust', join(work, 'root.pem'), '--own-domain', 'b.example', '--recipient', BOB], { ...pcscd.env, SSMAX_CARD_PIN: DEFAULT_PIN });
    } finally {
      await card.stop();
    }
    console.log(out.stdout);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(out.stdout.split('\n')[0]).toBe('state: verified');
    expect(out.stdout.split('\n').filter((l) => /^[①②③] /.test(l)).map((l) => l.split(/\s+/).slice(1, 3).join(' '))).toEqual(['sender valid', 'sending-org valid', 'receiving-org valid']);
    expect(out.stdout).toContain(ALICE);
    expect(out.stdout).toMatch(/inspection Safe \(ClamAV/);

    // OpenSSL (a standard client holding Bob's key) still verifies Alice's own signature (①) under the countersignatures.
    const inner = await withCardOf(BOB, async (watcher) => {
      const d = await openCardDecryptor({ watcher, pinCache: new PinCache(), pinPrompt: async () => DEFAULT_PIN });
      return decryptContent(der, d);
    });
    writeFileSync(join(work, 'inner.eml'), inner.content);
    const ok = await openssl(['cms', '-verify', '-in', join(work, 'inner.eml'), '-inform', 'SMIME', '-CAfile', join(work, 'root.pem'), '-purpose', 'smimesign', '-out', join(work, 'inner-content.eml')]);
    expect(ok.stderr).toContain('Verification successful');
    expect(readFileSync(join(work, 'inner-content.eml'), 'utf8')).toContain('Signed on my staff card.');
    const signer = await openssl(['cms', '-verify', '-in', join(work, 'inner.eml'), '-inform', 'SMIME', '-CAfile', join(work, 'root.pem'), '-purpose', 'smimesign', '-signer', join(work, 'signer.pem'), '-out', '/dev/null']);
    expect(signer.code).toBe(0);
    expect(readFileSync(join(work, 'signer.pem'), 'utf8')).toContain('BEGIN CERTIFICATE');
    const subject = await openssl(['x509', '-in', join(work, 'signer.pem'), '-noout', '-ext', 'subjectAltName']);
    expect(subject.stdout.toString()).toContain(`email:${ALICE}`);
    // Tampered content fails: the check above can fail.
    writeFileSync(join(work, 'tampered.eml'), readFileSync(join(work, 'inner.eml'), 'latin1').replace('Signed on my staff card.', 'Signed on my staff card!'), 'latin1');
    const bad = await openssl(['cms', '-verify', '-in', join(work, 'tampered.eml'), '-inform', 'SMIME', '-CAfile', join(work, 'root.pem'), '-purpose', 'smimesign', '-out', '/dev/null']);
    expect(bad.code).not.toBe(0);
  });

  it('internal alice@a (card) → carol@a: one hop, a single-org link, verified', async () => {
    const messageId = `<card-int-${Date.now()}@a.example>`;
    const raw = await composeOnCard(CAROL, messageId, 'Internal, one hop.\n');
    expect(await submit(raw, CAROL)).toMatch(/^250/);
    const delivered = await until('delivery to carol', () => mailbox(dovecotA, CAROL).find((m) => m.includes(messageId)));
    expect(nodes[1]?.out()).not.toContain(messageId); // node b never saw it
    const v = await verifyMessage(delivered, { trustAnchors: [rootPem], decryptors: [softwareDecryptor(carolKm.pkcs8, carolKm.cert)], at: new Date(), ownOrgDomains: ['a.example'], recipient: CAROL });
    expect(v.reasons).toEqual([]);
    expect(v.state).toBe('verified');
    expect(v.links.map((l) => l.role)).toEqual(['sender', 'single-org']);
    expect(v.links[0]?.email).toBe(ALICE);
  });
});

