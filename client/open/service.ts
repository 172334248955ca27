import { randomBytes } from 'node:crypto';
import { mkdir, open as openFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { ApiError, type AttachmentRef, type MessageRef, type OpenOptions, type OpenedMessage } from '../../api';
import type { CrlSource } from '../../smime/chain';
import type { Decryptor } from '../../smime/keys';
import type { CardSession } from '../card/card-session';
import { isEncrypted, openMessage, watchDecryptor, type OpenTrust, type OpenedAttachment } from './open-message';

/** Where the raw bytes of a message come from: the IMAP layer (fetch BODY[] by UID), or memory in tests. */
export interface MessageSource {
  /** The exact bytes of the message; `undefined` when the folder has no such UID. */
  fetchRaw(ref: MessageRef): Promise<Uint8Array | undefined>;
}

/** Messages handed over as bytes (tests, the bridge demo, imports); keyed by account, folder and UID. */
export class MemoryMessageSource implements MessageSource {
  private readonly messages = new Map<string, Uint8Array>();
  put(ref: MessageRef, raw: Uint8Array): void {
    this.messages.set(refKey(ref), raw);
  }
  async fetchRaw(ref: MessageRef): Promise<Uint8Array | undefined> {
    return this.messages.get(refKey(ref));
  }
}

/** Chooses where to save an attachment (Electron: a save dialog); null = the user cancelled. */
export type ChooseSavePath = (suggestedName: string, ref: AttachmentRef) => Promise<string | null>;

export interface OpenServiceOptions {
  card: CardSession;
  source: MessageSource;
  /** The pinned trust: SSMAX root, own org; a function so a later first launch / rollover is picked up. */
  trust: (ref: MessageRef) => OpenTrust | Promise<OpenTrust>;
  chooseSavePath: ChooseSavePath;
  /** Evaluation time (tests with generated worlds); default now. */
  now?: () => Date;
  /** The CRLs at the chain's distribution points (a `CrlCache`'s source): revocation checked at read time. */
  crlSource?: CrlSource;
  /** Called with the result of every open, for the message cache ("trust" in the list). */
  onVerified?: (ref: MessageRef, result: OpenedMessage['chain']) => void;
  /**
   * The user loaded remote content for a message: the exact URLs its HTML loads. The Electron shell
   * opens its network gate for these and nothing else; browser mode needs nothing (the page's CSP).
   */
  onRemoteContentAllowed?: (urls: readonly string[]) => void;
}

/** Danger is refused, whatever the path: the UI disables the button, this is the enforcement. */
export class DangerousAttachmentRefused extends ApiError {
  override readonly name = 'DangerousAttachmentRefused';
  constructor(name: string, by: string) {
    super(
      'AttachmentRefused',
      `"${name}" was judged Danger by the inspection of ${by}; SSMAX does not save it. Ask IT if you need it.`,
      { method: 'messages.saveAttachment' },
    );
  }
}

export function refKey(ref: MessageRef): string {
  return `${ref.accountId}\u0000${ref.path}\u0000${ref.uid}`;
}

const KEEP_OPENED = 20;

/** messages.open and messages.saveAttachment. */
export class OpenService {
  /** The attachments of recently opened messages (bytes stay in the main process). */
  private readonly opened = new Map<string, OpenedAttachment[]>();

  constructor(private readonly opts: OpenServiceOptions) {}

  async open(ref: MessageRef, options: OpenOptions): Promise<OpenedMessage> {
    const raw = await this.opts.source.fetchRaw(ref);
    if (raw === undefined)
      throw new ApiError('NotFound', `Message ${ref.uid} is not in ${ref.path} (any more).`, {
        method: 'messages.open',
      });
    // Before the card: with no SSMAX root there is nothing to verify against, so no PIN is asked.
    const trust = await this.opts.trust(ref);
    const run = async (decryptors: readonly Decryptor[]) =>
      openMessage({ ref, raw }, trust, {
        ...options,
        decryptors,
        ...(this.opts.now ? { at: this.opts.now() } : {}),
        ...(this.opts.crlSource ? { crlSource: this.opts.crlSource } : {}),
      });
    let result: Awaited<ReturnType<typeof run>>;
    if (isEncrypted(raw)) {
      result = await this.opts.card.run('messages.open', `Open the message in ${ref.path}`, async (card) => {
        const watched = watchDecryptor(await card.openDecryptor());
        const r = await run([watched.decryptor]);
        // A card failure (PIN cancelled, wrong PIN, card removed) is not a message failure: report it
        // as the typed card error; nothing is cached, the message stays as it was.
        const failure = watched.failure();
        if (failure !== undefined) throw failure;
        return r;
      });
    } else result = await run([]);
    this.remember(ref, result.attachments);
    this.opts.onVerified?.(ref, result.message.chain);
    if (result.remoteLoads.length > 0) this.opts.onRemoteContentAllowed?.(result.remoteLoads);
    return result.message;
  }

  async saveAttachment(ref: AttachmentRef): Promise<{ savedTo: string } | null> {
    let list = this.opened.get(refKey(ref.message));
    if (!list) {
      await this.open(ref.message, { loadRemoteContent: false });
      list = this.opened.get(refKey(ref.message));
    }
    const att = list?.[ref.index];
    if (!att)
      throw new ApiError('NotFound', `The message has no attachment ${ref.index}.`, {
        method: 'messages.saveAttachment',
      });
    const danger = att.info.verdicts.find((v) => v.verdict === 'Danger');
    if (danger || !att.info.savable) throw new DangerousAttachmentRefused(att.info.name, danger?.by ?? 'an org');
    const target = await this.opts.chooseSavePath(safeFileName(att.info.name), ref);
    if (target === null) return null;
    await writeAtomically(target, att.bytes);
    return { savedTo: target };
  }

  private remember(ref: MessageRef, attachments: OpenedAttachment[]): void {
    const key = refKey(ref);
    this.opened.delete(key);
    this.opened.set(key, attachments);
    while (this.opened.size > KEEP_OPENED) {
      const oldest = this.opened.keys().next().value;
      if (oldest === undefined) break;
      this.opened.delete(oldest);
    }
  }
}

/** A file name from a mail: no directories, no control characters, not empty, not hidden. */
export function safeFileName(name: string): string {
  // eslint-disable-next-line no-control-regex
  const cleaned = basename(name.replace(/\\/g, '/')).replace(/[\u0000-\u001f\u007f<>:"/\\|?*]/g, '_').trim();
  const noDots = cleaned.replace(/^\.+/, '');
  return noDots === '' ? 'attachment' : noDots.slice(0, 200);
}

/** Without a dialog (bridge, tests): a non-existing name in `dir`, never overwriting. */
export function saveIntoDirectory(dir: string): ChooseSavePath {
  return async (suggested) => {
    await mkdir(dir, { recursive: true });
    const ext = extname(suggested);
    const stem = suggested.slice(0, suggested.length - ext.length);
    for (let n = 0; n < 1000; n++) {
      const candidate = join(dir, n === 0 ? suggested : `${stem} (${n})${ext}`);
      try {
        const fh = await openFile(candidate, 'wx');
        await fh.close();
        return candidate;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
    throw new ApiError('StorageFailed', `No free file name for ${suggested} in ${dir}.`);
  };
}

async function writeAtomically(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.part`);
  try {
    const fh = await openFile(tmp, 'wx');
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new ApiError('StorageFailed', `Could not save the attachment to ${path}.`, {
      method: 'messages.saveAttachment',
      cause: err,
    });
  }
}
