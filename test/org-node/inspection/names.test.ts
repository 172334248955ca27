import { describe, expect, it } from 'vitest';
import { extensionOf, findBidiControls, findDoubleExtension, hasExecutableExtension, visibleName } from '../../../org-node/inspection/names';

describe('file name checks', () => {
  it('finds RIGHT-TO-LEFT OVERRIDE and the other bidi controls', () => {
    expect(findBidiControls('invoice\u202Efdp.exe')?.characters).toEqual(['U+202E RIGHT-TO-LEFT OVERRIDE']);
    for (const cp of [0x061c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x2066, 0x2067, 0x2068, 0x2069]) {
      expect(findBidiControls(`a${String.fromCodePoint(cp)}b.txt`), cp.toString(16)).toBeDefined();
    }
    expect(findBidiControls('請求書_2026年11月.pdf')).toBeUndefined();
    expect(findBidiControls('تقرير.pdf')).toBeUndefined(); // right-to-left letters are fine; controls are not
  });

  it('double extensions: decoy document + executable', () => {
    expect(findDoubleExtension('invoice.pdf.exe')).toEqual({ decoy: 'pdf', real: 'exe' });
    expect(findDoubleExtension('Invoice.PDF.Exe')).toEqual({ decoy: 'pdf', real: 'exe' });
    expect(findDoubleExtension('photo.jpg      .scr')).toEqual({ decoy: 'jpg', real: 'scr' });
    expect(findDoubleExtension('見積書.docx.js...')).toEqual({ decoy: 'docx', real: 'js' });
    expect(findDoubleExtension('report.2026.exe')).toBeUndefined();
    expect(findDoubleExtension('archive.tar.gz')).toBeUndefined();
    expect(findDoubleExtension('setup.exe')).toBeUndefined();
    expect(findDoubleExtension('minutes.v2.pdf')).toBeUndefined();
  });

  it('extensions', () => {
    expect(extensionOf('a/b/c.PDF')).toBe('pdf');
    expect(extensionOf('README')).toBe('');
    expect(hasExecutableExtension('tool.EXE')).toBe(true);
    expect(hasExecutableExtension('doc.pdf')).toBe(false);
  });

  it('visibleName shows control characters as code points', () => {
    expect(visibleName('invoice\u202Efdp.exe')).toBe('invoice<U+202E>fdp.exe');
  });
});
