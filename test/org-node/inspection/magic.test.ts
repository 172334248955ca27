import { describe, expect, it } from 'vitest';
import { check7z, checkOle, checkPdf, checkRar, detectContainer, detectExecutable } from '../../../org-node/inspection/magic';
import {
  buildZip,
  elfBytes,
  machOBytes,
  oleBytes,
  pdfBytes,
  peBytes,
  rar4Bytes,
  rar5Bytes,
  sevenZipBytes,
  SEVENZIP_ENCODED_AES_HEADER,
  SEVENZIP_ENCODED_LZMA_HEADER,
  SEVENZIP_PLAIN_HEADER,
} from './fixtures';

describe('content detection', () => {
  it('executables', () => {
    expect(detectExecutable(peBytes())).toBe('pe');
    expect(detectExecutable(elfBytes())).toBe('elf');
    expect(detectExecutable(machOBytes())).toBe('mach-o');
    expect(detectExecutable(Buffer.from('#!/bin/sh\nrm -rf ~\n'))).toBe('script');
    expect(detectExecutable(Buffer.from([0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 2]))).toBe('mach-o');
    expect(detectExecutable(Buffer.from([0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 52]))).toBe('java-class');
    // "MZ" without a PE header (a text that happens to start with MZ) is not an executable.
    expect(detectExecutable(Buffer.from('MZ is the first word of this memo, which goes on for a while to pass 64 bytes.'))).toBeUndefined();
    expect(detectExecutable(pdfBytes())).toBeUndefined();
    expect(detectExecutable(new Uint8Array(0))).toBeUndefined();
  });

  it('containers', () => {
    expect(detectContainer(buildZip([{ name: 'a.txt', content: 'a' }]))).toBe('zip');
    expect(detectContainer(sevenZipBytes(SEVENZIP_PLAIN_HEADER))).toBe('7z');
    expect(detectContainer(rar5Bytes({}))).toBe('rar');
    expect(detectContainer(rar4Bytes({}))).toBe('rar');
    expect(detectContainer(pdfBytes())).toBe('pdf');
    expect(detectContainer(oleBytes(['WordDocument']))).toBe('ole');
    expect(detectContainer(Buffer.from('plain text'))).toBeUndefined();
  });

  // Real 7z archives (LZMA-packed headers, content-only encryption) are in sevenzip.int.test.ts.
  it('7z: AES coder in the encoded header → encrypted; undecodable packed header → unknown (never clear); plain header → clear', () => {
    expect(check7z(sevenZipBytes(SEVENZIP_ENCODED_AES_HEADER))).toEqual({ state: 'encrypted', what: 'encrypted 7z archive (file names encrypted)' });
    expect(check7z(sevenZipBytes(SEVENZIP_ENCODED_LZMA_HEADER)).state).toBe('unknown');
    expect(check7z(sevenZipBytes(SEVENZIP_PLAIN_HEADER)).state).toBe('clear');
    expect(check7z(sevenZipBytes(SEVENZIP_PLAIN_HEADER).subarray(0, 40)).state).toBe('unknown');
  });

  it('RAR 5 and RAR 4: encrypted files or headers → encrypted; plain → clear; truncated → unknown', () => {
    expect(checkRar(rar5Bytes({ encryptedFile: true }))).toEqual({ state: 'encrypted', what: 'encrypted RAR archive' });
    expect(checkRar(rar5Bytes({ encryptedHeaders: true })).state).toBe('encrypted');
    expect(checkRar(rar5Bytes({}))).toEqual({ state: 'clear' });
    expect(checkRar(rar5Bytes({}).subarray(0, 30)).state).toBe('unknown');
    expect(checkRar(rar4Bytes({ encryptedFile: true })).state).toBe('encrypted');
    expect(checkRar(rar4Bytes({ encryptedHeaders: true })).state).toBe('encrypted');
    expect(checkRar(rar4Bytes({}))).toEqual({ state: 'clear' });
  });

  it('PDF: /Encrypt in the trailer → encrypted; /EncryptMetadata alone is not', () => {
    expect(checkPdf(pdfBytes({ encrypted: true })).state).toBe('encrypted');
    expect(checkPdf(pdfBytes())).toEqual({ state: 'clear' });
    expect(checkPdf(Buffer.from('%PDF-1.7\n<< /EncryptMetadata false >>\n%%EOF'))).toEqual({ state: 'clear' });
  });

  it('Office: OLE with EncryptionInfo/EncryptedPackage → encrypted; a plain OLE document → clear', () => {
    expect(checkOle(oleBytes(['Root Entry', 'EncryptionInfo', 'EncryptedPackage'])).state).toBe('encrypted');
    expect(checkOle(oleBytes(['Root Entry', 'WordDocument', '1Table']))).toEqual({ state: 'clear' });
  });
});
