import { ApiError, type MessageRef } from '../../api';
import { ImapOffline } from '../mail/connection';
import type { MailService } from '../mail/service';
import type { MessageSource } from './service';

/**
 * Message bytes by account/folder/UID from IMAP (`UID FETCH … BODY.PEEK[]`, exact bytes, the
 * message stays unread until the user marks it), through the account's queued connection
 * (client/mail). Offline → `ServerUnavailable`; an unknown account → `NotFound`.
 */
export function imapMessageSource(mail: () => MailService | undefined): MessageSource {
  return {
    async fetchRaw(ref: MessageRef): Promise<Uint8Array | undefined> {
      const account = mail()?.account(ref.accountId);
      if (!account)
        throw new ApiError('NotFound', `There is no account ${ref.accountId}.`, { method: 'messages.open' });
      try {
        return await account.connection.run(async (c) => {
          const lock = await c.getMailboxLock(ref.path);
          try {
            const msg = await c.fetchOne(String(ref.uid), { uid: true, source: true }, { uid: true });
            return msg && msg.source ? new Uint8Array(msg.source) : undefined;
          } finally {
            lock.release();
          }
        });
      } catch (err) {
        if (err instanceof ImapOffline)
          throw new ApiError('ServerUnavailable', `${err.message} The message can be opened when it is back.`, {
            method: 'messages.open',
            cause: err,
          });
        throw new ApiError('ServerUnavailable', `The message could not be fetched from ${ref.path}.`, {
          method: 'messages.open',
          cause: err,
        });
      }
    },
  };
}
