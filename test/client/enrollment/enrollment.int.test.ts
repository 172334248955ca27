import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EnrollmentProgress, EnrollmentRequest } from '../../../api';
import { ServiceHost } from '../../../client/service-host';
import { startPcscd, type PcscdHandle } from '../../harness/pcsc';
import { startVirtualCard, type VirtualCardHandle } from '../../harness/virtual-card';
import { startOrgNodeWorld, type OrgNodeWorld } from '../../support/org-node-world';

/**
 * IT mode in the client: `enrollment.start` on a virtual card (fresh, then enrolled) (pcscd + vpcd) against a real
 * org node's HTTPS enrollment API, the org bundle pinned by first launch (the enrollment API is on
 * its origin). The card is reached only through the card service process. Steps come as
 * `enrollment.progress`; the new PIN is asked through `pin.requested` (purpose `enroll`). The node
 * checks the one-time code before the card is touched: an enrolled card re-enrolled with a wrong or
 * used code or a wrong address keeps its certificates and keys (yubico-piv-tool reads and tests them).
 */
const NEW_PIN = '24681357';
const NEW_PUK = '97531864';
const NEW_MGMT = '00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff';

let world: OrgNodeWorld;
let pcscd: PcscdHandle;
let card: VirtualCardHandle;
let host: ServiceHost;
let work: string;
const progress: EnrollmentProgress[] = [];
const prompts: string[] = [];
/** Runs once at the next PIN prompt, before it is answered (stages a race in the last test). */
let onPrompt: (() => Promise<void>) | undefined;
/** The code the card was enrolled with (spent by then). */
let enrolledCode = '';

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'ssmax-client-enroll-'));
  world = await startOrgNodeWorld('Card Corp', 'card.example.jp');
  await world.org.directory.addMember({ address: 'ken@card.example.jp', name: 'Ken Watanabe', staffId: 'CC-1001' }, 'test');
  pcscd = await startPcscd();
  card = await startVirtualCard(pcscd, { stateFile: join(work, 'card.json') });
  const dataDir = join(work, 'data');
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(join(dataDir, 'provisioning.json'), world.provisioning());
  host = await ServiceHost.open({ dataDir, runtime: 'bridge', card: { env: { ...process.env, ...pcscd.env }, requestTimeoutMs: 60_000, pinTtlMs: 0 } });
  await host.accounts.confirm((await host.accounts.discover(world.address)).id);
  host.events.on('enrollment.progress', (p) => progress.push(p));
  host.events.on('pin.requested', (r) => {
    prompts.push(r.purpose);
    const hook = onPrompt;
    onPrompt = undefined;
    void (hook ? hook() : Promise.resolve()).then(() => host.pin.answer(r.requestId, NEW_PIN));
  });
}, 180_000);

afterAll(async () => {
  await host?.close();
  await card?.stop();
  await pcscd?.stop();
  await world?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

const request = (extra: Partial<EnrollmentRequest> = {}): EnrollmentRequest => ({
  email: 'ken@card.example.jp',
  displayName: 'Ken Watanabe',
  staffId: 'CC-1001',
  enrollmentCode: 'AAAA-AAAA-AAAA-AAAA-AAAA',
  algorithm: 'p256',
  ...extra,
});

/** yubico-piv-tool (libykpiv, not our code) against the virtual card: exit status and all it printed. */
function pivOnce(args: string[], input: string): Promise<{ ok: boolean; out: string }> {
  return new Promise((done) => {
    const child = execFile('yubico-piv-tool', ['-r', 'Virtual PCD', ...args], { env: { ...process.env, ...pcscd.env }, timeout: 60_000, encoding: 'utf8' }, (err, stdout, stderr) =>
      done({ ok: !err, out: `${stdout}${stderr}` }),
    );
    child.stdin?.end(input);
  });
}

/** yubico-piv-tool on the card; while the client's card service still holds the card (just after a refused step), it cannot connect: wait and try again. */
async function piv(args: string[], input = ''): Promise<{ ok: boolean; out: string }> {
  for (let attempt = 1; ; attempt++) {
    const r = await pivOnce(args, input);
    if (r.ok || attempt === 10 || !/Failed to connect/.test(r.out)) return r;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** What the card holds in 9C/9D: the certificates as read back, and whether each slot's key still matches its certificate. */
async function cardState(): Promise<{ certificates: string[]; keysMatch: boolean[] }> {
  const certificates: string[] = [];
  for (const slot of ['9c', '9d']) {
    const r = await piv(['-a', 'read-certificate', '-s', slot]);
    expect(r.ok, r.out).toBe(true);
    certificates.push(r.out);
  }
  // test-signature / test-decipher: the slot's key on the card against the public key of the certificate given on stdin.
  const sig = await piv(['-a', 'verify-pin', '-P', NEW_PIN, '-a', 'test-signature', '-s', '9c'], certificates[0]);
  const dec = await piv(['-a', 'verify-pin', '-P', NEW_PIN, '-a', 'test-decipher', '-s', '9d'], certificates[1]);
  return { certificates, keysMatch: [sig.ok, dec.ok] };
}

describe('enrollment.start against the org node: the code is checked before the card is touched', () => {
  it('a refused one-time code on a fresh card → code-refused at check-code, no PIN asked, the card still factory-fresh', async () => {
    progress.length = 0;
    const err = await host.enrollment.start(request({ card: { newPuk: NEW_PUK, newManagementKey: NEW_MGMT } })).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'Refused', method: 'enrollment.start' });
    expect(progress.map((p) => p.step)).toEqual(['insert-card', 'check-code', 'check-code']);
    expect(progress.at(-1)?.error?.code).toBe('code-refused');
    expect(prompts).toEqual([]);
    expect((await world.org.directory.certificates('ken@card.example.jp')).length).toBe(0);
    const factoryPin = await piv(['-a', 'verify-pin', '-P', '123456']);
    expect(factoryPin.ok, factoryPin.out).toBe(true);
  });

  it('the factory secrets and a valid code → keys on the card, certificates issued, written, checked (sign/decrypt round trip), done', async () => {
    progress.length = 0;
    const { code } = await world.org.directory.createEnrollmentCode('ken@card.example.jp', 600_000, 'test');
    enrolledCode = code;
    const done = await host.enrollment.start(request({ enrollmentCode: code, algorithm: 'rsa2048', card: { newPuk: NEW_PUK, newManagementKey: NEW_MGMT } }));
    expect(done.step).toBe('done');
    expect(progress.map((p) => p.step)).toEqual(['insert-card', 'check-code', 'initialise', 'generate-keys', 'request-certificates', 'write-certificates', 'check', 'done']);
    expect(progress.every((p) => p.error === undefined && p.enrollmentId === done.enrollmentId)).toBe(true);
    expect(prompts).toEqual(['enroll']);
    const issued = (await world.org.directory.certificates('ken@card.example.jp')).filter((c) => !c.revokedAt);
    expect(issued.map((c) => c.slot).sort()).toEqual(['9C', '9D']);
    expect(done.certificates?.signatureSerial).toBe(issued.find((c) => c.slot === '9C')!.serial);
    // The card now presents the issued 9C certificate: the holder is Ken.
    const status = await host.card.status();
    expect(status.holder?.email).toBe('ken@card.example.jp');
  });

  it('re-enrolling the enrolled card with the used code, a wrong code or a wrong address → code-refused at check-code; its 9C/9D certificates and keys unchanged', async () => {
    const before = await cardState();
    expect(before.keysMatch).toEqual([true, true]);
    // Control: the key test does judge the key against the given certificate (9C's key is not 9D's).
    expect((await piv(['-a', 'verify-pin', '-P', NEW_PIN, '-a', 'test-signature', '-s', '9c'], before.certificates[1])).ok).toBe(false);
    const checkRefusals = async (): Promise<string[]> =>
      [...(await world.org.directory.auditLog({ subject: 'ken@card.example.jp' })), ...(await world.org.directory.auditLog({ subject: 'mai@card.example.jp' }))]
        .filter((e) => e.action === 'enrollment-code.refuse' && e.detail?.endsWith('(check)'))
        .map((e) => `${e.subject} ${e.detail}`);
    const refusedBefore = await checkRefusals();
    await world.org.directory.addMember({ address: 'mai@card.example.jp', name: 'Mai Ito', staffId: 'CC-1002' }, 'test');
    const secrets = { currentPin: NEW_PIN, currentPuk: NEW_PUK, currentManagementKey: NEW_MGMT };
    const attempts: (() => Promise<Partial<EnrollmentRequest>>)[] = [
      // The code the card was enrolled with, spent.
      async () => ({ enrollmentCode: enrolledCode }),
      async () => ({ enrollmentCode: 'ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ' }),
      // Ken's new, valid code, but IT typed Mai's address.
      async () => ({ email: 'mai@card.example.jp', displayName: 'Mai Ito', enrollmentCode: (await world.org.directory.createEnrollmentCode('ken@card.example.jp', 600_000, 'test')).code }),
    ];
    for (const attempt of attempts) {
      progress.length = 0;
      prompts.length = 0;
      await expect(host.enrollment.start(request({ algorithm: 'rsa2048', card: secrets, ...(await attempt()) }))).rejects.toMatchObject({ code: 'Refused' });
      expect(progress.map((p) => p.step)).toEqual(['insert-card', 'check-code', 'check-code']);
      expect(progress.at(-1)?.error?.code).toBe('code-refused');
      expect(prompts).toEqual([]);
    }

    const after = await cardState();
    expect(after.certificates).toEqual(before.certificates);
    expect(after.keysMatch).toEqual([true, true]);
    expect((await world.org.directory.certificates('ken@card.example.jp')).length).toBe(2);
    expect(await world.org.directory.certificates('mai@card.example.jp')).toEqual([]);
    // Each refused check is counted at the node as a refused attempt, with its reason.
    expect((await checkRefusals()).slice(refusedBefore.length)).toEqual([
      'ken@card.example.jp used (check)',
      'ken@card.example.jp unknown (check)',
      'mai@card.example.jp unknown (check)',
    ]);
  });

  it('the factory management key on the enrolled card with a valid code → the code checks, initialise refuses (wrong-card), the card unchanged', async () => {
    progress.length = 0;
    const before = await cardState();
    const { code } = await world.org.directory.createEnrollmentCode('ken@card.example.jp', 600_000, 'test');
    await expect(host.enrollment.start(request({ enrollmentCode: code }))).rejects.toMatchObject({ code: 'Refused' });
    expect(progress.map((p) => p.step)).toEqual(['insert-card', 'check-code', 'initialise', 'initialise']);
    expect(progress.at(-1)).toMatchObject({ step: 'initialise', error: { code: 'wrong-card' } });
    expect(await cardState()).toEqual(before);
  });

  it('the enrollment API unreachable → ca-unreachable (ServerUnavailable) at check-code, before the card is touched', async () => {
    progress.length = 0;
    const err = await host.enrollment
      .start(request({ nodeUrl: 'https://127.0.0.1:1', card: { currentPin: NEW_PIN, currentPuk: NEW_PUK, currentManagementKey: NEW_MGMT } }))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ServerUnavailable' });
    expect(progress.at(-1)).toMatchObject({ step: 'check-code', error: { code: 'ca-unreachable' } });
  });

  it('a code spent between the check and the request (another station) is still refused by the request: code-refused at request-certificates, nothing written or issued', async () => {
    progress.length = 0;
    const { code } = await world.org.directory.createEnrollmentCode('ken@card.example.jp', 600_000, 'test');
    // The race, staged: while the PIN prompt is open (after the check), the code is redeemed elsewhere.
    onPrompt = () => world.org.directory.redeemEnrollmentCode('ken@card.example.jp', code, 'another-station').then(() => undefined);
    const secrets = { currentPin: NEW_PIN, currentPuk: NEW_PUK, currentManagementKey: NEW_MGMT };
    await expect(host.enrollment.start(request({ enrollmentCode: code, card: secrets }))).rejects.toMatchObject({ code: 'Refused' });
    expect(progress.map((p) => p.step)).toEqual(['insert-card', 'check-code', 'initialise', 'generate-keys', 'request-certificates', 'request-certificates']);
    expect(progress.at(-1)?.error?.code).toBe('code-refused');
    expect((await world.org.directory.certificates('ken@card.example.jp')).length).toBe(2);
  });
});
