import { ServiceHost } from '../client/service-host';
import type { DemoClient } from './world';

/**
 * Opens the service host of a demo user the way the desktop client runs it, and makes sure first
 * launch is done (the org bundle fetched from the node, verified to the SSMAX root and pinned) and
 * the IMAP account exists. Idempotent: a data dir set up before is reused as it is.
 * `answerPin: true` answers every PIN prompt with the card's PIN (seeding and tests; the UI asks the user).
 */
export interface OpenedDemoClient {
  readonly host: ServiceHost;
  readonly accountId: string;
  /** Stops answering PIN prompts (when `answerPin` was set) and closes the host. */
  close(): Promise<void>;
}

export async function openDemoClient(
  c: DemoClient,
  opts: { answerPin?: boolean } = {},
): Promise<OpenedDemoClient> {
  const host = await ServiceHost.open(c.hostOptions);
  try {
    const status = await host.org.status();
    if (status.state === 'none') {
      const found = await host.accounts.discover(c.person.address);
      await host.accounts.confirm(found.id);
    }
    let account = (await host.accounts.list()).find((a) => a.email === c.person.address && a.id !== 'org');
    account ??= await host.accounts.add({
      email: c.person.address,
      displayName: c.person.name,
      imap: c.imap,
    });
    const unsubscribe = opts.answerPin
      ? host.events.on(
          'pin.requested',
          (req) => void host.pin.answer(req.requestId, c.pin).catch(() => undefined),
        )
      : () => undefined;
    return {
      host,
      accountId: account.id,
      async close() {
        unsubscribe();
        await host.close();
      },
    };
  } catch (err) {
    await host.close().catch(() => undefined);
    throw err;
  }
}
