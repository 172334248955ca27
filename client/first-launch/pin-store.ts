import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';

/**
 * The pinned org bundle in the data dir (`org/`): `bundle.p7s` (the bytes as verified; re-verified
 * on every start, never trusted from disk alone) and `pin.json` (org name, domains, org CA
 * fingerprint, version, the user's address and where the bundle came from). Written atomically
 * (temp file + fsync + rename), bundle first, so a crash leaves the old pin or the new one.
 */
export const pinRecordSchema = z
  .object({
    format: z.literal('ssmax-pin/1'),
    address: z.string(),
    domain: z.string(),
    orgName: z.string(),
    domains: z.array(z.string()),
    /** SHA-256 of the org CA certificate, hex: a bundle under another org CA never replaces the pin. */
    orgCaSha256: z.string().regex(/^[0-9a-f]{64}$/),
    version: z.number().int().positive(),
    encryptionKeyFingerprint: z.string(),
    bundleUrl: z.string(),
    tlsCaPem: z.string().optional(),
    mail: z
      .object({
        imap: z.object({ host: z.string(), port: z.number(), security: z.enum(['tls', 'starttls']) }).optional(),
        smtp: z.object({ host: z.string(), port: z.number() }),
      })
      .strict(),
    pinnedAt: z.string(),
    refreshedAt: z.string(),
  })
  .strict();
export type PinRecord = z.infer<typeof pinRecordSchema>;

export interface PinnedBundle {
  readonly record: PinRecord;
  readonly bundle: Uint8Array;
}

export class PinStore {
  readonly dir: string;

  constructor(dataDir: string) {
    this.dir = join(dataDir, 'org');
  }

  /** The pin, or undefined when there is none (or it is unreadable: first launch runs again). */
  async load(): Promise<PinnedBundle | undefined> {
    let text: string;
    let bundle: Uint8Array;
    try {
      text = await readFile(join(this.dir, 'pin.json'), 'utf8');
      bundle = new Uint8Array(await readFile(join(this.dir, 'bundle.p7s')));
    } catch {
      return undefined;
    }
    const parsed = pinRecordSchema.safeParse(safeJson(text));
    return parsed.success ? { record: parsed.data, bundle } : undefined;
  }

  async save(pin: PinnedBundle): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await atomicWrite(join(this.dir, 'bundle.p7s'), pin.bundle);
    await atomicWrite(join(this.dir, 'pin.json'), `${JSON.stringify(pin.record, null, 2)}\n`);
  }

  async clear(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

async function atomicWrite(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}
