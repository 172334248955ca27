import type {
  FetchMessageObject,
  FetchQueryObject,
  ImapFlow,
  ListResponse,
  MessageAddressObject,
  MessageStructureObject,
} from 'imapflow';
import type { FolderRole } from '../../api';
import type { Address, FolderListing, MailCache, MessageFlags, NewMessage, SmimeHint } from './cache';

/**
 * UID-based incremental sync of one account's folders into the cache (RFC 3501 §2.3.1.1, RFC 7162):
 * - the folder list follows the server's LIST, special-use flags (RFC 6154) give the roles;
 * - a changed UIDVALIDITY wipes the folder's cache first (its UIDs now name other messages);
 * - new mail is fetched from the cached UIDNEXT on: headers only, never a message fetched twice;
 * - flag changes come from `FETCH … (CHANGEDSINCE highestmodseq)` when the server has CONDSTORE,
 *   otherwise from re-reading the flags of the cached range;
 * - expunges: when the server's message count differs from the cache's, `UID SEARCH ALL` says which
 *   UIDs are gone (and which are missing from the cache, which are then fetched).
 * Every step writes in transactions, so a connection lost mid-sync leaves a consistent cache and
 * the next sync continues from what was stored.
 */

export interface FolderSyncResult {
  path: string;
  /** The folder's cache was wiped because UIDVALIDITY changed (or first seen with messages cached). */
  reset: boolean;
  /** UIDs whose headers were fetched in this sync. */
  fetchedUids: number[];
  /** Rows whose flags changed. */
  flagUpdates: number;
  /** How the flag changes were found. */
  flagMode: 'condstore' | 'full' | 'none';
  expunged: number;
  total: number;
}

export interface SyncProgressSink {
  (p: { folder: string; done: number; total: number }): void;
}

const HEADER_QUERY: FetchQueryObject = {
  uid: true,
  flags: true,
  envelope: true,
  internalDate: true,
  size: true,
  bodyStructure: true,
};

/** Rows written per transaction while fetching new mail. */
const BATCH = 500;

const ROLE_BY_SPECIAL_USE: Readonly<Record<string, FolderRole>> = {
  '\\Inbox': 'inbox',
  '\\Sent': 'sent',
  '\\Drafts': 'drafts',
  '\\Trash': 'trash',
  '\\Junk': 'junk',
  '\\Archive': 'archive',
};

export function folderRole(path: string, specialUse: string | undefined): FolderRole {
  if (path.toUpperCase() === 'INBOX') return 'inbox';
  return (specialUse && ROLE_BY_SPECIAL_USE[specialUse]) || 'other';
}

/** Folders that can hold messages (not \Noselect / \NonExistent hierarchy nodes). */
export function selectable(entry: Pick<ListResponse, 'flags'>): boolean {
  return !entry.flags.has('\\Noselect') && !entry.flags.has('\\NonExistent');
}

export function toListing(entry: ListResponse): FolderListing {
  return {
    path: entry.path,
    name: entry.name,
    delimiter: entry.delimiter ?? null,
    specialUse: entry.specialUse ?? null,
    role: folderRole(entry.path, entry.specialUse),
  };
}

/** Updates the cached folder list from LIST; returns the selectable folders, INBOX first. */
export async function syncFolderList(
  client: ImapFlow,
  cache: MailCache,
  accountId: string,
): Promise<FolderListing[]> {
  const listing = (await client.list()).filter(selectable).map(toListing);
  cache.replaceFolders(accountId, listing);
  const rank = (f: FolderListing): number => (f.role === 'inbox' ? 0 : 1);
  return listing.sort((a, b) => rank(a) - rank(b) || a.path.localeCompare(b.path));
}

export function toFlags(flags: Set<string> | undefined): MessageFlags {
  const all = flags ?? new Set<string>();
  const known = new Set(['\\Seen', '\\Flagged', '\\Answered', '\\Recent']);
  return {
    seen: all.has('\\Seen'),
    flagged: all.has('\\Flagged'),
    answered: all.has('\\Answered'),
    other: [...all].filter((f) => !known.has(f)).sort(),
  };
}

function toAddress(a: MessageAddressObject | undefined): Address {
  return { name: a?.name ?? '', address: a?.address ?? '' };
}

function time(value: Date | string | undefined): number | null {
  if (value === undefined) return null;
  const t = (value instanceof Date ? value : new Date(value)).getTime();
  return Number.isFinite(t) ? t : null;
}

const PKCS7_MIME = new Set(['application/pkcs7-mime', 'application/x-pkcs7-mime']);
const PKCS7_SIGNATURE = new Set(['application/pkcs7-signature', 'application/x-pkcs7-signature']);

/** Encrypted or signed S/MIME, judged from the top-level structure (RFC 8551 §3.2–3.5). */
export function smimeHint(node: MessageStructureObject | undefined): SmimeHint {
  if (!node) return 'none';
  const type = node.type.toLowerCase();
  if (PKCS7_MIME.has(type)) {
    const smimeType = (node.parameters?.['smime-type'] ?? '').toLowerCase();
    return smimeType === 'signed-data' ? 'signed' : 'encrypted';
  }
  if (type === 'multipart/signed' && PKCS7_SIGNATURE.has((node.parameters?.protocol ?? '').toLowerCase()))
    return 'signed';
  return 'none';
}

/**
 * Whether the structure shows attachments: a part with disposition `attachment`, or a named
 * non-text leaf. S/MIME signature parts do not count; what is inside an encrypted body is unknown
 * until it is opened (false until then).
 */
export function hasAttachments(node: MessageStructureObject | undefined): boolean {
  if (!node) return false;
  const type = node.type.toLowerCase();
  if (node.childNodes?.length) return node.childNodes.some(hasAttachments);
  if (PKCS7_SIGNATURE.has(type) || PKCS7_MIME.has(type)) return false;
  if ((node.disposition ?? '').toLowerCase() === 'attachment') return true;
  const named = node.dispositionParameters?.filename ?? node.parameters?.name;
  return named !== undefined && !type.startsWith('text/') && type !== 'message/delivery-status';
}

export function toNewMessage(msg: FetchMessageObject): NewMessage {
  const env = msg.envelope;
  const received = time(msg.internalDate) ?? time(env?.date) ?? 0;
  return {
    uid: msg.uid,
    messageId: env?.messageId ?? null,
    received,
    date: time(env?.date),
    from: toAddress(env?.from?.[0]),
    to: (env?.to ?? []).map(toAddress),
    subject: env?.subject ?? '',
    flags: toFlags(msg.flags),
    size: msg.size ?? 0,
    hasAttachments: hasAttachments(msg.bodyStructure),
    smime: smimeHint(msg.bodyStructure),
    modseq: msg.modseq === undefined ? null : msg.modseq.toString(),
  };
}

/** Compresses ascending UIDs into an IMAP sequence set ("1:5,8,10:12"). */
export function uidSet(uids: readonly number[]): string {
  const sorted = [...uids].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}:${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

/** Fetches headers of `range` (a UID set) into the cache in batches; returns the UIDs stored. */
async function fetchHeaders(
  client: ImapFlow,
  cache: MailCache,
  folderId: number,
  range: string,
  minUid: number,
  progress: (n: number) => void,
): Promise<number[]> {
  const fetched: number[] = [];
  let batch: NewMessage[] = [];
  const flush = (): void => {
    if (batch.length === 0) return;
    cache.putMessages(folderId, batch);
    for (const m of batch) fetched.push(m.uid);
    batch = [];
    progress(fetched.length);
  };
  for await (const msg of client.fetch(range, HEADER_QUERY, { uid: true })) {
    // "N:*" also answers the highest UID when it is below N (RFC 3501 §6.4.8).
    if (msg.uid < minUid) continue;
    batch.push(toNewMessage(msg));
    if (batch.length >= BATCH) flush();
  }
  flush();
  return fetched;
}

/** Syncs one folder; the caller holds the connection (inside `ImapConnection.run`). */
export async function syncFolder(
  client: ImapFlow,
  cache: MailCache,
  accountId: string,
  path: string,
  onProgress: SyncProgressSink = () => undefined,
): Promise<FolderSyncResult> {
  const folder = cache.folder(accountId, path);
  if (!folder) throw new Error(`Folder ${path} is not in the cache; sync the folder list first.`);
  // Already selected (we IDLE in INBOX): SELECT again, or the UIDNEXT/HIGHESTMODSEQ seen are stale.
  if (client.mailbox && client.mailbox.path === path) await client.mailboxOpen(path);
  const lock = await client.getMailboxLock(path);
  try {
    const box = client.mailbox;
    if (!box) throw new Error(`Could not select ${path}.`);
    const uidValidity = box.uidValidity.toString();
    const selectUidNext = box.uidNext;
    const serverModseq = box.highestModseq;
    const condstore = serverModseq !== undefined && !box.noModseq;

    let reset = false;
    let from = folder.uidNext ?? 1;
    if (folder.uidValidity !== uidValidity) {
      reset = folder.uidValidity !== null || cache.counts(folder.id).total > 0;
      cache.resetFolder(folder.id, uidValidity);
      from = 1;
    } else {
      // A sync cut off mid-way (connection lost) stored whole batches but not the new UIDNEXT:
      // continue after the highest stored UID instead of fetching those headers again.
      from = Math.max(from, cache.maxUid(folder.id) + 1);
    }
    const knownBefore = from > 1 ? cache.counts(folder.id).total : 0;

    // 1. New messages: every UID from the cached UIDNEXT on.
    let fetchedUids: number[] = [];
    const expected = Math.max(0, box.exists - knownBefore);
    if (box.exists > 0 && selectUidNext > from) {
      onProgress({ folder: path, done: 0, total: expected });
      fetchedUids = await fetchHeaders(client, cache, folder.id, `${from}:*`, from, (done) =>
        onProgress({ folder: path, done, total: Math.max(expected, done) }),
      );
    }

    // 2. Flag changes on what was cached before this sync.
    let flagUpdates = 0;
    let flagMode: FolderSyncResult['flagMode'] = 'none';
    if (from > 1 && knownBefore > 0) {
      const since = folder.highestModseq === null ? undefined : BigInt(folder.highestModseq);
      if (condstore && since !== undefined) {
        if (serverModseq! > since) {
          flagMode = 'condstore';
          flagUpdates = await fetchFlags(client, cache, folder.id, `1:${from - 1}`, since);
        }
      } else {
        flagMode = 'full';
        flagUpdates = await fetchFlags(client, cache, folder.id, `1:${from - 1}`, undefined);
      }
    }

    // 3. Expunges (and anything missing): compare counts, then UID SEARCH ALL when they differ.
    let expunged = 0;
    const serverTotal = client.mailbox ? client.mailbox.exists : box.exists;
    if (cache.counts(folder.id).total !== serverTotal) {
      const found = await client.search({ all: true }, { uid: true });
      const onServer = new Set(Array.isArray(found) ? found : []);
      const cached = cache.uids(folder.id);
      const gone = cached.filter((u) => !onServer.has(u));
      expunged = cache.removeMessages(folder.id, gone);
      const cachedSet = new Set(cached);
      const missing = [...onServer].filter((u) => !cachedSet.has(u));
      if (missing.length > 0) {
        const more = await fetchHeaders(client, cache, folder.id, uidSet(missing), 1, () => undefined);
        fetchedUids = fetchedUids.concat(more);
      }
    }

    const maxFetched = fetchedUids.reduce((m, u) => Math.max(m, u), 0);
    cache.setFolderState(folder.id, {
      uidValidity,
      uidNext: Math.max(from, selectUidNext, maxFetched + 1),
      highestModseq: condstore ? serverModseq!.toString() : null,
      serverTotal,
    });
    const total = cache.counts(folder.id).total;
    onProgress({ folder: path, done: total, total });
    return { path, reset, fetchedUids, flagUpdates, flagMode, expunged, total };
  } finally {
    lock.release();
  }
}

async function fetchFlags(
  client: ImapFlow,
  cache: MailCache,
  folderId: number,
  range: string,
  changedSince: bigint | undefined,
): Promise<number> {
  const changes: { uid: number; flags: MessageFlags; modseq: string | null }[] = [];
  const options = changedSince === undefined ? { uid: true } : { uid: true, changedSince };
  for await (const msg of client.fetch(range, { uid: true, flags: true }, options)) {
    changes.push({ uid: msg.uid, flags: toFlags(msg.flags), modseq: msg.modseq?.toString() ?? null });
  }
  return changes.length === 0 ? 0 : cache.updateFlags(folderId, changes);
}
