import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BundleCache, CachedBundle } from '../../smime/bundle/client';

/**
 * Bundle cache in a directory: `<domain>.p7s` (the bundle as fetched, re-verified on every load)
 * and `<domain>.json` (pinned version, fetch time). Corrupt or missing files count as "not cached".
 */
export class FileBundleCache implements BundleCache {
  constructor(readonly dir: string) {}

  async load(domain: string): Promise<CachedBundle | undefined> {
    const name = safeName(domain);
    try {
      const meta = JSON.parse(await readFile(join(this.dir, `${name}.json`), 'utf8')) as { version: number; fetchedAt: string };
      const bundle = new Uint8Array(await readFile(join(this.dir, `${name}.p7s`)));
      return { bundle, version: meta.version, fetchedAt: new Date(meta.fetchedAt) };
    } catch {
      return undefined;
    }
  }

  async save(domain: string, entry: CachedBundle): Promise<void> {
    const name = safeName(domain);
    await mkdir(this.dir, { recursive: true });
    for (const [file, data] of [
      [`${name}.p7s`, entry.bundle],
      [`${name}.json`, `${JSON.stringify({ version: entry.version, fetchedAt: entry.fetchedAt.toISOString() })}\n`],
    ] as const) {
      const tmp = join(this.dir, `${file}.${process.pid}.tmp`);
      await writeFile(tmp, data);
      await rename(tmp, join(this.dir, file));
    }
  }
}

function safeName(domain: string): string {
  const d = domain.toLowerCase();
  if (!/^[a-z0-9.-]+$/.test(d) || d.includes('..')) throw new Error(`"${domain}" is not a domain name.`);
  return d;
}
