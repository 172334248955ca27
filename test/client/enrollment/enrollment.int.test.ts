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
 * IT mode in the client: `enrollment.start` on a fresh virtual card (pcscd + vpcd) against a real
 * org node's HTTPS enrollment API, the org bundle pinned by first launch (the enrollment API is on
 * its origin). The card is reached only through the card service process. Steps come as
 * `enrollment.progress`; the new PIN is asked through `pin.requested` (purpose `enroll`).
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
    void host.pin.answer(r.requestId, NEW_PIN);
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

describe('enrollment.start on a fresh card against the org node', () => {
  it('a refused one-time code: the card is initialised and has keys, the node says no → code-refused, nothing written', async () => {
    progress.length = 0;
    const err = await host.enrollment.start(request({ card: { newPuk: NEW_PUK, newManagementKey: NEW_MGMT } })).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'Refused', method: 'enrollment.start' });
    expect(progress.map((p) => p.step)).toEqual(['insert-card', 'initialise', 'generate-keys', 'request-certificates', 'request-certificates']);
    expect(progress.at(-1)?.error?.code).toBe('code-refused');
    expect(prompts).toEqual(['enroll']);
    expect((await world.org.directory.certificates('ken@card.example.jp')).length).toBe(0);
  });

  it('the factory management key on the now initialised card → wrong-card, the card unchanged', async () => {
    progress.length = 0;
    await expect(host.enrollment.start(request())).rejects.toMatchObject({ code: 'Refused' });
    expect(progress.at(-1)).toMatchObject({ step: 'initialise', error: { code: 'wrong-card' } });
  });

  it('the right secrets and a valid code → keys on the card, certificates issued, written, checked (sign/decrypt round trip), done', async () => {
    progress.length = 0;
    const { code } = await world.org.directory.createEnrollmentCode('ken@card.example.jp', 600_000, 'test');
    const done = await host.enrollment.start(
      request({ enrollmentCode: code, algorithm: 'rsa2048', card: { currentPin: NEW_PIN, currentPuk: NEW_PUK, currentManagementKey: NEW_MGMT } }),
    );
    expect(done.step).toBe('done');
    expect(progress.map((p) => p.step)).toEqual(['insert-card', 'initialise', 'generate-keys', 'request-certificates', 'write-certificates', 'check', 'done']);
    expect(progress.every((p) => p.error === undefined && p.enrollmentId === done.enrollmentId)).toBe(true);
    const issued = (await world.org.directory.certificates('ken@card.example.jp')).filter((c) => !c.revokedAt);
    expect(issued.map((c) => c.slot).sort()).toEqual(['9C', '9D']);
    expect(done.certificates?.signatureSerial).toBe(issued.find((c) => c.slot === '9C')!.serial);
    // The card now presents the issued 9C certificate: the holder is Ken.
    const status = await host.card.status();
    expect(status.holder?.email).toBe('ken@card.example.jp');
  });

  it('the enrollment API unreachable → ca-unreachable (ServerUnavailable)', async () => {
    progress.length = 0;
    const err = await host.enrollment
      .start(request({ nodeUrl: 'https://127.0.0.1:1', card: { currentPin: NEW_PIN, currentPuk: NEW_PUK, currentManagementKey: NEW_MGMT } }))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ServerUnavailable' });
    expect(progress.at(-1)).toMatchObject({ step: 'request-certificates', error: { code: 'ca-unreachable' } });
  });
});
