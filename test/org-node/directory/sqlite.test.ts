import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { EnrollmentCodeError} from '../../../org-node/directory/directory';
import { MemberExistsError, MemberNotFoundError, MemberStatusError } from '../../../org-node/directory/directory';
import { SqliteMemberDirectory } from '../../../org-node/directory/sqlite';

let dir: string;
let clock: Date;
let directory: SqliteMemberDirectory;
const actor = 'cli:test';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ssmax-directory-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  clock = new Date('2026-11-23T09:00:00Z');
  directory = SqliteMemberDirectory.open(':memory:', { now: () => clock });
  await directory.addMember({ address: 'Hanako@Example.JP', name: 'Hanako Yamada', staffId: 'S-0042' }, actor);
});

const cert = (serial: string, slot: '9C' | '9D') => ({
  serial,
  address: 'hanako@example.jp',
  slot,
  der: new Uint8Array([0x30, 0x00]),
  notBefore: new Date('2026-11-23T00:00:00Z'),
  notAfter: new Date('2027-11-23T00:00:00Z'),
});

describe('SqliteMemberDirectory: members', () => {
  it('adds, normalises the domain, lists and refuses duplicates of address or staff ID', async () => {
    const m = await directory.getMember('hanako@example.jp');
    expect(m).toMatchObject({ address: 'hanako@example.jp', name: 'Hanako Yamada', staffId: 'S-0042', status: 'active' });
    await expect(directory.addMember({ address: 'hanako@example.jp', name: 'X', staffId: 'S-9' }, actor)).rejects.toBeInstanceOf(MemberExistsError);
    await expect(directory.addMember({ address: 'taro@example.jp', name: 'Taro', staffId: 'S-0042' }, actor)).rejects.toThrow(/already belongs to hanako@example.jp/);
    await directory.addMember({ address: 'taro@example.jp', name: 'Taro Suzuki', staffId: 'S-0043' }, actor);
    expect((await directory.listMembers()).map((x) => x.address)).toEqual(['hanako@example.jp', 'taro@example.jp']);
    await expect(directory.addMember({ address: 'not an address', name: 'X', staffId: 'S-1' }, actor)).rejects.toThrow(/not a mail address/);
  });

  it('keeps the certificate history and revokes every live certificate on suspension', async () => {
    await directory.recordCertificate(cert('00A1', '9C'), actor);
    await directory.recordCertificate(cert('a2', '9D'), actor);
    expect((await directory.findCertificate('a1'))?.slot).toBe('9C');
    const revoked = await directory.setStatus('hanako@example.jp', 'suspended', actor);
    expect(revoked.map((c) => c.serial).sort()).toEqual(['a1', 'a2']);
    expect(revoked.every((c) => c.revocationReason === 'certificateHold')).toBe(true);
    expect((await directory.revokedCertificates()).map((r) => r.serial).sort()).toEqual(['a1', 'a2']);
    await expect(directory.recordCertificate(cert('a3', '9C'), actor)).rejects.toBeInstanceOf(MemberStatusError);

    // Back from suspension with a new card: old certificates stay revoked, the history keeps all.
    await directory.reactivate('hanako@example.jp', actor);
    clock = new Date('2026-11-24T09:00:00Z');
    await directory.recordCertificate(cert('a3', '9C'), actor);
    const history = await directory.certificates('hanako@example.jp');
    expect(history.map((c) => [c.serial, c.revokedAt === undefined])).toEqual([
      ['a3', true],
      ['a2', false],
      ['a1', false],
    ]);
    await directory.setStatus('hanako@example.jp', 'revoked', actor, 'keyCompromise');
    await expect(directory.reactivate('hanako@example.jp', actor)).rejects.toThrow(/is revoked, not suspended/);
    await expect(directory.setStatus('hanako@example.jp', 'suspended', actor)).rejects.toThrow(/already revoked/);
    expect((await directory.findCertificate('a3'))?.revocationReason).toBe('keyCompromise');
  });

  it('revokes a single certificate (lost card) once', async () => {
    await directory.recordCertificate(cert('b1', '9C'), actor);
    expect(await directory.revokeCertificate('b1', 'keyCompromise', actor)).toBe(true);
    expect(await directory.revokeCertificate('b1', 'keyCompromise', actor)).toBe(false);
    await expect(directory.setStatus('nobody@example.jp', 'suspended', actor)).rejects.toBeInstanceOf(MemberNotFoundError);
  });

  it('counts CRL numbers monotonically across reopening', async () => {
    const path = join(dir, 'crl.sqlite');
    const a = SqliteMemberDirectory.open(path);
    expect([await a.nextCrlNumber(), await a.nextCrlNumber()]).toEqual([1, 2]);
    await a.close();
    const b = SqliteMemberDirectory.open(path);
    expect(await b.nextCrlNumber()).toBe(3);
    await b.close();
  });
});

describe('SqliteMemberDirectory: enrollment codes', () => {
  const fail = async (p: Promise<unknown>) => ((await p.catch((e: unknown) => e)) as EnrollmentCodeError).reason;

  it('works once, for its own address only, and stores only a hash', async () => {
    const { code } = await directory.createEnrollmentCode('hanako@example.jp', 3_600_000, actor);
    expect(code).toMatch(/^[0-9A-Z]{4}(-[0-9A-Z]{4}){4}$/);
    await directory.addMember({ address: 'taro@example.jp', name: 'Taro Suzuki', staffId: 'S-0043' }, actor);
    expect(await fail(directory.redeemEnrollmentCode('taro@example.jp', code, 'api'))).toBe('unknown');
    // Typed by IT in lower case without dashes: still the same code.
    const member = await directory.redeemEnrollmentCode('hanako@example.jp', code.toLowerCase().replace(/-/g, ''), 'api');
    expect(member.address).toBe('hanako@example.jp');
    expect(await fail(directory.redeemEnrollmentCode('hanako@example.jp', code, 'api'))).toBe('used');
    const log = await directory.auditLog({ subject: 'hanako@example.jp' });
    expect(log.map((e) => e.action)).toEqual(['member.add', 'enrollment-code.create', 'enrollment-code.redeem', 'enrollment-code.refuse']);
    expect(JSON.stringify(log)).not.toContain(code);
  });

  it('expires, and is replaced by a newer code', async () => {
    const first = await directory.createEnrollmentCode('hanako@example.jp', 60_000, actor);
    const second = await directory.createEnrollmentCode('hanako@example.jp', 60_000, actor);
    expect(await fail(directory.redeemEnrollmentCode('hanako@example.jp', first.code, 'api'))).toBe('unknown');
    clock = new Date(clock.getTime() + 60_000);
    expect(await fail(directory.redeemEnrollmentCode('hanako@example.jp', second.code, 'api'))).toBe('expired');
  });

  it('is cancelled by suspension', async () => {
    const { code } = await directory.createEnrollmentCode('hanako@example.jp', 60_000, actor);
    await directory.setStatus('hanako@example.jp', 'suspended', actor);
    expect(await fail(directory.redeemEnrollmentCode('hanako@example.jp', code, 'api'))).toBe('unknown');
    await expect(directory.createEnrollmentCode('hanako@example.jp', 60_000, actor)).rejects.toThrow(/is suspended/);
  });
});
