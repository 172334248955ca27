import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ACCOUNTS_FILE } from '../../../client/mail/accounts';
import { MAIL_CACHE_FILE } from '../../../client/mail/service';
import { ServiceHost } from '../../../client/service-host';

/** Start-up with damaged mail files: the client starts, keeps the originals, and says so. */
describe('mail service start-up', () => {
  let dataDir: string;
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'ssmax-mail-start-'));
  });
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('keeps an unreadable accounts file aside, starts without accounts and reports it', async () => {
    await writeFile(join(dataDir, ACCOUNTS_FILE), '{"version":1,"accounts":[{"id":');
    const host = await ServiceHost.open({ dataDir, runtime: 'bridge' });
    try {
      expect(await host.accounts.list()).toEqual([]);
      const notices = (await host.app.info()).notices;
      expect(notices).toEqual([
        expect.objectContaining({
          code: 'AccountsFileCorrupt',
          keptAs: join(dataDir, `${ACCOUNTS_FILE}.corrupt`),
        }),
      ]);
      expect(await readFile(join(dataDir, `${ACCOUNTS_FILE}.corrupt`), 'utf8')).toBe(
        '{"version":1,"accounts":[{"id":',
      );
    } finally {
      await host.close();
    }
  });

  it('rebuilds a cache file that is not a database, keeping the original', async () => {
    await writeFile(join(dataDir, MAIL_CACHE_FILE), 'this is not sqlite'.repeat(100));
    const host = await ServiceHost.open({ dataDir, runtime: 'bridge' });
    try {
      expect((await host.app.info()).notices).toEqual([
        expect.objectContaining({
          code: 'MailCacheRebuilt',
          keptAs: join(dataDir, `${MAIL_CACHE_FILE}.corrupt`),
        }),
      ]);
      expect(host.mail.cache.folders('any')).toEqual([]);
    } finally {
      await host.close();
    }
    // The next start finds a good cache and says nothing.
    const again = await ServiceHost.open({ dataDir, runtime: 'bridge' });
    expect((await again.app.info()).notices).toEqual([]);
    await again.close();
  });
});
