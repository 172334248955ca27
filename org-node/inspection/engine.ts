import { createHash } from 'node:crypto';
import { MimeError, parseMessage, type MimeEntity } from '../../smime/mime';
import type { ClamdAddress } from './clamd-client';
import { ClamdError } from './clamd-client';
import { DEFAULT_LEAK_RULES, findLeaks, leakFindings } from './leak';
import {
  check7z,
  checkOle,
  checkPdf,
  checkRar,
  detectContainer,
  detectExecutable,
  executableLabel,
  type EncryptionCheck,
} from './magic';
import { extensionOf, findBidiControls, findDoubleExtension, hasExecutableExtension, visibleName } from './names';
import { clamdScanner, isScanner, isSizeLimit, scannerIsDown, splitVersion, type Scanner } from './scanner';
import {
  DEFAULT_LIMITS,
  type Direction,
  type Finding,
  type InspectionLimits,
  type InspectionReport,
  type LeakRules,
  type PartReport,
} from './types';
import { verdictOfFindings, worstVerdict } from './verdict';
import { listZip, readZipEntry, ZipEntryTooLarge, type ZipEntryInfo } from './zip';

/** Version of this engine's own rules (name checks, PPAP, leak rules); attested next to clamd's. */
export const INSPECTOR_VERSION = 'ssmax-inspection/1';

export interface InspectOptions {
  readonly direction: Direction;
  /** clamd's address (INSTREAM), or any Scanner (tests). */
  readonly clamd: ClamdAddress | Scanner;
  /** Outbound only; ignored for inbound mail. Defaults: DEFAULT_LEAK_RULES. */
  readonly leakRules?: LeakRules;
  readonly limits?: InspectionLimits;
  /**
   * Office documents with VBA macros (OOXML `vbaProject.bin`, OLE `_VBA_PROJECT`): 'unsupported'
   * (default: flagged, or held by policy), 'danger' (blocked), 'allow' (no finding).
   */
  readonly macros?: 'unsupported' | 'danger' | 'allow';
  /** Clock for `inspectedAt` (tests). */
  readonly now?: () => Date;
}

/** Extensions whose content is read as text for the leak rules (attachments and archive entries). */
const TEXT_EXTENSIONS = new Set(['txt', 'csv', 'tsv', 'json', 'xml', 'htm', 'html', 'md', 'log', 'eml', 'ics', 'vcf', 'rtf']);
/** Declared types that say "document or picture"; executable content under them is a disguise. */
const DOCUMENT_TYPES = /^(text|image|audio|video)\/|^application\/(pdf|msword|rtf|vnd\.)/;

const utf8 = new TextDecoder('utf-8', { fatal: true });
const sjis = new TextDecoder('shift_jis');

function decodeText(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    return sjis.decode(bytes);
  }
}

function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest());
}

function toHex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

function join(prefix: string | undefined, name: string): string {
  return prefix === undefined ? name : `${prefix}/${name}`;
}

/**
 * Inspects the decrypted, signed content entity of a message (SPEC §7). Never throws for anything
 * in the content or for scanner failures: those become verdicts (Error is never Safe). Throws only
 * for invalid options (RangeError).
 */
export async function inspectMessage(mime: Uint8Array, opts: InspectOptions): Promise<InspectionReport> {
  if (opts.direction !== 'outbound' && opts.direction !== 'inbound') throw new RangeError(`direction must be 'outbound' or 'inbound'`);
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const run = new Run(opts, limits);
  const versionInfo = await run.scannerVersion();
  const parts: PartReport[] = [];

  let root: MimeEntity | undefined;
  try {
    root = parseMessage(mime).root;
  } catch (err) {
    if (!(err instanceof MimeError)) throw err;
    parts.push(
      partReport('', 'body', '', 'application/octet-stream', mime, [
        { code: 'malformed-content', verdict: 'Error', message: `The message could not be read: ${err.userMessage}` },
      ]),
    );
  }

  if (root) {
    for (const entity of leaves(root)) parts.push(await run.inspectEntity(entity));
    if (opts.direction === 'outbound') {
      const subject = root.headers.getDecoded('subject');
      if (subject) {
        const matches = findLeaks(subject, run.leakRules);
        if (matches.length > 0) {
          const findings = leakFindings(matches, run.leakRules.action, 'Subject');
          parts.push(partReport('headers', 'headers', '', 'text/rfc822-headers', root.headerBytes(), findings));
        }
      }
    }
  }

  return {
    direction: opts.direction,
    verdict: worstVerdict(parts.map((p) => p.verdict)),
    engine: versionInfo.engine,
    signatureDb: versionInfo.signatureDb,
    inspector: INSPECTOR_VERSION,
    inspectedAt: (opts.now ?? (() => new Date()))(),
    parts,
  };
}

/** The leaves a reader sees: multipart children, forwarded messages' parts; not the S/MIME signature parts. */
function* leaves(e: MimeEntity): Generator<MimeEntity> {
  if (e.isMultipart) {
    const signed = e.contentType.subtype === 'signed';
    for (const [i, child] of e.children.entries()) {
      if (signed && i === 1 && /^application\/(x-)?pkcs7-signature$/.test(child.mediaType)) continue;
      yield* leaves(child);
    }
  } else if (e.message) {
    yield* leaves(e.message);
  } else {
    yield e;
  }
}

function partReport(
  path: string,
  kind: PartReport['kind'],
  name: string,
  contentType: string,
  bytes: Uint8Array,
  findings: Finding[],
): PartReport {
  const digest = sha256(bytes);
  return {
    path,
    kind,
    name,
    contentType,
    size: bytes.byteLength,
    sha256: digest,
    sha256Hex: toHex(digest),
    verdict: verdictOfFindings(findings),
    findings: dedupe(findings),
  };
}

function dedupe(findings: Finding[]): Finding[] {
  const seen = new Set<string>();
  return findings.filter((f) => {
    const key = `${f.code}|${f.location ?? ''}|${f.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

class Run {
  readonly scanner: Scanner;
  readonly leakRules: Required<LeakRules>;
  readonly outbound: boolean;
  readonly macros: 'unsupported' | 'danger' | 'allow';
  /** Set once clamd is unreachable or silent: later parts are not tried again (no pile-up of timeouts). */
  private scannerDown: Finding | undefined;
  private expanded = 0;

  constructor(
    opts: InspectOptions,
    readonly limits: Required<InspectionLimits>,
  ) {
    this.scanner = isScanner(opts.clamd) ? opts.clamd : clamdScanner(opts.clamd, limits.clamdIdleTimeoutMs);
    this.leakRules = { ...DEFAULT_LEAK_RULES, ...opts.leakRules };
    this.outbound = opts.direction === 'outbound';
    this.macros = opts.macros ?? 'unsupported';
    if (!['unsupported', 'danger', 'allow'].includes(this.macros)) throw new RangeError(`macros must be 'unsupported', 'danger' or 'allow'`);
  }

  async scannerVersion(): Promise<{ engine: string; signatureDb: string }> {
    try {
      return splitVersion(await this.scanner.version());
    } catch (err) {
      this.scannerDown = scannerFailure(err);
      return { engine: 'ClamAV (unreachable)', signatureDb: 'unknown' };
    }
  }

  async inspectEntity(e: MimeEntity): Promise<PartReport> {
    const name = e.filename ?? '';
    const disposition = e.disposition?.value;
    const kind: PartReport['kind'] = name === '' && e.contentType.type === 'text' && disposition !== 'attachment' ? 'body' : 'attachment';
    let bytes: Buffer;
    try {
      bytes = e.body();
    } catch (err) {
      const why = err instanceof MimeError ? err.userMessage : String(err);
      return partReport(e.path, kind, name, e.mediaType, e.bodyBytes(), [
        { code: 'malformed-content', verdict: 'Error', message: `The part could not be decoded: ${why}` },
      ]);
    }
    const findings: Finding[] = [];
    findings.push(...(await this.scan(bytes, undefined)));
    findings.push(...(await this.inspectFile(name, e.mediaType, bytes, 0, undefined)));
    if (this.outbound) {
      if (name !== '') findings.push(...this.leaks(name, 'file name'));
      // Text the recipient reads: body text, and text attachments (by type or by extension).
      if (kind === 'body' || e.contentType.type === 'text' || TEXT_EXTENSIONS.has(extensionOf(name))) {
        const text = safeText(e, bytes);
        findings.push(...this.leaks(e.mediaType === 'text/html' ? htmlToText(text) : text, undefined));
      }
    }
    if (/^application\/(x-)?pkcs7-mime$/.test(e.mediaType) && /enveloped/i.test(e.contentType.params['smime-type'] ?? '')) {
      findings.push({ code: 'encrypted-document', verdict: 'Unsupported', message: 'An encrypted S/MIME message is attached; its content cannot be inspected.' });
    }
    return partReport(e.path, kind, name, e.mediaType, bytes, findings);
  }

  private leaks(text: string, location: string | undefined): Finding[] {
    const limited = text.length > this.limits.maxLeakScanChars ? text.slice(0, this.limits.maxLeakScanChars) : text;
    return leakFindings(findLeaks(limited, this.leakRules), this.leakRules.action, location);
  }

  private async scan(bytes: Uint8Array, location: string | undefined): Promise<Finding[]> {
    const loc = location === undefined ? {} : { location };
    // Once clamd is down the part already carries the Error; entries inside it add nothing new.
    if (this.scannerDown) return location === undefined ? [this.scannerDown] : [];
    try {
      const v = await this.scanner.scan(bytes);
      if (v.status === 'clean') return [];
      return [{ code: 'malware', verdict: 'Danger', signature: v.signature, message: `Malware found: ${v.signature}.`, ...loc }];
    } catch (err) {
      if (isSizeLimit(err)) {
        return [{ code: 'too-large-to-scan', verdict: 'Unsupported', message: 'Larger than the virus scanner accepts; not scanned.', ...loc }];
      }
      const f = scannerFailure(err);
      if (scannerIsDown(err)) this.scannerDown = f;
      return [{ ...f, ...loc }];
    }
  }

  /**
   * Checks of one file (an attachment, depth 0, or an archive entry): its name, its content versus
   * its name, encryption, and — for ZIPs within the depth limit — every entry.
   */
  private async inspectFile(name: string, declaredType: string, bytes: Uint8Array, depth: number, location: string | undefined): Promise<Finding[]> {
    const loc = location === undefined ? {} : { location };
    const findings: Finding[] = [];
    if (name !== '') {
      const bidi = findBidiControls(name);
      if (bidi) {
        findings.push({
          code: 'bidi-control-in-name',
          verdict: 'Danger',
          message: `The file name "${visibleName(name)}" contains ${bidi.characters.join(', ')}, which disguises how it is displayed.`,
          ...loc,
        });
      }
      const dbl = findDoubleExtension(name);
      if (dbl) {
        findings.push({
          code: 'double-extension',
          verdict: 'Danger',
          message: `The file name "${visibleName(name)}" poses as .${dbl.decoy} but is a .${dbl.real} file.`,
          ...loc,
        });
      }
    }
    const exe = detectExecutable(bytes);
    if (exe) {
      const disguised = name !== '' ? !hasExecutableExtension(name) : DOCUMENT_TYPES.test(declaredType);
      if (disguised) {
        const claimed = name !== '' ? (extensionOf(name) ? `named .${extensionOf(name)}` : 'named without an extension') : `declared as ${declaredType}`;
        findings.push({
          code: 'disguised-executable',
          verdict: 'Danger',
          message: `The content is a ${executableLabel(exe)}, ${claimed}${name ? ` ("${visibleName(name)}")` : ''}.`,
          ...loc,
        });
      }
    }
    const container = detectContainer(bytes);
    const fromCheck = (c: EncryptionCheck, encryptedCode: 'encrypted-archive' | 'encrypted-document'): void => {
      if (c.state === 'encrypted') {
        findings.push({
          code: encryptedCode,
          verdict: 'Unsupported',
          message: encryptedCode === 'encrypted-archive' ? `Password-protected archive (PPAP): ${c.what}; its content cannot be inspected.` : `${capitalise(c.what)}; its content cannot be inspected.`,
          ...loc,
        });
      } else if (c.state === 'unknown') {
        findings.push({ code: 'archive-not-inspectable', verdict: 'Unsupported', message: `The archive could not be inspected: ${c.why}.`, ...loc });
      }
    };
    switch (container) {
      case 'zip':
        if (depth >= this.limits.maxArchiveDepth) {
          findings.push({
            code: 'archive-too-deep',
            verdict: 'Unsupported',
            message: `Archives are nested more than ${this.limits.maxArchiveDepth} levels deep; the inner ones were not opened.`,
            ...loc,
          });
        } else {
          findings.push(...(await this.inspectZip(bytes, depth + 1, location)));
        }
        break;
      case '7z':
        fromCheck(check7z(bytes), 'encrypted-archive');
        break;
      case 'rar':
        fromCheck(checkRar(bytes), 'encrypted-archive');
        break;
      case 'pdf':
        fromCheck(checkPdf(bytes), 'encrypted-document');
        break;
      case 'ole':
        fromCheck(checkOle(bytes), 'encrypted-document');
        if (hasOleMacros(bytes)) findings.push(...this.macroFinding(loc));
        break;
      default:
        break;
    }
    return findings;
  }

  private async inspectZip(bytes: Uint8Array, level: number, location: string | undefined): Promise<Finding[]> {
    const loc = location === undefined ? {} : { location };
    const findings: Finding[] = [];
    let listing;
    try {
      listing = await listZip(bytes, this.limits.maxArchiveEntries);
    } catch (err) {
      return [{ code: 'archive-not-inspectable', verdict: 'Unsupported', message: `The ZIP archive could not be read (${errorText(err)}).`, ...loc }];
    }
    try {
      const files = listing.entries.filter((e) => !e.isDirectory);
      const encrypted = files.filter((e) => e.encrypted);
      if (encrypted.length > 0) {
        findings.push({
          code: 'encrypted-archive',
          verdict: 'Unsupported',
          message: `Password-protected ZIP (PPAP): ${encrypted.length} of ${files.length} files are encrypted and cannot be inspected.`,
          ...loc,
        });
      }
      if (listing.truncated) {
        findings.push({
          code: 'archive-too-large',
          verdict: 'Unsupported',
          message: `The ZIP archive has more than ${this.limits.maxArchiveEntries} entries; only the first were inspected.`,
          ...loc,
        });
      }
      if (files.some((e) => /(^|\/)vbaProject\.bin$/i.test(e.name))) findings.push(...this.macroFinding(loc));
      for (const entry of listing.entries) {
        const where = join(location, entry.name);
        // Names are checked for every entry, encrypted ones included (their names are in clear).
        findings.push(...(await this.inspectFile(entry.name, '', new Uint8Array(0), level, where)));
        if (this.outbound) findings.push(...this.leaks(entry.name, where));
        if (entry.isDirectory || entry.encrypted) continue;
        const content = await this.extract(listing.zip, entry, where);
        if ('finding' in content) {
          findings.push(content.finding);
          continue;
        }
        findings.push(...(await this.scan(content.bytes, where)));
        findings.push(...(await this.inspectFile(entry.name, '', content.bytes, level, where)).filter((f) => !isNameFinding(f)));
        if (this.outbound && TEXT_EXTENSIONS.has(extensionOf(entry.name))) findings.push(...this.leaks(decodeText(content.bytes), where));
      }
    } finally {
      listing.zip.close();
    }
    return findings;
  }

  private macroFinding(loc: { location?: string }): Finding[] {
    if (this.macros === 'allow') return [];
    return [
      {
        code: 'office-macros',
        verdict: this.macros === 'danger' ? 'Danger' : 'Unsupported',
        message: 'An Office document with VBA macros; macros are not inspected.',
        ...loc,
      },
    ];
  }

  private async extract(zip: Parameters<typeof readZipEntry>[0], entry: ZipEntryInfo, where: string): Promise<{ bytes: Buffer } | { finding: Finding }> {
    const tooLarge = (message: string): { finding: Finding } => ({ finding: { code: 'archive-too-large', verdict: 'Unsupported', message, location: where } });
    if (!entry.readable) {
      return { finding: { code: 'archive-not-inspectable', verdict: 'Unsupported', message: 'The entry uses a compression method that cannot be unpacked for inspection.', location: where } };
    }
    if (entry.uncompressedSize > this.limits.maxEntryBytes) return tooLarge(`The entry unpacks to ${entry.uncompressedSize} bytes, more than the ${this.limits.maxEntryBytes} inspected.`);
    if (entry.uncompressedSize > 1024 * 1024 && entry.uncompressedSize > this.limits.maxCompressionRatio * Math.max(1, entry.compressedSize)) {
      return tooLarge(`The entry is compressed more than ${this.limits.maxCompressionRatio}:1 (a ZIP bomb?); not unpacked.`);
    }
    if (this.expanded + entry.uncompressedSize > this.limits.maxExpandedBytes) {
      return tooLarge(`Archives in this message unpack to more than ${this.limits.maxExpandedBytes} bytes; the rest was not inspected.`);
    }
    try {
      const bytes = await readZipEntry(zip, entry, Math.min(this.limits.maxEntryBytes, this.limits.maxExpandedBytes - this.expanded));
      this.expanded += bytes.length;
      return { bytes };
    } catch (err) {
      if (err instanceof ZipEntryTooLarge) return tooLarge(`The entry unpacks to more than ${err.maxBytes} bytes; not inspected.`);
      return { finding: { code: 'archive-not-inspectable', verdict: 'Unsupported', message: `The entry could not be unpacked (${errorText(err)}).`, location: where } };
    }
  }
}

const VBA_PROJECT = Buffer.from('_VBA_PROJECT', 'utf16le');

/** OLE compound file (legacy .doc/.xls/.ppt) with a VBA project storage. */
function hasOleMacros(b: Uint8Array): boolean {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).indexOf(VBA_PROJECT) >= 0;
}

function isNameFinding(f: Finding): boolean {
  return f.code === 'bidi-control-in-name' || f.code === 'double-extension';
}

function safeText(e: MimeEntity, bytes: Buffer): string {
  try {
    return e.text();
  } catch {
    return decodeText(bytes);
  }
}

/** What a reader of HTML sees, roughly: tags become spaces, character references are decoded. */
export function htmlToText(html: string): string {
  const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };
  return html
    .replace(/<(script|style)\b[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (m, ref: string) => {
      if (ref[0] !== '#') return named[ref.toLowerCase()] ?? m;
      const cp = ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      return cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : m;
    });
}

function scannerFailure(err: unknown): Finding {
  if (err instanceof ClamdError) {
    return { code: scannerIsDown(err) ? 'scanner-unavailable' : 'scanner-error', verdict: 'Error', message: err.userMessage };
  }
  return { code: 'scanner-error', verdict: 'Error', message: `The virus scanner failed; the content was not scanned (${errorText(err)}).` };
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
