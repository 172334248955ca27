import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ClamdSizeLimitError,
  ping,
  scanBuffer,
  scanStream,
  version,
  type ClamdError,
} from '../../org-node/inspection/clamd-client';
import {
  EICAR_SIGNATURE_NAME,
  MALWARE_MARKER,
  MARKER_SIGNATURE_NAME,
  eicarTestFile,
  reportedName,
} from './clamav-signatures';
import { startClamd, type ClamdHandle } from './clamd';
import { waitFor } from './process';

// Small limit so that the over-limit case needs only a little more than 1 MiB.
const STREAM_MAX_LENGTH = 1024 * 1024;

describe('clamd harness with the project test signature database', () => {
  let clamd: ClamdHandle;
  let failed = false;

  beforeAll(async () => {
    clamd = await startClamd({ streamMaxLength: STREAM_MAX_LENGTH });
  });

  afterAll(async () => {
    await clamd?.stop({ keepDir: failed });
  });

  const track = <T>(p: Promise<T>): Promise<T> =>
    p.catch((err: unknown) => {
      failed = true;
      throw err;
    });

  it('answers PING on TCP and on the unix socket, and reports its version', async () => {
    await track(ping(clamd.tcp));
    await track(ping({ path: clamd.socketPath }));
    expect(await track(version(clamd.address))).toMatch(/^ClamAV 1\.\d+\.\d+/);
  });

  it('reports the EICAR test file as found, under the project signature name', async () => {
    const verdict = await track(scanBuffer(clamd.address, eicarTestFile()));
    expect(verdict).toEqual({ status: 'found', signature: reportedName(EICAR_SIGNATURE_NAME) });
  });

  it('reports the malware marker inside otherwise harmless text, over the unix socket', async () => {
    const text = Buffer.from(
      `Dear colleague,\nplease find the report attached.\n${MALWARE_MARKER}\nRegards\n`,
    );
    const verdict = await track(scanBuffer({ path: clamd.socketPath }, text));
    expect(verdict).toEqual({ status: 'found', signature: reportedName(MARKER_SIGNATURE_NAME) });
  });

  it('reports a clean buffer as clean', async () => {
    const verdict = await track(
      scanBuffer(clamd.address, Buffer.from('Quarterly figures: nothing to see here.\n')),
    );
    expect(verdict).toEqual({ status: 'clean' });
  });

  it('finds the marker when it straddles two INSTREAM chunks of a multi-chunk stream', async () => {
    const filler = Buffer.alloc(100_000, 'a');
    const marker = Buffer.from(MALWARE_MARKER);
    // The client sends each piece as its own chunk(s), so the marker is split across two chunks:
    // clamd must scan the reassembled stream, not each chunk.
    async function* pieces(): AsyncIterable<Uint8Array> {
      yield Buffer.concat([filler, marker.subarray(0, 10)]);
      yield Buffer.concat([marker.subarray(10), filler]);
    }
    const verdict = await track(scanStream(clamd.address, pieces()));
    expect(verdict).toEqual({ status: 'found', signature: reportedName(MARKER_SIGNATURE_NAME) });
  });

  it('refuses a stream longer than StreamMaxLength with a size-limit error, not a hang', async () => {
    const tooLong = Buffer.alloc(STREAM_MAX_LENGTH + 64 * 1024, 'b');
    const outcome = await scanBuffer(clamd.address, tooLong, { idleTimeoutMs: 10_000 }).then(
      (verdict) => ({ verdict }),
      (err: unknown) => ({ err }),
    );
    if (!('err' in outcome)) failed = true;
    expect(outcome).toHaveProperty('err');
    const err = (outcome as { err: unknown }).err;
    expect(err).toBeInstanceOf(ClamdSizeLimitError);
    expect((err as ClamdError).userMessage).toBe(
      'The content is larger than the virus scanner accepts; it was not scanned.',
    );
    expect((err as ClamdError).message).toMatch(/StreamMaxLength/);
    // clamd is still serving after refusing the stream.
    expect(await track(scanBuffer(clamd.address, Buffer.from('still alive')))).toEqual({ status: 'clean' });
  });

  it('clamd dies with a test process that is SIGKILLed (no exit hook runs then)', async () => {
    const script = fileURLToPath(new URL('./clamd-child.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let started: { pid: number; dir: string } | undefined;
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout }).once('line', resolve);
        child.once('exit', (code) => reject(new Error(`clamd-child exited early with ${code}`)));
      });
      started = JSON.parse(line) as { pid: number; dir: string };
      const pid = started.pid;
      expect(existsSync(`/proc/${pid}`)).toBe(true);
      child.kill('SIGKILL');
      await waitFor('the orphaned clamd to exit', () => (existsSync(`/proc/${pid}`) ? undefined : true), {
        timeoutMs: 10_000,
      });
    } finally {
      child.kill('SIGKILL');
      // When the test fails, clamd is still running: do not leave it behind.
      if (started && existsSync(`/proc/${started.pid}`)) process.kill(started.pid, 'SIGKILL');
      if (started) await rm(started.dir, { recursive: true, force: true });
    }
  });
});
