import { describe, expect, it } from 'vitest';
import { inspectMessage, type Scanner } from '../../../org-node/inspection';
import { VERDICTS } from '../../../smime/cms';
import { buildZip, message, oleBytes, pdfBytes, rar4Bytes, rar5Bytes, sevenZipBytes, SEVENZIP_ENCODED_AES_HEADER } from './fixtures';

// Damaged input never throws, never hangs: byte flips and truncations of a message carrying every
// container kind always give a report with valid verdicts (SPEC §9).

const scanner: Scanner = { version: async () => 'ClamAV 9.9.9', scan: async () => ({ status: 'clean' }) };

function prng(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 0x1_0000_0000;
  };
}

describe('inspection robustness', () => {
  it('byte flips in the attachments (decoded, so every container parser sees them) never throw', async () => {
    const rnd = prng(7);
    const base = {
      zip: buildZip([{ name: 'a.txt', content: 'hello '.repeat(50) }, { name: 'in.zip', content: buildZip([{ name: 'b.txt', content: 'x'.repeat(300) }]) }, { name: 'c.txt', content: 'enc', password: 'p' }]),
      '7z': sevenZipBytes(SEVENZIP_ENCODED_AES_HEADER),
      rar5: rar5Bytes({ encryptedFile: true }),
      rar4: rar4Bytes({}),
      pdf: pdfBytes({ encrypted: true }),
      ole: oleBytes(['Root Entry', 'EncryptedPackage']),
    };
    for (let round = 0; round < 60; round++) {
      const attachments = Object.entries(base).map(([name, bytes]) => {
        const copy = Buffer.from(bytes);
        const flips = 1 + Math.floor(rnd() * 4);
        for (let i = 0; i < flips; i++) copy[Math.floor(rnd() * copy.length)] = Math.floor(rnd() * 256);
        const cut = rnd() < 0.3 ? Math.floor(rnd() * copy.length) : copy.length;
        return { filename: `f.${name}`, content: copy.subarray(0, cut), contentType: 'application/octet-stream' };
      });
      const r = await inspectMessage(await message({ attachments }), { direction: 'outbound', clamd: scanner });
      expect(VERDICTS).toContain(r.verdict);
      expect(r.parts).toHaveLength(attachments.length + 1);
    }
  });

  it('flips and truncations of the MIME bytes themselves never throw', async () => {
    const rnd = prng(11);
    const mime = await message({ text: 'body 123456789018\n', attachments: [{ filename: 'a.zip', content: buildZip([{ name: 'a.txt', content: 'a' }]) }] });
    for (let round = 0; round < 150; round++) {
      const copy = Buffer.from(mime);
      for (let i = 0; i < 3; i++) copy[Math.floor(rnd() * copy.length)] = Math.floor(rnd() * 256);
      const r = await inspectMessage(copy.subarray(0, Math.floor(copy.length * (0.2 + 0.8 * rnd()))), { direction: 'outbound', clamd: scanner });
      expect(VERDICTS).toContain(r.verdict);
    }
  });
});
