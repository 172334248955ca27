import { join } from 'node:path';
import { ApiError, type Account, type OrgStatus, type SsmaxApi, type SsmaxEvents } from '../../api';
import { FirstLaunchError } from './errors';
import { FirstLaunchService, type Discovery, type FirstLaunchOptions } from './service';

/**
 * The first-launch part of the service host: opens the service on the data dir (IT's provisioning
 * file defaults to `<dataDir>/provisioning.json`), forwards its events, and implements
 * `accounts.discover`/`accounts.confirm` and `org.status`/`org.refresh` with typed API errors.
 */
export type FirstLaunchHostOptions = Omit<FirstLaunchOptions, 'dataDir' | 'onChanged' | 'onRefreshFailed'>;

export function openFirstLaunch(
  dataDir: string,
  options: FirstLaunchHostOptions | undefined,
  emit: <E extends 'org.changed' | 'org.refreshFailed'>(event: E, payload: SsmaxEvents[E]) => void,
): Promise<FirstLaunchService> {
  return FirstLaunchService.open({
    dataDir,
    provisioningFile: join(dataDir, 'provisioning.json'),
    ...options,
    onChanged: (s) => emit('org.changed', s),
    onRefreshFailed: (p) => {
      console.error(`ssmax: org bundle refresh: ${p.message}`);
      emit('org.refreshFailed', p);
    },
  });
}

/** A first-launch failure as the API error the UI translates; the message keeps the reason. */
export function toApiError(err: unknown, method: string): unknown {
  if (err instanceof FirstLaunchError) {
    const code = err.code === 'storage' ? 'StorageFailed' : err.code === 'offline' ? 'ServerUnavailable' : 'Refused';
    return new ApiError(code, err.message, { method, cause: err });
  }
  if (err instanceof Error && err.name === 'ProvisioningInvalid') return new ApiError('Refused', err.message, { method, cause: err });
  return err;
}

function accountOf(d: Pick<Discovery, 'id' | 'address' | 'org'> & { mail?: Discovery['mail'] | undefined }): Account {
  const imap = d.mail?.imap;
  return {
    id: d.id,
    email: d.address,
    displayName: d.address,
    org: { name: d.org.name, domains: [...d.org.domains], encryptionKeyFingerprint: d.org.encryptionKeyFingerprint },
    // IT's IMAP settings, prefilled for the mail account (the login name is the address until the user changes it).
    ...(imap ? { imap: { host: imap.host, port: imap.port, security: imap.security, username: d.address } } : {}),
  };
}

export function firstLaunchMethods(service: () => FirstLaunchService): {
  discover: SsmaxApi['accounts']['discover'];
  confirm: SsmaxApi['accounts']['confirm'];
  org: SsmaxApi['org'];
} {
  const call = async <T>(method: string, f: () => Promise<T>): Promise<T> => {
    try {
      return await f();
    } catch (err) {
      throw toApiError(err, method);
    }
  };
  return {
    discover: (email) => call('accounts.discover', async () => accountOf(await service().discover(email))),
    confirm: (id) =>
      call('accounts.confirm', async () => {
        const s = await service().confirm(id);
        return accountOf({ id: 'org', address: s.address ?? '', org: s.org!, mail: s.mail });
      }),
    org: {
      status: () =>
        call('org.status', async (): Promise<OrgStatus> => {
          const s = service().status();
          if (s.state !== 'none') return s;
          const found = await service()
            .findAddress()
            .catch(() => undefined);
          return found ? { state: 'none', suggestedAddress: found.address } : { state: 'none' };
        }),
      refresh: () => call('org.refresh', () => service().refresh()),
    },
  };
}
