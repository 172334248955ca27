import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, connectBridge, type MessageRef, type PinRequest, type SsmaxClient } from '../../../api';
import { startBridge, type Bridge } from '../../../client/bridge/server';
import { MemoryMessageSource } from '../../../client/open/service';
import { ServiceHost } from '../../../client/service-host';
import type { AttachmentVerdict } from '../../../smime/cms';
import type { ContentInput } from '../../../smime/mime';
import { startPcscd, type PcscdHandle } from '../../harness/pcsc';
import { disposeWorkDir, makeWorkDir } from '../../harness/process';
import { startVirtualCard, type VirtualCardHandle } from '../../harness/virtual-card';
import { buildWorld, T, type World } from '../../smime/chain/world';
import { enrollVirtualCard, type EnrolledCard } from '../../support/virtual-card-enroll';
import { wsSocketFactory } from '../../support/ws-socket';
import { buildChainMail } from './support';

/**
 * Open a message end to end: real pcscd + the virtual card (keys enrolled under B Corp from a
 * generated SSMAX world), the card service as a child process, the service host, and the bridge.
 * Mail from hanako@a.example to the card holder, countersigned by A (②) and B (③), encrypted to
 * the card's 9D certificate.
 */
const HOLDER = 'kaori@b.example';
const PIN = '123456';
const EXE = Buffer.from('MZ\x90\x00 not really a program, but the org said Danger');
const PDF = Buffer.from('%PDF-1.7 quote');
const HTML =
  '<p>Quote attached. <img src="https://tracker.example/pixel.gif" alt=""></p><script>alert("x")</script>';

const sha = (b: Buffer): Buffer => createHash('sha256').update(b).digest();

describe('messages.open through the card', () => {
  let world: World;
  let pcscd: PcscdHandle;
  let card: VirtualCardHandle | undefined;
  let enrolled: EnrolledCard;
  let workDir: string;
  let dataDir: string;
  let host: ServiceHost;
  const source = new MemoryMessageSource();
  const prompts: PinRequest[] = [];
  const closed: string[] = [];
  let next = 1;

  /** Builds a chain mail (① a.example → ② A → ③ B), encrypted to the card's 9D unless `clear`. */
  async function mail(opts: {
    from?: string;
    content: ContentInput;
    verdicts?: AttachmentVerdict[];
    clear?: boolean;
  }): Promise<MessageRef> {
    const raw = await buildChainMail(world, {
      to: HOLDER,
      messageId: `<open-${next}@a.example>`,
      content: opts.content,
      ...(opts.from ? { from: opts.from } : {}),
      ...(opts.verdicts ? { verdicts: opts.verdicts } : {}),
      ...(opts.clear ? {} : { encryptTo: enrolled.keyManagementCert }),
    });
    const ref: MessageRef = { accountId: 'acct-1', path: 'INBOX', uid: next++ };
    source.put(ref, raw);
    return ref;
  }

  /** The next PIN request, answered by `respond` (which may also pull the card). */
  function onNextPin(respond: (req: PinRequest) => Promise<void>): void {
    const stop = host.events.on('pin.requested', (req) => {
      stop();
      void respond(req);
    });
  }

  /** Answers every PIN request with the right PIN while `fn` runs (the PIN may or may not be cached). */
  async function withPin<T>(fn: () => Promise<T>): Promise<T> {
    const stop = host.events.on('pin.requested', (req) => void host.pin.answer(req.requestId, PIN));
    try {
      return await fn();
    } finally {
      stop();
    }
  }

  async function failure(p: Promise<unknown>): Promise<ApiError> {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ApiError);
    return err as ApiError;
  }

  beforeAll(async () => {
    world = await buildWorld();
    pcscd = await startPcscd();
    workDir = await makeWorkDir('client-open');
    dataDir = await mkdtemp(join(tmpdir(), 'ssmax-open-'));
    enrolled = await enrollVirtualCard(join(workDir, 'card.json'), world.b.ca, {
      orgName: 'B Corp',
      name: 'Kaori Sato',
      staffId: 'B-0007',
      email: HOLDER,
    });
    host = await ServiceHost.open({
      dataDir,
      runtime: 'bridge',
      card: { env: { ...process.env, ...pcscd.env }, requestTimeoutMs: 20_000 },
      open: {
        trust: { trustAnchors: [world.rootPem], ownOrgDomains: ['b.example'] },
        source,
        now: () => T.at,
      },
    });
    host.events.on('pin.requested', (r) => prompts.push(r));
    host.events.on('pin.closed', (r) => closed.push(r.requestId));
    expect((await host.card.status()).state).toMatch(/^no-card$/);
    card = await startVirtualCard(pcscd, { stateFile: enrolled.stateFile });
  }, 120_000);

  afterAll(async () => {
    await host?.close();
    await card?.stop();
    await pcscd?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
    if (workDir) await disposeWorkDir('client-open', workDir);
  });

  it('card.status names the holder from the 9C certificate, locked with 3 PIN tries', async () => {
    let status = await host.card.status();
    // The insertion may reach the service a moment after the virtual card is up.
    while (status.state === 'no-card') {
      await new Promise<void>((resolve) => {
        const stop = host.events.on('card.changed', () => {
          stop();
          resolve();
        });
      });
      status = await host.card.status();
    }
    expect(status).toMatchObject({
      state: 'locked',
      reader: pcscd.readerName,
      holder: { name: 'Kaori Sato', email: HOLDER, staffId: 'B-0007' },
      pinTriesLeft: 3,
    });
    // First launch reads the address from the same card (its 9C certificate).
    const raw = await host.cardSession.addressSource().status();
    expect(raw.state === 'present' && Buffer.from(raw.signatureCertificate ?? []).equals(enrolled.signatureCert)).toBe(true);
  });

  it('opens a chain-verified message: one PIN request, verified with ① ② ③, sanitized HTML, attested attachments', async () => {
    const ref = await mail({
      content: { text: '見積書を添付します。\n', html: HTML, attachments: [{ filename: '見積書.pdf', content: PDF }] },
      verdicts: [{ name: '見積書.pdf', sha256: sha(PDF), verdict: 'Safe' }],
    });
    const before = prompts.length;
    onNextPin((req) => host.pin.answer(req.requestId, PIN));
    const opened = await host.messages.open(ref, { loadRemoteContent: false });
    expect(prompts.slice(before)).toHaveLength(1);
    expect(prompts[before]).toMatchObject({ purpose: 'decrypt', triesLeft: 3 });
    expect(closed).toContain(prompts[before]?.requestId);

    expect(opened.chain.state).toBe('verified');
    expect(opened.chain.reasons).toEqual([]);
    expect(opened.chain.links.map((l) => [l.role, l.status])).toEqual([
      ['sender', 'valid'],
      ['sending-org', 'valid'],
      ['receiving-org', 'valid'],
    ]);
    expect(opened.chain.links[0]).toMatchObject({ email: world.a.employee.email, orgName: 'A Corp' });
    expect(opened.chain.links[2]?.domains).toEqual(['b.example']);
    expect(opened.headers).toMatchObject({ subject: '見積書の送付について', to: [HOLDER] });
    expect(opened.headers.from).toContain(world.a.employee.email);
    expect(opened.text).toBe('見積書を添付します。\n');
    expect(opened.html?.remoteItemsBlocked).toBe(1);
    expect(opened.html?.remoteContentBlocked).toBe(true);
    expect(opened.html?.sanitized).not.toMatch(/<script|alert/);
    expect(opened.html?.sanitized).not.toMatch(/\ssrc="https:/);
    expect(opened.html?.sanitized).toContain('data-ssmax-blocked-src="https://tracker.example/pixel.gif"');
    expect(opened.attachments).toEqual([
      expect.objectContaining({
        index: 0,
        name: '見積書.pdf',
        size: PDF.length,
        sha256: sha(PDF).toString('hex'),
        savable: true,
        verdicts: [
          { by: 'sending-org', verdict: 'Safe' },
          { by: 'receiving-org', verdict: 'Safe' },
        ],
      }),
    ]);
    // The PIN is held for this action window: the card now reads "ready", and a second open does not prompt.
    expect((await host.card.status()).state).toBe('ready');
    const again = await host.messages.open(ref, { loadRemoteContent: true });
    expect(prompts.length).toBe(before + 1);
    expect(again.html?.remoteItemsBlocked).toBe(0);
    expect(again.html?.sanitized).toContain('src="https://tracker.example/pixel.gif"');
    expect(again.html?.sanitized).not.toMatch(/<script/);
  });

  it('a wrong PIN fails the open with the tries left and is not retried; the right PIN then opens it', async () => {
    const ref = await mail({ content: { text: 'wrong pin test\n' } });
    await host.cardSession.lock();
    expect((await host.card.status()).state).toBe('locked');
    const before = prompts.length;
    onNextPin((req) => host.pin.answer(req.requestId, '000000'));
    const err = await failure(host.messages.open(ref, { loadRemoteContent: false }));
    expect(err.code).toBe('WrongPin');
    expect(err.message).toBe('Wrong PIN, 2 tries left.');
    expect(prompts.length).toBe(before + 1);
    expect(await host.card.status()).toMatchObject({ state: 'locked', pinTriesLeft: 2 });

    onNextPin((req) => {
      expect(req.triesLeft).toBe(2);
      return host.pin.answer(req.requestId, PIN);
    });
    expect((await host.messages.open(ref, { loadRemoteContent: false })).chain.state).toBe('verified');
    expect(prompts.length).toBe(before + 2);
    // The right PIN resets the card's retry counter.
    expect(await host.card.status()).toMatchObject({ state: 'ready', pinTriesLeft: 3 });
  });

  it('cancelling the PIN fails with PinCancelled and loses nothing: the same message opens afterwards', async () => {
    const ref = await mail({ content: { text: 'cancel test\n' } });
    await host.cardSession.lock();
    onNextPin((req) => host.pin.cancel(req.requestId));
    const err = await failure(host.messages.open(ref, { loadRemoteContent: false }));
    expect(err.code).toBe('PinCancelled');
    expect(err.method).toBe('messages.open');
    expect(await host.card.status()).toMatchObject({ state: 'locked', pinTriesLeft: 3 });

    onNextPin((req) => host.pin.answer(req.requestId, PIN));
    const opened = await host.messages.open(ref, { loadRemoteContent: false });
    expect(opened.chain.state).toBe('verified');
    expect(opened.text).toBe('cancel test\n');
    // A request that was already answered cannot be answered again.
    const stale = prompts[prompts.length - 1]?.requestId ?? 'none';
    expect((await failure(host.pin.answer(stale, PIN))).code).toBe('NotFound');
  });

  it('refuses to save a Danger attachment (typed error, nothing written) and saves a Safe one', async () => {
    const ref = await mail({
      content: {
        text: 'two files\n',
        attachments: [
          { filename: 'invoice.exe', content: EXE, contentType: 'application/octet-stream' },
          { filename: '見積書.pdf', content: PDF },
        ],
      },
      verdicts: [
        { name: 'invoice.exe', sha256: sha(EXE), verdict: 'Danger', reason: 'Win.Trojan.Test' },
        { name: '見積書.pdf', sha256: sha(PDF), verdict: 'Safe' },
      ],
    });
    const opened = await withPin(() => host.messages.open(ref, { loadRemoteContent: false }));
    expect(opened.attachments.map((a) => [a.name, a.savable, a.verdicts.map((v) => v.verdict)])).toEqual([
      ['invoice.exe', false, ['Danger', 'Danger']],
      ['見積書.pdf', true, ['Safe', 'Safe']],
    ]);
    expect(opened.attachments[0]?.verdicts[0]?.reason).toBe('Win.Trojan.Test');

    const err = await failure(host.messages.saveAttachment({ message: ref, index: 0 }));
    expect(err.code).toBe('AttachmentRefused');
    const dir = join(dataDir, 'attachments');
    const names = await readdir(dir).catch(() => [] as string[]);
    expect(names.filter((n) => n.includes('invoice'))).toEqual([]);

    const saved = await host.messages.saveAttachment({ message: ref, index: 1 });
    expect(saved?.savedTo).toBe(join(dir, '見積書.pdf'));
    expect(await readFile(saved?.savedTo ?? '')).toEqual(PDF);
  });

  it('a spoofed From (not the signer) is failed with from-mismatch, never verified', async () => {
    const ref = await mail({ from: 'ceo@a.example', content: { text: 'pay this invoice\n' } });
    const opened = await withPin(() => host.messages.open(ref, { loadRemoteContent: false }));
    expect(opened.chain.state).toBe('failed');
    expect(opened.chain.links[0]?.status).toBe('invalid');
    expect(opened.chain.links[0]?.reasons.map((r) => r.code)).toContain('from-mismatch');
  });

  it('serves card.status, messages.open and the PIN events through the loopback bridge', async () => {
    const staticDir = await mkdtemp(join(tmpdir(), 'ssmax-open-static-'));
    await writeFile(join(staticDir, 'index.html'), '<!doctype html><title>SSMAX</title>');
    let bridge: Bridge | undefined;
    let close = (): void => undefined;
    try {
      bridge = await startBridge({ host, staticDir });
      const conn = await connectBridge(bridge.socketUrl, bridge.token, wsSocketFactory(bridge.origin));
      close = () => conn.close();
      const api: SsmaxClient = conn.client;
      await host.cardSession.lock();
      expect(await api.card.status()).toMatchObject({ state: 'locked', holder: { email: HOLDER } });
      const ref = await mail({ content: { text: 'over the bridge\n', html: HTML } });
      const seen: PinRequest[] = [];
      const stop = api.events.on('pin.requested', (req) => {
        seen.push(req);
        void api.pin.answer(req.requestId, PIN);
      });
      const opened = await api.messages.open(ref, { loadRemoteContent: false });
      stop();
      expect(seen).toHaveLength(1);
      expect(opened.chain.state).toBe('verified');
      expect(opened.html?.remoteItemsBlocked).toBe(1);
      expect(opened.html?.sanitized).not.toMatch(/<script/);
      expect(await api.card.status()).toMatchObject({ state: 'ready' });
      const err = await failure(api.pin.cancel('no-such-request'));
      expect(err.code).toBe('NotFound');
    } finally {
      close();
      await bridge?.close();
      await rm(staticDir, { recursive: true, force: true });
    }
  });

  it('pulling the card during the PIN prompt withdraws it and fails with CardUnavailable; nothing is lost', async () => {
    const ref = await mail({ content: { text: 'removal test\n' } });
    await host.cardSession.lock();
    const before = closed.length;
    onNextPin(async () => {
      await card?.yank();
      card = undefined;
    });
    const err = await failure(host.messages.open(ref, { loadRemoteContent: false }));
    expect(err.code).toBe('CardUnavailable');
    expect(err.message).toMatch(/removed/);
    expect(closed.length).toBe(before + 1);
    expect((await host.card.status()).state).toBe('no-card');
    // The message is still there; without a card it cannot be opened, with a clear error.
    const again = await failure(host.messages.open(ref, { loadRemoteContent: false }));
    expect(again.code).toBe('CardUnavailable');
  });

  it('three wrong PINs block the card: card.status says blocked, and the next open fails with PinBlocked without a prompt', async () => {
    const inserted = new Promise<void>((resolve) => {
      const stop = host.events.on('card.changed', (c) => {
        if (c.state === 'no-card') return;
        stop();
        resolve();
      });
    });
    card = await startVirtualCard(pcscd, { stateFile: enrolled.stateFile });
    await inserted;
    const ref = await mail({ content: { text: 'blocked test\n' } });
    for (const left of [2, 1, 0]) {
      onNextPin((req) => host.pin.answer(req.requestId, '000000'));
      const err = await failure(host.messages.open(ref, { loadRemoteContent: false }));
      expect([err.code, left === 0 ? 'any' : err.message]).toEqual(
        left === 0 ? [expect.stringMatching(/^(WrongPin|PinBlocked)$/), 'any'] : ['WrongPin', `Wrong PIN, ${left} ${left === 1 ? 'try' : 'tries'} left.`],
      );
    }
    expect(await host.card.status()).toMatchObject({ state: 'blocked', pinTriesLeft: 0 });
    const before = prompts.length;
    const err = await failure(host.messages.open(ref, { loadRemoteContent: false }));
    expect(err.code).toBe('PinBlocked');
    expect(err.message).toMatch(/PUK/);
    expect(prompts.length).toBe(before);
  });

  it('without a configured root it verifies with the root file first launch uses (the shipped root of the app); with none, says so', async () => {
    // The desktop app passes no roots, only the file beside the app (electron/launch.ts).
    const rootFile = join(workDir, 'ssmax-root.pem');
    await writeFile(rootFile, world.rootPem);
    const ref = await mail({ clear: true, content: { text: 'verified against the shipped root\n' } });
    const hostWith = (dir: string, trustAnchorFile: string) =>
      ServiceHost.open({
        dataDir: join(workDir, dir),
        runtime: 'bridge',
        card: { env: { ...process.env, ...pcscd.env }, requestTimeoutMs: 20_000 },
        firstLaunch: { trustAnchorFile, refreshIntervalMs: 0 },
        open: { source, now: () => T.at },
      });
    const shipped = await hostWith('shipped-root', rootFile);
    try {
      const opened = await shipped.messages.open(ref, { loadRemoteContent: false });
      expect(opened.chain.links.map((l) => [l.role, l.status])).toEqual([
        ['sender', 'valid'],
        ['sending-org', 'valid'],
        ['receiving-org', 'valid'],
      ]);
    } finally {
      await shipped.close();
    }
    const none = await hostWith('no-root', join(workDir, 'absent.pem'));
    try {
      const err = await failure(none.messages.open(ref, { loadRemoteContent: false }));
      expect(err.code).toBe('NotFound');
      expect(err.message).toContain('absent.pem');
    } finally {
      await none.close();
    }
  });
});
