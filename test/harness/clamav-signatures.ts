import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The project's own ClamAV test signatures. The harness's clamd loads these and nothing else:
 * there is no internet and no official database, and tests must not depend on one.
 *
 * Format: extended signatures (.ndb), one per line `Name:TargetType:Offset:HexSignature`,
 * target type 0 (any file), offset `*` (anywhere).
 */

/** ClamAV appends this to the names of signatures that come from a non-official database. */
export const UNOFFICIAL_SUFFIX = '.UNOFFICIAL';

export const EICAR_SIGNATURE_NAME = 'SSMAX.Test.EICAR';
export const MARKER_SIGNATURE_NAME = 'SSMAX.Test.Marker';

/** A string that is harmless everywhere except to the project's clamd, which reports it as malware. */
export const MALWARE_MARKER = ['SSMAX', 'TEST', 'MALWARE', 'MARKER'].join('-');

/**
 * The 68-byte EICAR anti-virus test file. Assembled at run time so that this source file is not
 * itself a hit for a virus scanner on a developer's machine or in CI.
 */
export function eicarTestFile(): Buffer {
  const parts = ['X5O!P%@AP[4\\PZX54(P^)7CC)7}$', 'EICAR-STANDARD-', 'ANTIVIRUS-TEST-', 'FILE!$H+H*'];
  return Buffer.from(parts.join(''), 'latin1');
}

/** The name clamd reports for a signature from this database. */
export function reportedName(signatureName: string): string {
  return `${signatureName}${UNOFFICIAL_SUFFIX}`;
}

export function ndbDatabase(): string {
  const lines = [
    `${EICAR_SIGNATURE_NAME}:0:*:${eicarTestFile().toString('hex')}`,
    `${MARKER_SIGNATURE_NAME}:0:*:${Buffer.from(MALWARE_MARKER, 'latin1').toString('hex')}`,
  ];
  return `${lines.join('\n')}\n`;
}

/** Writes the database into `dir` (clamd's DatabaseDirectory) and returns the file path. */
export async function writeTestSignatureDatabase(dir: string): Promise<string> {
  const file = join(dir, 'ssmax-test.ndb');
  await writeFile(file, ndbDatabase(), 'latin1');
  return file;
}
