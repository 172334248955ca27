/**
 * The displayed sender and its comparison with the signer certificate (SPEC §5: "① valid and its
 * cert's address equals the displayed From"). The addr-spec is compared exactly in its local part
 * and case-insensitively in its domain; a display name that itself looks like a different address
 * (`"boss@a.example" <evil@x.example>`) is refused, since that is what the user reads.
 */
import type { Mailbox, MimeHeaders } from '../mime';
import type { ChainReason } from './model';
import { reason } from './path';

export function sameAddress(a: string, b: string): boolean {
  const ia = a.lastIndexOf('@');
  const ib = b.lastIndexOf('@');
  if (ia <= 0 || ib <= 0) return false;
  return a.slice(0, ia) === b.slice(0, ib) && a.slice(ia + 1).toLowerCase() === b.slice(ib + 1).toLowerCase();
}

export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}

const ADDRESS_LIKE = /[^\s<>"'(),;:]+@[^\s<>"'(),;:]+\.[^\s<>"'(),;:]+/g;

/** The single From mailbox of a header section, or the reasons it cannot be trusted as one. */
export function displayedSender(headers: MimeHeaders, duplicates: readonly string[] = []): { mailbox: Mailbox | undefined; reasons: ChainReason[] } {
  const reasons: ChainReason[] = [];
  const list = headers.getAddresses('from');
  if (headers.count('from') > 1 || duplicates.includes('from')) {
    reasons.push(reason('from-ambiguous', 'The message has more than one From header field.'));
    return { mailbox: undefined, reasons };
  }
  if (list.length !== 1 || !list[0]?.address.includes('@')) {
    reasons.push(reason('from-ambiguous', list.length === 0 ? 'The message has no sender address (From).' : 'The From field names more than one sender or no valid address.'));
    return { mailbox: undefined, reasons };
  }
  const mailbox = list[0];
  for (const m of mailbox.name.match(ADDRESS_LIKE) ?? []) {
    if (!sameAddress(m.replace(/[.]+$/, ''), mailbox.address)) {
      reasons.push(reason('display-name-spoof', `The sender's name shows the address ${m}, but the message is from ${mailbox.address}.`));
      break;
    }
  }
  return { mailbox, reasons };
}
