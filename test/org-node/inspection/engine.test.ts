import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ClamdConnectionError, ClamdSizeLimitError, ClamdTimeoutError } from '../../../org-node/inspection/clamd-client';
import { inspectMessage, splitVersion, type InspectOptions, type InspectionReport, type PartReport, type Scanner } from '../../../org-node/inspection';
import { htmlToText } from '../../../org-node/inspection/engine';
import { buildRfc822Part } from '../../../smime/mime';
import {
  buildZip,
  elfBytes,
  message,
  oleBytes,
  pdfBytes,
  peBytes,
  rar5Bytes,
  sevenZipBytes,
  SEVENZIP_ENCODED_LZMA_HEADER,
} from './fixtures';

// The engine with a fake scanner: deterministic, no clamd. The real clamd runs in engine.int.test.ts.

const FAKE_MALWARE = 'FAKE-MALWARE-FOR-UNIT-TESTS';

class FakeScanner implements Scanner {
  scans = 0;
  versionCalls = 0;
  constructor(private readonly behaviour: { version?: () => Promise<string>; scan?: (b: Buffer, n: number) => Promise<'clean' | 'found'> } = {}) {}
  async version(): Promise<string> {
    this.versionCalls++;
    return this.behaviour.version ? this.behaviour.version() : 'ClamAV 9.9.9/12345/Mon Nov 23 00:00:00 2026';
  }
  async scan(bytes: Uint8Array) {
    this.scans++;
    const b = Buffer.from(bytes);
    const r = this.behaviour.scan ? await this.behaviour.scan(b, this.scans) : b.includes(FAKE_MALWARE) ? 'found' : 'clean';
    return r === 'found' ? ({ status: 'found', signature: 'Fake.Test.UNOFFICIAL' } as const) : ({ status: 'clean' } as const);
  }
}

function opts(over: Partial<InspectOptions> = {}): InspectOptions {
  return { direction: 'outbound', clamd: new FakeScanner(), now: () => new Date('2026-11-23T18:00:00Z'), ...over };
}

function part(r: InspectionReport, name: string): PartReport {
  const p = r.parts.find((x) => x.name === name);
  if (!p) throw new Error(`no part ${name}: ${r.parts.map((x) => x.name).join(', ')}`);
  return p;
}

function codes(p: PartReport): string[] {
  return p.findings.map((f) => f.code);
}

describe('splitVersion', () => {
  it('engine and database from clamd VERSION', () => {
    expect(splitVersion('ClamAV 1.0.7/27450/Thu Nov 19 08:00:00 2026')).toEqual({ engine: 'ClamAV 1.0.7', signatureDb: '27450/Thu Nov 19 08:00:00 2026' });
    expect(splitVersion('ClamAV 1.4.6')).toEqual({ engine: 'ClamAV 1.4.6', signatureDb: 'unversioned' });
  });
});

describe('inspectMessage (fake scanner)', () => {
  it('a clean message with a PDF: Safe; body and attachment listed with SHA-256 of the decoded bytes; engine and DB from VERSION', async () => {
    const pdf = pdfBytes();
    const r = await inspectMessage(await message({ attachments: [{ filename: 'report.pdf', content: pdf }] }), opts());
    expect(r.verdict).toBe('Safe');
    expect(r.engine).toBe('ClamAV 9.9.9');
    expect(r.signatureDb).toBe('12345/Mon Nov 23 00:00:00 2026');
    expect(r.inspector).toBe('ssmax-inspection/1');
    expect(r.inspectedAt.toISOString()).toBe('2026-11-23T18:00:00.000Z');
    expect(r.parts.map((p) => [p.kind, p.name, p.verdict])).toEqual([
      ['body', '', 'Safe'],
      ['attachment', 'report.pdf', 'Safe'],
    ]);
    const a = part(r, 'report.pdf');
    expect(a.sha256Hex).toBe(createHash('sha256').update(pdf).digest('hex'));
    expect(Buffer.from(a.sha256).toString('hex')).toBe(a.sha256Hex);
    expect(a.size).toBe(pdf.length);
    expect(a.contentType).toBe('application/pdf');
  });

  it('malware in an attachment → Danger with the signature name', async () => {
    const r = await inspectMessage(await message({ attachments: [{ filename: 'a.txt', content: Buffer.from(`x ${FAKE_MALWARE} y`) }] }), opts());
    expect(r.verdict).toBe('Danger');
    expect(part(r, 'a.txt').findings).toEqual([{ code: 'malware', verdict: 'Danger', signature: 'Fake.Test.UNOFFICIAL', message: 'Malware found: Fake.Test.UNOFFICIAL.' }]);
  });

  it('malware deflated inside a ZIP inside a ZIP is found by scanning the entries, with its location', async () => {
    const inner = buildZip([{ name: 'evil.txt', content: `${FAKE_MALWARE}\n`.repeat(10) }]);
    const outer = buildZip([{ name: 'readme.txt', content: 'hello' }, { name: 'inner.zip', content: inner }]);
    expect(outer.includes(FAKE_MALWARE)).toBe(false); // not visible without unpacking
    const r = await inspectMessage(await message({ attachments: [{ filename: 'docs.zip', content: outer }] }), opts());
    expect(r.verdict).toBe('Danger');
    expect(part(r, 'docs.zip').findings).toEqual([expect.objectContaining({ code: 'malware', location: 'inner.zip/evil.txt' })]);
  });

  it('password-protected ZIP (ZipCrypto as zip -P, and AES) → Unsupported encrypted-archive; names inside are still checked', async () => {
    const zipcrypto = buildZip([{ name: 'a.xlsx', content: 'secret', password: 'pw' }, { name: 'b.txt', content: 'open' }]);
    const aes = buildZip([{ name: 'a.xlsx', content: 'secret', aes: true }]);
    const disguised = buildZip([{ name: 'invoice.pdf.exe', content: 'MZ', password: 'pw' }]);
    const r = await inspectMessage(
      await message({ attachments: [{ filename: 'zc.zip', content: zipcrypto }, { filename: 'aes.zip', content: aes }, { filename: 'bad.zip', content: disguised }] }),
      opts(),
    );
    expect(part(r, 'zc.zip').verdict).toBe('Unsupported');
    expect(part(r, 'zc.zip').findings[0]).toMatchObject({ code: 'encrypted-archive', message: expect.stringContaining('PPAP') as string });
    expect(part(r, 'zc.zip').findings[0]!.message).toContain('1 of 2 files');
    expect(codes(part(r, 'aes.zip'))).toEqual(['encrypted-archive']);
    expect(part(r, 'bad.zip').verdict).toBe('Danger');
    expect(codes(part(r, 'bad.zip')).sort()).toEqual(['double-extension', 'encrypted-archive']);
    expect(r.verdict).toBe('Danger');
  });

  it('ZIP entry names in Shift_JIS (Japanese Windows, no UTF-8 flag) are decoded for the checks and the report', async () => {
    // 請求書.pdf.exe in Shift_JIS: 90 BF 8B 81 8F 91 then ".pdf.exe"
    const sjisName = Buffer.concat([Buffer.from([0x90, 0xbf, 0x8b, 0x81, 0x8f, 0x91]), Buffer.from('.pdf.exe')]);
    const zip = buildZip([{ name: 'unused', rawName: sjisName, content: 'x' }, { name: '見積書.txt', content: 'utf-8 flagged' }]);
    const r = await inspectMessage(await message({ attachments: [{ filename: 'files.zip', content: zip }] }), opts());
    expect(part(r, 'files.zip').findings).toEqual([expect.objectContaining({ code: 'double-extension', location: '請求書.pdf.exe' })]);
  });

  it('archives nested deeper than the limit → Unsupported archive-too-deep', async () => {
    let z = buildZip([{ name: 'core.txt', content: 'x' }]);
    for (let i = 0; i < 3; i++) z = buildZip([{ name: `level${i}.zip`, content: z }]);
    const r = await inspectMessage(await message({ attachments: [{ filename: 'deep.zip', content: z }] }), opts({ limits: { maxArchiveDepth: 2 } }));
    expect(part(r, 'deep.zip').findings).toEqual([expect.objectContaining({ code: 'archive-too-deep', verdict: 'Unsupported', location: 'level2.zip/level1.zip' })]);
    const ok = await inspectMessage(await message({ attachments: [{ filename: 'deep.zip', content: z }] }), opts({ limits: { maxArchiveDepth: 4 } }));
    expect(ok.verdict).toBe('Safe');
  });

  it('too large, a ZIP bomb and a lying size → Unsupported, never Safe', async () => {
    const big = buildZip([{ name: 'big.bin', content: Buffer.alloc(4096, 1) }]);
    const r1 = await inspectMessage(await message({ attachments: [{ filename: 'big.zip', content: big }] }), opts({ limits: { maxEntryBytes: 1000 } }));
    expect(codes(part(r1, 'big.zip'))).toEqual(['archive-too-large']);
    const bomb = buildZip([{ name: 'zeros.bin', content: Buffer.alloc(4 * 1024 * 1024) }]);
    const r2 = await inspectMessage(await message({ attachments: [{ filename: 'bomb.zip', content: bomb }] }), opts());
    expect(part(r2, 'bomb.zip').findings[0]).toMatchObject({ code: 'archive-too-large', message: expect.stringContaining('ZIP bomb') as string });
    const liar = buildZip([{ name: 'a.txt', content: 'x'.repeat(5000), declaredSize: 10 }]);
    const r3 = await inspectMessage(await message({ attachments: [{ filename: 'liar.zip', content: liar }] }), opts());
    expect(part(r3, 'liar.zip').verdict).toBe('Unsupported');
    const many = buildZip(Array.from({ length: 12 }, (_, i) => ({ name: `f${i}.txt`, content: 'x' })));
    const r4 = await inspectMessage(await message({ attachments: [{ filename: 'many.zip', content: many }] }), opts({ limits: { maxArchiveEntries: 10 } }));
    expect(codes(part(r4, 'many.zip'))).toEqual(['archive-too-large']);
    const broken = Buffer.concat([Buffer.from('PK\x03\x04', 'latin1'), Buffer.alloc(100)]);
    const r5 = await inspectMessage(await message({ attachments: [{ filename: 'broken.zip', content: broken }] }), opts());
    expect(codes(part(r5, 'broken.zip'))).toEqual(['archive-not-inspectable']);
  });

  it('executables disguised as documents → Danger; an honest .exe is left to the virus scanner', async () => {
    const r = await inspectMessage(
      await message({
        attachments: [
          { filename: 'invoice.pdf', content: peBytes() },
          { filename: 'photo.jpg', content: elfBytes() },
          { filename: 'notes.docx', content: Buffer.from('#!/bin/sh\necho hi\n') },
          { filename: 'setup.exe', content: peBytes() },
          { filename: 'inside.zip', content: buildZip([{ name: 'scan.pdf', content: peBytes() }]) },
        ],
      }),
      opts(),
    );
    expect(part(r, 'invoice.pdf').findings).toEqual([
      expect.objectContaining({ code: 'disguised-executable', message: 'The content is a Windows executable (PE), named .pdf ("invoice.pdf").' }),
    ]);
    expect(codes(part(r, 'photo.jpg'))).toEqual(['disguised-executable']);
    expect(codes(part(r, 'notes.docx'))).toEqual(['disguised-executable']);
    expect(part(r, 'setup.exe').verdict).toBe('Safe');
    expect(part(r, 'inside.zip').findings).toEqual([expect.objectContaining({ code: 'disguised-executable', location: 'scan.pdf' })]);
  });

  it('RTLO and double extension in attachment names → Danger, names shown with the control made visible', async () => {
    const rtlo = 'invoice\u202Efdp.exe';
    const r = await inspectMessage(
      await message({ attachments: [{ filename: rtlo, content: Buffer.from('x') }, { filename: 'invoice.pdf.exe', content: Buffer.from('y') }] }),
      opts(),
    );
    expect(part(r, rtlo).findings).toEqual([expect.objectContaining({ code: 'bidi-control-in-name', verdict: 'Danger' })]);
    expect(part(r, rtlo).findings[0]!.message).toContain('invoice<U+202E>fdp.exe');
    expect(codes(part(r, 'invoice.pdf.exe'))).toEqual(['double-extension']);
  });

  it('encrypted PDF, Office, RAR and a damaged 7z → Unsupported; clear ones Safe', async () => {
    const r = await inspectMessage(
      await message({
        attachments: [
          { filename: 'locked.pdf', content: pdfBytes({ encrypted: true }) },
          { filename: 'locked.xlsx', content: oleBytes(['Root Entry', 'EncryptionInfo', 'EncryptedPackage']) },
          { filename: 'locked.rar', content: rar5Bytes({ encryptedFile: true }) },
          { filename: 'packed.7z', content: sevenZipBytes(SEVENZIP_ENCODED_LZMA_HEADER) },
          { filename: 'open.rar', content: rar5Bytes({}) },
          { filename: 'old.doc', content: oleBytes(['Root Entry', 'WordDocument']) },
        ],
      }),
      opts(),
    );
    expect(codes(part(r, 'locked.pdf'))).toEqual(['encrypted-document']);
    expect(codes(part(r, 'locked.xlsx'))).toEqual(['encrypted-document']);
    expect(codes(part(r, 'locked.rar'))).toEqual(['encrypted-archive']);
    expect(codes(part(r, 'packed.7z'))).toEqual(['archive-not-inspectable']);
    expect(part(r, 'open.rar').verdict).toBe('Safe');
    expect(part(r, 'old.doc').verdict).toBe('Safe');
    expect(r.verdict).toBe('Unsupported');
  });

  it('Office macros: OOXML vbaProject.bin and OLE _VBA_PROJECT → Unsupported by default, Danger or nothing when configured', async () => {
    const docm = buildZip([{ name: '[Content_Types].xml', content: '<Types/>' }, { name: 'word/vbaProject.bin', content: 'vba' }, { name: 'word/document.xml', content: '<w:document/>' }]);
    const docx = buildZip([{ name: '[Content_Types].xml', content: '<Types/>' }, { name: 'word/document.xml', content: '<w:document/>' }]);
    const xls = oleBytes(['Root Entry', 'Workbook', '_VBA_PROJECT_CUR', 'VBA', '_VBA_PROJECT']);
    const mime = await message({
      attachments: [
        { filename: 'order.docm', content: docm },
        { filename: 'plain.docx', content: docx },
        { filename: 'book.xls', content: xls },
      ],
    });
    const r = await inspectMessage(mime, opts());
    expect(part(r, 'order.docm').findings).toEqual([expect.objectContaining({ code: 'office-macros', verdict: 'Unsupported' })]);
    expect(part(r, 'plain.docx').verdict).toBe('Safe');
    expect(codes(part(r, 'book.xls'))).toEqual(['office-macros']);
    const strict = await inspectMessage(mime, opts({ macros: 'danger' }));
    expect(part(strict, 'order.docm').verdict).toBe('Danger');
    const lax = await inspectMessage(mime, opts({ macros: 'allow' }));
    expect(lax.verdict).toBe('Safe');
  });

  describe('leak rules', () => {
    const myNumber = '123456789018';
    const card = '4111111111111111';

    it('outbound: My Number and card number in the text → Danger, masked', async () => {
      const mime = await message({ text: `マイナンバー: ${myNumber}\nカード: ${card}\n` });
      const r = await inspectMessage(mime, opts());
      expect(r.verdict).toBe('Danger');
      const body = r.parts[0]!;
      expect(body.kind).toBe('body');
      expect(codes(body)).toEqual(['leak-my-number', 'leak-card-number']);
      expect(body.findings[0]!.message).toContain('********9018');
      expect(JSON.stringify(r)).not.toContain(myNumber);
      expect(JSON.stringify(r)).not.toContain(card);
    });

    it('inbound: the same text is not a leak', async () => {
      const mime = await message({ text: `マイナンバー: ${myNumber}\nカード: ${card}\n` });
      const r = await inspectMessage(mime, opts({ direction: 'inbound' }));
      expect(r.verdict).toBe('Safe');
    });

    it('labels in the subject, in file names, CSV attachments and text inside ZIPs; action hold is carried', async () => {
      const zip = buildZip([{ name: 'list.csv', content: `name,number\nTaro,${myNumber}\n` }]);
      const r = await inspectMessage(
        await message({
          subject: '【社外秘】予算',
          attachments: [
            { filename: 'cards.csv', content: Buffer.from(`id,card\n1,${card}\n`) },
            { filename: '極秘_計画.pptx', content: Buffer.from('x') },
            { filename: 'data.zip', content: zip },
          ],
        }),
        opts({ leakRules: { action: 'hold' } }),
      );
      expect(part(r, 'cards.csv').findings).toEqual([expect.objectContaining({ code: 'leak-card-number', action: 'hold' })]);
      expect(part(r, '極秘_計画.pptx').findings).toEqual([expect.objectContaining({ code: 'leak-confidential-label', rule: 'label:極秘' })]);
      expect(part(r, 'data.zip').findings).toEqual([expect.objectContaining({ code: 'leak-my-number', location: 'list.csv' })]);
      const headers = r.parts.find((p) => p.kind === 'headers');
      expect(headers?.findings).toEqual([expect.objectContaining({ code: 'leak-confidential-label', location: 'Subject' })]);
    });

    it('HTML bodies: numbers written with character references or split by tags are found', async () => {
      const html = '<p>番号: &#49;&#x32;34<b>5678</b>9018</p><p>&#67;ONFIDENTIAL</p>';
      const mime = Buffer.from(`Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n${html}\r\n`);
      const r = await inspectMessage(mime, opts());
      expect(r.parts[0]!.findings.map((f) => f.code)).toEqual(['leak-my-number', 'leak-confidential-label']);
      expect(htmlToText('a&amp;b&nbsp;<i>c</i>&#x1F600;&bogus;')).toBe('a&b  c 😀&bogus;');
    });

    it('configurable labels', async () => {
      const mime = await message({ text: 'この資料は取扱注意です。CONFIDENTIAL\n' });
      const r = await inspectMessage(mime, opts({ leakRules: { labels: ['取扱注意'] } }));
      expect(r.parts[0]!.findings.map((f) => f.rule)).toEqual(['label:取扱注意']);
    });
  });

  describe('scanner failures are Error, never Safe', () => {
    it('clamd unreachable: every part Error, engine marked unreachable, no scan attempted', async () => {
      const scanner = new FakeScanner({ version: () => Promise.reject(new ClamdConnectionError('127.0.0.1:1', 'ECONNREFUSED')) });
      const r = await inspectMessage(await message({ attachments: [{ filename: 'a.pdf', content: pdfBytes() }] }), opts({ clamd: scanner }));
      expect(r.verdict).toBe('Error');
      expect(r.engine).toBe('ClamAV (unreachable)');
      expect(r.signatureDb).toBe('unknown');
      expect(r.parts.every((p) => p.verdict === 'Error' && p.findings[0]?.code === 'scanner-unavailable')).toBe(true);
      expect(scanner.scans).toBe(0);
    });

    it('a timeout during a scan: that part and the later ones Error, clamd not asked again', async () => {
      const scanner = new FakeScanner({ scan: (_b, n) => (n === 2 ? Promise.reject(new ClamdTimeoutError('127.0.0.1:1', 100)) : Promise.resolve('clean')) });
      const r = await inspectMessage(
        await message({ attachments: [{ filename: 'a.pdf', content: pdfBytes() }, { filename: 'b.pdf', content: pdfBytes() }] }),
        opts({ clamd: scanner }),
      );
      expect(r.parts.map((p) => p.verdict)).toEqual(['Safe', 'Error', 'Error']);
      expect(scanner.scans).toBe(2);
      expect(r.verdict).toBe('Error');
    });

    it('Danger still wins over Error (a disguised name with clamd down)', async () => {
      const scanner = new FakeScanner({ version: () => Promise.reject(new ClamdConnectionError('x', 'down')) });
      const r = await inspectMessage(await message({ attachments: [{ filename: 'invoice.pdf.exe', content: Buffer.from('x') }] }), opts({ clamd: scanner }));
      expect(r.verdict).toBe('Danger');
      expect(codes(part(r, 'invoice.pdf.exe')).sort()).toEqual(['double-extension', 'scanner-unavailable']);
    });

    it('over clamd StreamMaxLength → Unsupported too-large-to-scan', async () => {
      const scanner = new FakeScanner({ scan: (b) => (b.length > 1000 ? Promise.reject(new ClamdSizeLimitError('x', 1000, undefined)) : Promise.resolve('clean')) });
      const r = await inspectMessage(await message({ attachments: [{ filename: 'big.pdf', content: pdfBytes({ text: 'x'.repeat(5000) }) }] }), opts({ clamd: scanner }));
      expect(codes(part(r, 'big.pdf'))).toEqual(['too-large-to-scan']);
      expect(r.verdict).toBe('Unsupported');
    });
  });

  describe('structure', () => {
    it('forwarded messages are inspected; the S/MIME signature part of multipart/signed is not listed', async () => {
      const inner = await message({ attachments: [{ filename: 'invoice.pdf.exe', content: Buffer.from('x') }] });
      const fwd = buildRfc822Part(inner);
      const mime = Buffer.concat([
        Buffer.from('Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256; boundary="s"\r\n\r\n--s\r\n'),
        Buffer.from('Content-Type: multipart/mixed; boundary="m"\r\n\r\n--m\r\nContent-Type: text/plain\r\n\r\nsee below\r\n--m\r\n'),
        fwd,
        Buffer.from('\r\n--m--\r\n\r\n--s\r\nContent-Type: application/pkcs7-signature; name="smime.p7s"\r\nContent-Transfer-Encoding: base64\r\n\r\nMIIB\r\n--s--\r\n'),
      ]);
      const r = await inspectMessage(mime, opts());
      expect(r.parts.map((p) => p.name)).toEqual(['', '', 'invoice.pdf.exe']);
      expect(r.parts.map((p) => p.path)).toEqual(['1.1', '1.2.msg.1', '1.2.msg.2']);
      expect(r.verdict).toBe('Danger');
    });

    it('an undecodable part → Error malformed-content; an unreadable message → one Error part', async () => {
      const bad = Buffer.from(
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: application/pdf; name="a.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!\r\n--b--\r\n',
      );
      const r = await inspectMessage(bad, opts());
      expect(part(r, 'a.pdf').findings).toEqual([expect.objectContaining({ code: 'malformed-content', verdict: 'Error' })]);
      const huge = Buffer.from(`X-Big: ${'a'.repeat(300 * 1024)}\r\n\r\nbody\r\n`);
      const r2 = await inspectMessage(huge, opts());
      expect(r2.verdict).toBe('Error');
      expect(r2.parts).toHaveLength(1);
      expect(r2.parts[0]!.findings[0]!.code).toBe('malformed-content');
    });

    it('an encrypted S/MIME message attached → Unsupported', async () => {
      const mime = Buffer.from(
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: application/pkcs7-mime; smime-type=authEnveloped-data; name="smime.p7m"\r\nContent-Transfer-Encoding: base64\r\n\r\nMIIBAA==\r\n--b--\r\n',
      );
      const r = await inspectMessage(mime, opts());
      expect(codes(part(r, 'smime.p7m'))).toEqual(['encrypted-document']);
    });

    it('refuses an invalid direction', async () => {
      await expect(inspectMessage(Buffer.from('x'), opts({ direction: 'sideways' as 'inbound' }))).rejects.toBeInstanceOf(RangeError);
    });
  });
});
