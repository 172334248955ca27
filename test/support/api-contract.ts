import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ApiError, type OrgRefreshFailure, type OrgStatus, type RuntimeKind, type Settings, type SsmaxClient } from '../../api';
import { fingerprint } from '../../client/first-launch/service';
import { startOrgNodeWorld, type OrgNodeWorld } from './org-node-world';

/**
 * The API contract: the same behaviour through every transport (issue 7: "the preload and the
 * bridge pass the same API contract test suite"). A transport's test calls `apiContract` with a
 * factory that starts a real service host in `dataDir` and hands back a client that reaches it
 * through that transport.
 */
export interface ContractTransport {
  client: SsmaxClient;
  close(): Promise<void>;
}

export interface ContractSetup {
  runtime: RuntimeKind;
  /** Starts a fresh service host on `dataDir` (a restart when called again) and connects to it. */
  connect(dataDir: string): Promise<ContractTransport>;
  makeDataDir(): Promise<string>;
  removeDataDir(dir: string): Promise<void>;
}

async function rejection(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    return err as ApiError;
  }
  throw new Error('expected the call to fail');
}

export function apiContract(transportName: string, setup: ContractSetup): void {
  describe(`SsmaxApi contract through ${transportName}`, () => {
    let dataDir: string;
    let open: ContractTransport[] = [];
    const connect = async (): Promise<SsmaxClient> => {
      const t = await setup.connect(dataDir);
      open.push(t);
      return t.client;
    };

    beforeEach(async () => {
      dataDir = await setup.makeDataDir();
    });
    afterEach(async () => {
      for (const t of open) await t.close();
      open = [];
      await setup.removeDataDir(dataDir);
    });

    it('app.info names the product, the package version and the runtime serving the API', async () => {
      const api = await connect();
      const pkg = JSON.parse(await readFile(join(process.cwd(), 'package.json'), 'utf8')) as {
        version: string;
      };
      const info = await api.app.info();
      expect(info).toMatchObject({
        name: 'SSMAX',
        version: pkg.version,
        runtime: setup.runtime,
        notices: [],
      });
      expect(info.versions.node).toBe(process.versions.node);
    });

    it('settings default to English, and a language change is answered, announced, persisted and survives a restart', async () => {
      const api = await connect();
      expect(await api.settings.get()).toEqual({ language: 'en' });

      // Awaited, not assumed ordered: Electron does not order webContents.send against invoke replies.
      let stop = (): void => undefined;
      const announced = new Promise<Settings>(
        (resolve) => (stop = api.events.on('settings.changed', resolve)),
      );
      expect(await api.settings.update({ language: 'ja' })).toEqual({ language: 'ja' });
      expect(await announced).toEqual({ language: 'ja' });
      stop();

      const onDisk = JSON.parse(await readFile(join(dataDir, 'settings.json'), 'utf8')) as {
        settings: Settings;
      };
      expect(onDisk.settings.language).toBe('ja');

      const restarted = await connect();
      expect(await restarted.settings.get()).toEqual({ language: 'ja' });
    });

    it('refuses a language outside ja/en with InvalidArguments naming the field, and changes nothing', async () => {
      const api = await connect();
      const err = await rejection(api.settings.update({ language: 'fr' } as never));
      expect(err.code).toBe('InvalidArguments');
      expect(err.method).toBe('settings.update');
      expect(err.issues.map((i) => i.path)).toEqual(['0.language']);
      expect(await api.settings.get()).toEqual({ language: 'en' });
    });

    it('refuses unknown settings keys and extra arguments', async () => {
      const api = await connect();
      expect((await rejection(api.settings.update({ language: 'ja', colour: 'red' } as never))).code).toBe(
        'InvalidArguments',
      );
      const get = api.settings.get as unknown as (extra: string) => Promise<Settings>;
      expect((await rejection(get('extra'))).code).toBe('InvalidArguments');
    });

    it('accounts.remove: an unknown account is NotFound; a bad id is InvalidArguments', async () => {
      const api = await connect();
      const unknown = await rejection(api.accounts.remove('acct-none'));
      expect(unknown.code).toBe('NotFound');
      expect(unknown.method).toBe('accounts.remove');
      expect((await rejection(api.accounts.remove(''))).code).toBe('InvalidArguments');
    });

    it('contacts.suggest: no cached mail → no suggestions; a non-string prefix is InvalidArguments', async () => {
      const api = await connect();
      expect(await api.contacts.suggest('ta')).toEqual([]);
      expect((await rejection((api.contacts.suggest as unknown as (p: unknown) => Promise<unknown>)(42))).code).toBe('InvalidArguments');
    });

    it('enrollment: validated; cancel of an unknown id is NotFound; start without a pinned org or node URL is Refused (card untouched) with a progress event', async () => {
      const api = await connect();
      expect((await rejection(api.enrollment.cancel('enrollment-1'))).code).toBe('NotFound');
      const request = { email: 'ken@card.example.jp', displayName: 'Ken', staffId: 'CC-1', enrollmentCode: 'ABCD-EFGH', algorithm: 'p256' as const };
      const plainHttp = await rejection(api.enrollment.start({ ...request, nodeUrl: 'http://node.example' }));
      expect(plainHttp.code).toBe('InvalidArguments');
      const badKey = await rejection(api.enrollment.start({ ...request, card: { newManagementKey: 'zz' } }));
      expect(badKey.code).toBe('InvalidArguments');
      const progress: { step: string; error?: { code: string } }[] = [];
      const stop = api.events.on('enrollment.progress', (p) => progress.push(p));
      const noOrg = await rejection(api.enrollment.start(request));
      await expect.poll(() => progress.length).toBe(1);
      stop();
      expect(noOrg.code).toBe('Refused');
      expect(noOrg.method).toBe('enrollment.start');
      expect(progress).toEqual([expect.objectContaining({ step: 'insert-card', error: expect.objectContaining({ code: 'no-org' }) })]);
    });

    it('report.malicious: validates its arguments, and is Refused while no org bundle is pinned', async () => {
      const api = await connect();
      const ref = { accountId: 'acct-none', path: 'INBOX', uid: 1 };
      const noReason = await rejection(api.report.malicious(ref, '   '));
      expect(noReason.code).toBe('InvalidArguments');
      expect(noReason.issues.map((i) => i.path)).toEqual(['1']);
      const noRef = await rejection((api.report.malicious as unknown as (r: unknown) => Promise<unknown>)(ref));
      expect(noRef.code).toBe('InvalidArguments');
      const unpinned = await rejection(api.report.malicious(ref, 'Phishing'));
      expect(unpinned.code).toBe('Refused');
      expect(unpinned.method).toBe('report.malicious');
    });

    it('mail: no accounts at first; unknown accounts are NotFound; bad IMAP settings are refused and nothing is stored', async () => {
      const api = await connect();
      expect(await api.accounts.list()).toEqual([]);
      expect((await rejection(api.folders.list('acct-none'))).code).toBe('NotFound');
      const page = api.messages.page({
        folder: { accountId: 'acct-none', path: 'INBOX' },
        offset: 0,
        limit: 50,
      });
      expect((await rejection(page)).code).toBe('NotFound');
      const flags = api.messages.setFlags({ accountId: 'acct-none', path: 'INBOX', uid: 1 }, { seen: true });
      expect((await rejection(flags)).code).toBe('NotFound');

      const imap = {
        host: '127.0.0.1',
        port: 1,
        security: 'none' as const,
        username: 'alice',
        password: 'not-logged-1x',
      };
      // A port of 0 or a limit of 0 fails the schema.
      const badPort = await rejection(
        api.accounts.add({ email: 'alice@org-a.test', imap: { ...imap, port: 0 } }),
      );
      expect(badPort.code).toBe('InvalidArguments');
      expect(badPort.issues.map((i) => i.path)).toEqual(['0.imap.port']);
      // Unencrypted IMAP to another machine would send the password in clear.
      const plainRemote = await rejection(
        api.accounts.add({
          email: 'alice@org-a.test',
          imap: { ...imap, host: 'imap.org-a.test', port: 143 },
        }),
      );
      expect(plainRemote.code).toBe('Refused');
      // Nothing listens on port 1: the login check fails and the account is not saved.
      const unreachable = await rejection(api.accounts.add({ email: 'alice@org-a.test', imap }));
      expect(unreachable.code).toBe('ServerUnavailable');
      expect(unreachable.message).not.toContain(imap.password);
      expect(await api.accounts.list()).toEqual([]);
    });

    describe('first launch (org bundle from a real org node over HTTPS)', () => {
      let world: OrgNodeWorld;
      beforeAll(async () => {
        world = await startOrgNodeWorld();
      });
      afterAll(async () => {
        await world?.close();
      });

      it('provisioning file → suggested address → discover shows org and key fingerprint → confirm pins, announces, survives a restart; refresh follows a rollover', async () => {
        await writeFile(join(dataDir, 'provisioning.json'), world.provisioning());
        const api = await connect();
        expect(await api.org.status()).toEqual({ state: 'none', suggestedAddress: world.address });
        const enc = (await world.org.encryptionCertificates())[0]!;
        const found = await api.accounts.discover(world.address);
        expect(found).toMatchObject({ email: world.address, org: { name: 'Launch Corp', domains: [world.domain], encryptionKeyFingerprint: fingerprint(enc) } });
        expect((await api.org.status()).state).toBe('none'); // not pinned before the user confirms

        let stop = (): void => undefined;
        const announced = new Promise<OrgStatus>((resolve) => (stop = api.events.on('org.changed', resolve)));
        const account = await api.accounts.confirm(found.id);
        expect(account.org).toEqual(found.org);
        expect(await announced).toMatchObject({ state: 'pinned', org: { name: 'Launch Corp' } });
        stop();
        const status = await api.org.status();
        expect(status).toMatchObject({ state: 'pinned', address: world.address, org: { name: 'Launch Corp', encryptionKeyFingerprint: fingerprint(enc), orgCaFingerprint: fingerprint(await world.org.orgCaCertificate()) }, mail: { imap: { host: `imap.${world.domain}`, port: 993 } } });

        const again = await connect();
        expect((await again.org.status()).org?.version).toBe(status.org?.version);
        await world.org.rolloverEncryptionKey();
        const rolled = await again.org.refresh();
        expect(rolled).toMatchObject({ state: 'pinned', org: { version: status.org!.version + 1, encryptionKeyFingerprint: fingerprint((await world.org.encryptionCertificates())[0]!) } });
      });

      it('a bundle that does not verify is Refused with the reason and nothing is pinned; a rollback on refresh is announced and the pin kept', async () => {
        await writeFile(join(dataDir, 'provisioning.json'), world.provisioning({}, world.otherRoot));
        const api = await connect();
        const refused = await rejection(api.accounts.discover(world.address));
        expect(refused.code).toBe('Refused');
        expect(refused.message).toMatch(/not issued by the SSMAX root/);
        expect((await api.org.status()).state).toBe('none');
        expect((await rejection(api.accounts.confirm('org-unknown'))).code).toBe('Refused');

        await writeFile(join(dataDir, 'provisioning.json'), world.provisioning());
        const old = await world.org.currentBundle();
        await world.org.publishBundle();
        const pinned = await api.accounts.confirm((await api.accounts.discover(world.address)).id);
        const version = (await api.org.status()).org!.version;
        let stop = (): void => undefined;
        const failed = new Promise<OrgRefreshFailure>((resolve) => (stop = api.events.on('org.refreshFailed', resolve)));
        const restore = await world.serveBundle(old);
        try {
          expect(await api.org.refresh()).toMatchObject({ state: 'refresh-refused', org: { version, encryptionKeyFingerprint: pinned.org!.encryptionKeyFingerprint }, problem: { code: 'rejected', reason: 'rolled-back' } });
        } finally {
          await restore();
        }
        expect(await failed).toMatchObject({ code: 'rejected', reason: 'rolled-back', keptVersion: version });
        stop();
      });
    });

    it('compose and outbox: empty outbox; unknown entries, accounts and attachments are NotFound and nothing is queued; PPAP is found', async () => {
      const api = await connect();
      expect(await api.outbox.list()).toEqual([]);
      expect((await rejection(api.outbox.retry('6f1c2a3e-1111-4222-8333-944455556666'))).code).toBe('NotFound');
      expect((await rejection(api.outbox.retry('not-a-uuid'))).code).toBe('InvalidArguments');
      const draft = { accountId: 'acct-none', to: ['x@example.jp'], cc: [], subject: 's', text: 't', attachments: [] };
      expect((await rejection(api.compose.send(draft))).code).toBe('NotFound');
      expect((await rejection(api.compose.send({ ...draft, to: [] }))).code).toBe('InvalidArguments');
      // Rich text rides along as `html` (a string); anything else is refused at the schema.
      expect((await rejection(api.compose.send({ ...draft, html: '<p><strong>t</strong></p>' }))).code).toBe('NotFound');
      expect((await rejection(api.compose.send({ ...draft, html: 5 as unknown as string }))).code).toBe('InvalidArguments');
      const missing = join(dataDir, 'no-such-file.zip');
      expect((await rejection(api.compose.checkPpap({ ...draft, attachments: [{ path: missing }] }))).code).toBe('NotFound');
      // A password-protected ZIP (ZipCrypto: general-purpose flag bit 0), found by content.
      const zip = join(dataDir, 'secret.dat');
      await writeFile(zip, encryptedZip());
      expect(await api.compose.checkPpap({ ...draft, attachments: [{ path: zip }] })).toEqual({
        suspicious: [{ path: zip, reason: expect.stringMatching(/password-protected ZIP/) }],
      });
      // The same bytes given inline (a browser's file input has no path): found by content too.
      const inline = { name: 'secret.zip', contentBase64: encryptedZip().toString('base64') };
      expect(await api.compose.checkPpap({ ...draft, attachments: [inline] })).toEqual({
        suspicious: [{ path: 'secret.zip', reason: expect.stringMatching(/password-protected ZIP/) }],
      });
      expect((await rejection(api.compose.checkPpap({ ...draft, attachments: [{ name: 'x', contentBase64: '!!' }] }))).code).toBe('InvalidArguments');
      expect(await api.outbox.list()).toEqual([]);
    });

    it('validates arguments before anything runs; PIN answers without an open request are NotFound', async () => {
      const api = await connect();
      expect((await rejection(api.pin.answer('request-1', '12'))).code).toBe('InvalidArguments');
      // No PIN request is open: answering or cancelling one is NotFound (never a PIN sent to a card).
      expect((await rejection(api.pin.answer('request-1', '123456'))).code).toBe('NotFound');
      expect((await rejection(api.pin.cancel('request-1'))).code).toBe('NotFound');
    });
  });
}

/** A one-entry ZIP whose entry is marked encrypted (ZipCrypto), enough for the PPAP check's listing. */
function encryptedZip(): Buffer {
  const name = Buffer.from('a.txt');
  const data = Buffer.alloc(12 + 4, 7); // 12-byte encryption header + data (opaque)
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt16LE(1, 6); // encrypted
  local.writeUInt16LE(0, 8); // stored
  local.writeUInt32LE(data.length, 18);
  local.writeUInt32LE(4, 22);
  local.writeUInt16LE(name.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt16LE(1, 8);
  central.writeUInt32LE(data.length, 20);
  central.writeUInt32LE(4, 24);
  central.writeUInt16LE(name.length, 28);
  const cdOffset = local.length + name.length + data.length;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(central.length + name.length, 12);
  end.writeUInt32LE(cdOffset, 16);
  return Buffer.concat([local, name, data, central, name, end]);
}
