import { OrgNodeError } from './errors';

/** PEM (RFC 7468) in and out: what IT hands around as files. */

export function toPem(der: Uint8Array | ArrayBuffer, label: string): string {
  const b64 = Buffer.from(der instanceof ArrayBuffer ? new Uint8Array(der) : der).toString('base64');
  return `-----BEGIN ${label}-----\n${b64.match(/.{1,64}/g)!.join('\n')}\n-----END ${label}-----\n`;
}

/** Reads the first PEM block with one of the labels, or takes the bytes as DER when they are not PEM. */
export function fromPem(input: Uint8Array | string, labels: readonly string[]): Uint8Array {
  const text = typeof input === 'string' ? input : Buffer.from(input).toString('latin1');
  const match = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/.exec(text);
  if (!match) {
    if (typeof input !== 'string' && input[0] === 0x30) return input;
    throw new OrgNodeError(`Expected a PEM ${labels[0]} (or DER).`);
  }
  if (!labels.includes(match[1] ?? '')) throw new OrgNodeError(`Expected a PEM ${labels.join(' or ')}, found ${match[1]}.`);
  return new Uint8Array(Buffer.from((match[2] ?? '').replace(/\s+/g, ''), 'base64'));
}

/** All certificates of a PEM bundle, in order. */
export function certificatesFromPem(text: string): Uint8Array[] {
  return [...text.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)].map((m) => new Uint8Array(Buffer.from((m[1] ?? '').replace(/\s+/g, ''), 'base64')));
}
