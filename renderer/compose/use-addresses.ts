import { useEffect, useState } from 'react';
import type { Account, SsmaxClient } from '../../api';

/**
 * Addresses for recipient completion, from what the local cache already lists: the senders of the
 * newest messages in each account's Inbox and Sent folders (no server round trip, no card).
 * Best effort: any failure just means fewer suggestions.
 */
export function useKnownAddresses(client: SsmaxClient, accounts: readonly Account[]): string[] {
  const [addresses, setAddresses] = useState<string[]>([]);
  useEffect(() => {
    let live = true;
    (async () => {
      const found = new Set<string>();
      for (const account of accounts) {
        const folders = await client.folders.list(account.id).catch(() => []);
        for (const folder of folders.filter((f) => f.role === 'inbox' || f.role === 'sent')) {
          const page = await client.messages
            .page({ folder: { accountId: account.id, path: folder.path }, offset: 0, limit: 200 })
            .catch(() => null);
          for (const row of page?.rows ?? []) if (row.from.email !== account.email) found.add(row.from.email);
        }
      }
      if (live) setAddresses([...found].sort());
    })();
    return () => {
      live = false;
    };
  }, [client, accounts]);
  return addresses;
}
