/**
 * Checks on file names (attachment names and names inside archives): bidirectional-text controls
 * such as RIGHT-TO-LEFT OVERRIDE, which make "invoice‮fdp.exe" display as "invoiceexe.pdf", and
 * double extensions such as "invoice.pdf.exe".
 */

/** Bidi formatting characters (Unicode UAX #9) that can reorder how a name is displayed. */
const BIDI_CONTROLS: ReadonlyMap<number, string> = new Map([
  [0x061c, 'ARABIC LETTER MARK'],
  [0x200e, 'LEFT-TO-RIGHT MARK'],
  [0x200f, 'RIGHT-TO-LEFT MARK'],
  [0x202a, 'LEFT-TO-RIGHT EMBEDDING'],
  [0x202b, 'RIGHT-TO-LEFT EMBEDDING'],
  [0x202c, 'POP DIRECTIONAL FORMATTING'],
  [0x202d, 'LEFT-TO-RIGHT OVERRIDE'],
  [0x202e, 'RIGHT-TO-LEFT OVERRIDE'],
  [0x2066, 'LEFT-TO-RIGHT ISOLATE'],
  [0x2067, 'RIGHT-TO-LEFT ISOLATE'],
  [0x2068, 'FIRST STRONG ISOLATE'],
  [0x2069, 'POP DIRECTIONAL ISOLATE'],
]);

/** Extensions Windows, macOS or Linux run (or open in an interpreter) on a double click. */
export const EXECUTABLE_EXTENSIONS: ReadonlySet<string> = new Set([
  'exe', 'com', 'scr', 'pif', 'cpl', 'dll', 'sys', 'drv', 'ocx', 'msi', 'msp', 'mst', 'msc', 'appx', 'msix',
  'bat', 'cmd', 'js', 'jse', 'vbs', 'vbe', 'wsf', 'wsh', 'ws', 'wsc', 'hta', 'ps1', 'psm1', 'psd1',
  'lnk', 'url', 'scf', 'reg', 'inf', 'jar', 'class', 'application', 'gadget', 'chm',
  'sh', 'bash', 'zsh', 'csh', 'ksh', 'command', 'tool', 'app', 'pkg', 'dmg', 'run', 'bin', 'elf', 'out',
  'so', 'dylib', 'py', 'pyw', 'pl', 'rb', 'php', 'apk', 'deb', 'rpm', 'iqy', 'slk', 'xll', 'xlam', 'ppam',
]);

/** Extensions a decoy name pretends to be (documents, images, media, archives, text). */
const DECOY_EXTENSIONS: ReadonlySet<string> = new Set([
  'pdf', 'doc', 'docx', 'docm', 'xls', 'xlsx', 'xlsm', 'ppt', 'pptx', 'pptm', 'rtf', 'odt', 'ods', 'odp',
  'txt', 'csv', 'htm', 'html', 'xml', 'jpg', 'jpeg', 'png', 'gif', 'bmp', 'tif', 'tiff', 'svg', 'heic',
  'mp3', 'mp4', 'wav', 'avi', 'mov', 'wmv', 'zip', '7z', 'rar', 'lzh', 'gz', 'tar', 'jtd', 'hwp', 'eml', 'msg', 'ics', 'vcf',
]);

export interface BidiFinding {
  /** e.g. "U+202E RIGHT-TO-LEFT OVERRIDE" */
  readonly characters: readonly string[];
}

export function findBidiControls(name: string): BidiFinding | undefined {
  const found = new Set<string>();
  for (const ch of name) {
    const cp = ch.codePointAt(0)!;
    const what = BIDI_CONTROLS.get(cp);
    if (what) found.add(`U+${cp.toString(16).toUpperCase().padStart(4, '0')} ${what}`);
  }
  return found.size === 0 ? undefined : { characters: [...found] };
}

/** Name segments after the base name, lower case, trimmed; Windows drops trailing dots and spaces. */
function extensions(name: string): string[] {
  const base = name.split(/[/\\]/).pop() ?? name;
  const trimmed = base.replace(/[\s.]+$/u, '');
  const segments = trimmed.split('.').map((s) => s.trim().toLowerCase());
  return segments.slice(1);
}

/** The last extension (lower case, no dot), '' when none. */
export function extensionOf(name: string): string {
  return extensions(name).at(-1) ?? '';
}

export function hasExecutableExtension(name: string): boolean {
  return EXECUTABLE_EXTENSIONS.has(extensionOf(name));
}

/** "invoice.pdf.exe" → { decoy: 'pdf', real: 'exe' }; undefined when the name is not a disguise. */
export function findDoubleExtension(name: string): { decoy: string; real: string } | undefined {
  const ext = extensions(name);
  const real = ext.at(-1);
  const decoy = ext.at(-2);
  if (real === undefined || decoy === undefined) return undefined;
  if (!EXECUTABLE_EXTENSIONS.has(real) || !DECOY_EXTENSIONS.has(decoy)) return undefined;
  return { decoy, real };
}

/** For messages: the name with bidi controls made visible, so a log or bounce shows what it is. */
export function visibleName(name: string): string {
  let out = '';
  for (const ch of name) {
    const cp = ch.codePointAt(0)!;
    out += BIDI_CONTROLS.has(cp) || cp < 0x20 || cp === 0x7f ? `<U+${cp.toString(16).toUpperCase().padStart(4, '0')}>` : ch;
  }
  return out;
}
