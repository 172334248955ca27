import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** Runs the real `openssl` binary (integration tests only). Never throws on a non-zero exit: returns it. */
export interface OpensslResult {
  readonly code: number;
  readonly stdout: Buffer;
  readonly stderr: string;
}

export function openssl(args: readonly string[], options: { cwd?: string; input?: Uint8Array } = {}): Promise<OpensslResult> {
  return new Promise((resolve, reject) => {
    const child = execFile('openssl', args, { cwd: options.cwd, encoding: 'buffer', maxBuffer: 256 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error && typeof (error as { code?: unknown }).code !== 'number') return reject(error);
      resolve({ code: error ? Number((error as { code?: unknown }).code) : 0, stdout, stderr: stderr.toString('utf8') });
    });
    if (options.input) child.stdin?.end(Buffer.from(options.input));
    else child.stdin?.end();
  });
}

/** A temp directory for files handed to openssl; `file()` writes and returns the path. */
export interface Workdir {
  readonly dir: string;
  file(name: string, content: Uint8Array | string): Promise<string>;
  read(name: string): Promise<Buffer>;
  path(name: string): string;
  remove(): Promise<void>;
}

export async function workdir(prefix = 'ssmax-openssl-'): Promise<Workdir> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  return {
    dir,
    async file(name, content) {
      const p = path.join(dir, name);
      await writeFile(p, content);
      return p;
    },
    read: (name) => readFile(path.join(dir, name)),
    path: (name) => path.join(dir, name),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
