import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectMessage } from '../../../org-node/inspection';
import { check7z } from '../../../org-node/inspection/sevenzip';
import { message } from './fixtures';

// 7z archives made by the real 7z (p7zip-full, scripts/install-system-deps.sh): 7-Zip packs the
// file list with LZMA by default, so telling an encrypted archive from a plain one needs the LZMA
// decoder (org-node/inspection/lzma.ts) and the header's CRC.

describe('7z archives made by 7z', () => {
  let dir: string;
  const archives = new Map<string, Buffer>();

  function make(name: string, args: string[], files: string[]): void {
    execFileSync('7z', ['a', '-bd', '-y', ...args, join(dir, name), ...files], { cwd: dir, stdio: 'ignore' });
    archives.set(name, readFileSync(join(dir, name)));
  }

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ssmax-7z-'));
    const many: string[] = [];
    for (let i = 0; i < 300; i++) {
      const f = `見積_${String(i).padStart(4, '0')}_${'x'.repeat(i % 17)}.txt`;
      writeFileSync(join(dir, f), `line ${i}\n`.repeat(1 + (i % 5)));
      many.push(f);
    }
    writeFileSync(join(dir, 'one.txt'), 'hello\n');
    make('plain-small.7z', [], ['one.txt']);
    make('enc-small.7z', ['-pSecret'], ['one.txt']);
    make('plain-many.7z', [], many);
    make('enc-many.7z', ['-pSecret'], many);
    make('enc-names.7z', ['-pSecret', '-mhe=on'], many);
    make('plain-uncompressed-header.7z', ['-mhc=off'], many);
    make('enc-uncompressed-header.7z', ['-pSecret', '-mhc=off'], many);
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('the file list is packed (kEncodedHeader) in the many-file archives, so the LZMA path is exercised', () => {
    for (const name of ['plain-many.7z', 'enc-many.7z']) {
      const b = archives.get(name)!;
      expect(b[32 + b.readUInt32LE(12)], name).toBe(0x17);
    }
  });

  it.each([
    ['plain-small.7z', 'clear'],
    ['plain-many.7z', 'clear'],
    ['plain-uncompressed-header.7z', 'clear'],
    ['enc-small.7z', 'encrypted'],
    ['enc-many.7z', 'encrypted'],
    ['enc-names.7z', 'encrypted'],
    ['enc-uncompressed-header.7z', 'encrypted'],
  ])('%s → %s', (name, state) => {
    expect(check7z(archives.get(name)!).state).toBe(state);
  });

  it('a damaged packed header is never "clear": every single-byte flip in it gives unknown or encrypted', () => {
    for (const name of ['plain-many.7z', 'enc-many.7z']) {
      const b = archives.get(name)!;
      const headerStart = 32 + b.readUInt32LE(12);
      // The packed header sits just before the encoded-header record; flip bytes across the file's tail.
      for (let i = Math.max(32, headerStart - 400); i < b.length; i += 3) {
        const copy = Buffer.from(b);
        copy[i] = copy[i]! ^ 0x5a;
        const state = check7z(copy).state;
        if (name === 'enc-many.7z') expect(state, `flip at ${i}`).not.toBe('clear');
        else expect(['clear', 'unknown', 'encrypted'], `flip at ${i}`).toContain(state);
      }
    }
  });

  it('ZIPs written by 7z with a password (ZipCrypto and AES-256) → encrypted-archive; without → Safe', async () => {
    make('zipcrypto.zip', ['-tzip', '-pSecret'], ['one.txt']);
    make('aes.zip', ['-tzip', '-pSecret', '-mem=AES256'], ['one.txt']);
    make('open.zip', ['-tzip'], ['one.txt']);
    const scanner = { version: async () => 'ClamAV 1.4.6', scan: async () => ({ status: 'clean' }) as const };
    const r = await inspectMessage(
      await message({ attachments: ['zipcrypto.zip', 'aes.zip', 'open.zip'].map((f) => ({ filename: f, content: archives.get(f)! })) }),
      { direction: 'outbound', clamd: scanner },
    );
    expect(r.parts.slice(1).map((p) => [p.name, p.verdict, p.findings.map((f) => f.code).join()])).toEqual([
      ['zipcrypto.zip', 'Unsupported', 'encrypted-archive'],
      ['aes.zip', 'Unsupported', 'encrypted-archive'],
      ['open.zip', 'Safe', ''],
    ]);
  });

  it('the engine: encrypted 7z → Unsupported encrypted-archive (PPAP); plain 7z → Safe', async () => {
    const scanner = { version: async () => 'ClamAV 1.4.6', scan: async () => ({ status: 'clean' }) as const };
    const r = await inspectMessage(
      await message({ attachments: [{ filename: 'a.7z', content: archives.get('enc-many.7z')! }, { filename: 'b.7z', content: archives.get('plain-many.7z')! }] }),
      { direction: 'outbound', clamd: scanner },
    );
    const a = r.parts.find((p) => p.name === 'a.7z')!;
    expect(a.findings.map((f) => f.code)).toEqual(['encrypted-archive']);
    expect(a.findings[0]!.message).toContain('PPAP');
    expect(r.parts.find((p) => p.name === 'b.7z')!.verdict).toBe('Safe');
  });
});
