import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';

/**
 * Writes `value` as pretty-printed JSON (plus a final newline) to `file` atomically: a private
 * temp file beside it (mode 0600, created exclusively), fsync, then rename over `file`, so a crash
 * leaves the old content or the new one. On failure the temp file is removed and the error rethrown
 * as is; the caller wraps it in its own typed error.
 */
export async function writeJsonFileAtomically(file: string, value: unknown): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const handle = await open(tmp, 'wx', 0o600);
    try {
      await handle.writeFile(`${JSON.stringify(value, null, 2)}\n`, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}
