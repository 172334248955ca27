import * as asn1js from 'asn1js';
import { ssmaxAttributeOid } from '../pki/oids';
import { encodeAttribute } from './attributes';
import { CmsFormatError } from './errors';

/**
 * The SSMAX signed attributes of an org countersignature (SPEC §4): the SMTP envelope the org
 * handled and its inspection attestation. ASN.1 module (also in cms/README.md):
 *
 *   SsmaxAttributes-2026 { 2.25.152943631635571085074647677147547873231 3 1 }
 *   DEFINITIONS EXPLICIT TAGS ::= BEGIN
 *     id-ssmax-smtpEnvelope          OBJECT IDENTIFIER ::= { ssmax-arc 2 1 }
 *     id-ssmax-inspectionAttestation OBJECT IDENTIFIER ::= { ssmax-arc 2 2 }
 *
 *     SmtpEnvelope ::= SEQUENCE {
 *       mailFrom  UTF8String,                          -- reverse-path without <>, "" for the null sender
 *       rcptTo    SEQUENCE SIZE (1..MAX) OF UTF8String }
 *
 *     InspectionAttestation ::= SEQUENCE {
 *       version      INTEGER { v1(1) },
 *       hop          Hop,
 *       verdict      Verdict,                         -- overall verdict of the message
 *       engine       UTF8String,                      -- e.g. "ClamAV 1.0.7"
 *       signatureDb  UTF8String,                      -- e.g. "daily.cvd 27450 2026-06-01"
 *       inspectedAt  GeneralizedTime,
 *       attachments  SEQUENCE OF AttachmentVerdict }
 *
 *     AttachmentVerdict ::= SEQUENCE {
 *       name     UTF8String,                          -- file name as in the MIME part ("" if none)
 *       sha256   OCTET STRING (SIZE (32)),            -- of the decoded attachment bytes
 *       verdict  Verdict,
 *       reason   UTF8String OPTIONAL }                -- why (signature name, "encrypted ZIP", ...)
 *
 *     Verdict ::= ENUMERATED { safe(0), danger(1), unsupported(2), error(3) }
 *     Hop ::= ENUMERATED { sendingOrg(0), receivingOrg(1), singleOrg(2) }
 *   END
 *
 * Each attribute has exactly one value. Schemas are asn1js so that decoding is checked against them.
 */

export const VERDICTS = ['Safe', 'Danger', 'Unsupported', 'Error'] as const;
export type Verdict = (typeof VERDICTS)[number];
export const HOPS = ['sending-org', 'receiving-org', 'single-org'] as const;
export type Hop = (typeof HOPS)[number];

export interface SmtpEnvelope {
  readonly mailFrom: string;
  readonly rcptTo: readonly string[];
}

export interface AttachmentVerdict {
  readonly name: string;
  readonly sha256: Uint8Array;
  readonly verdict: Verdict;
  readonly reason?: string;
}

export interface InspectionAttestation {
  readonly hop: Hop;
  readonly verdict: Verdict;
  readonly engine: string;
  readonly signatureDb: string;
  readonly inspectedAt: Date;
  readonly attachments: readonly AttachmentVerdict[];
}

/** A malformed SSMAX attribute (the countersignature may be cryptographically valid, but says nothing usable). */
export class SsmaxAttributeError extends CmsFormatError {}

const smtpEnvelopeSchema = new asn1js.Sequence({
  name: 'SmtpEnvelope',
  value: [new asn1js.Utf8String({ name: 'mailFrom' }), new asn1js.Sequence({ name: 'rcptTo' })],
});

const attachmentSchema = new asn1js.Sequence({
  name: 'AttachmentVerdict',
  value: [
    new asn1js.Utf8String({ name: 'name' }),
    new asn1js.OctetString({ name: 'sha256' }),
    new asn1js.Enumerated({ name: 'verdict' }),
    new asn1js.Utf8String({ name: 'reason', optional: true }),
  ],
});

const attestationSchema = new asn1js.Sequence({
  name: 'InspectionAttestation',
  value: [
    new asn1js.Integer({ name: 'version' }),
    new asn1js.Enumerated({ name: 'hop' }),
    new asn1js.Enumerated({ name: 'verdict' }),
    new asn1js.Utf8String({ name: 'engine' }),
    new asn1js.Utf8String({ name: 'signatureDb' }),
    new asn1js.GeneralizedTime({ name: 'inspectedAt' }),
    new asn1js.Sequence({ name: 'attachments' }),
  ],
});

function enumIndex<T extends readonly string[]>(list: T, value: T[number]): number {
  const i = list.indexOf(value);
  if (i < 0) throw new SsmaxAttributeError(`Unknown value ${String(value)}.`);
  return i;
}

export function encodeSmtpEnvelope(envelope: SmtpEnvelope): Uint8Array {
  if (envelope.rcptTo.length === 0) throw new SsmaxAttributeError('An SMTP envelope needs at least one recipient.');
  const value = new asn1js.Sequence({
    value: [new asn1js.Utf8String({ value: envelope.mailFrom }), new asn1js.Sequence({ value: envelope.rcptTo.map((r) => new asn1js.Utf8String({ value: r })) })],
  });
  return new Uint8Array(value.toBER(false));
}

export function encodeInspectionAttestation(a: InspectionAttestation): Uint8Array {
  const value = new asn1js.Sequence({
    value: [
      new asn1js.Integer({ value: 1 }),
      new asn1js.Enumerated({ value: enumIndex(HOPS, a.hop) }),
      new asn1js.Enumerated({ value: enumIndex(VERDICTS, a.verdict) }),
      new asn1js.Utf8String({ value: a.engine }),
      new asn1js.Utf8String({ value: a.signatureDb }),
      new asn1js.GeneralizedTime({ valueDate: new Date(Math.floor(a.inspectedAt.getTime() / 1000) * 1000) }),
      new asn1js.Sequence({
        value: a.attachments.map((att) => {
          if (att.sha256.length !== 32) throw new SsmaxAttributeError(`The SHA-256 of attachment "${att.name}" is not 32 bytes.`);
          return new asn1js.Sequence({
            value: [
              new asn1js.Utf8String({ value: att.name }),
              new asn1js.OctetString({ valueHex: att.sha256 }),
              new asn1js.Enumerated({ value: enumIndex(VERDICTS, att.verdict) }),
              ...(att.reason === undefined ? [] : [new asn1js.Utf8String({ value: att.reason })]),
            ],
          });
        }),
      }),
    ],
  });
  return new Uint8Array(value.toBER(false));
}

export const smtpEnvelopeAttribute = (e: SmtpEnvelope): Uint8Array => encodeAttribute(ssmaxAttributeOid.smtpEnvelope, encodeSmtpEnvelope(e));
export const inspectionAttestationAttribute = (a: InspectionAttestation): Uint8Array =>
  encodeAttribute(ssmaxAttributeOid.inspectionAttestation, encodeInspectionAttestation(a));

function parse(bytes: Uint8Array, schema: asn1js.Sequence, what: string): Record<string, asn1js.AsnType> {
  const asn = asn1js.fromBER(bytes, { maxNodes: 20_000, maxDepth: 16 });
  if (asn.offset === -1 || asn.offset !== bytes.byteLength) throw new SsmaxAttributeError(`Malformed ${what}.`, { detail: asn.result.error });
  const cmp = asn1js.compareSchema(asn.result, asn.result, schema);
  if (!cmp.verified) throw new SsmaxAttributeError(`Malformed ${what}.`, { detail: (cmp.result as { error?: string }).error });
  return cmp.result as unknown as Record<string, asn1js.AsnType>;
}

function field<T>(r: Record<string, asn1js.AsnType>, name: string, type: new (...args: never[]) => T): T {
  const v = r[name];
  if (!(v instanceof type)) throw new SsmaxAttributeError(`Malformed SSMAX attribute: field ${name}.`);
  return v;
}

function enumValue<T extends readonly string[]>(list: T, e: asn1js.Enumerated, what: string): T[number] {
  const n = e.valueBlock.valueDec;
  const v = list[n];
  if (v === undefined) throw new SsmaxAttributeError(`Unknown ${what} value ${n}.`);
  return v;
}

export function decodeSmtpEnvelope(bytes: Uint8Array): SmtpEnvelope {
  const r = parse(bytes, smtpEnvelopeSchema, 'SMTP envelope');
  const rcpt = field(r, 'rcptTo', asn1js.Sequence).valueBlock.value.map((v) => {
    if (!(v instanceof asn1js.Utf8String)) throw new SsmaxAttributeError('Malformed SMTP envelope: recipient is not a UTF8String.');
    return v.getValue();
  });
  if (rcpt.length === 0) throw new SsmaxAttributeError('Malformed SMTP envelope: no recipients.');
  return { mailFrom: field(r, 'mailFrom', asn1js.Utf8String).getValue(), rcptTo: rcpt };
}

export function decodeInspectionAttestation(bytes: Uint8Array): InspectionAttestation {
  const r = parse(bytes, attestationSchema, 'inspection attestation');
  if (field(r, 'version', asn1js.Integer).valueBlock.valueDec !== 1) throw new SsmaxAttributeError('Unknown inspection attestation version.');
  const attachments = field(r, 'attachments', asn1js.Sequence).valueBlock.value.map((item): AttachmentVerdict => {
    const cmp = asn1js.compareSchema(item, item, attachmentSchema);
    if (!cmp.verified) throw new SsmaxAttributeError('Malformed attachment verdict.');
    const a = cmp.result as unknown as Record<string, asn1js.AsnType>;
    const sha256 = new Uint8Array(field(a, 'sha256', asn1js.OctetString).valueBlock.valueHexView);
    if (sha256.length !== 32) throw new SsmaxAttributeError('Malformed attachment verdict: SHA-256 is not 32 bytes.');
    const reason = a.reason instanceof asn1js.Utf8String ? a.reason.getValue() : undefined;
    return {
      name: field(a, 'name', asn1js.Utf8String).getValue(),
      sha256,
      verdict: enumValue(VERDICTS, field(a, 'verdict', asn1js.Enumerated), 'verdict'),
      ...(reason === undefined ? {} : { reason }),
    };
  });
  return {
    hop: enumValue(HOPS, field(r, 'hop', asn1js.Enumerated), 'hop'),
    verdict: enumValue(VERDICTS, field(r, 'verdict', asn1js.Enumerated), 'verdict'),
    engine: field(r, 'engine', asn1js.Utf8String).getValue(),
    signatureDb: field(r, 'signatureDb', asn1js.Utf8String).getValue(),
    inspectedAt: field(r, 'inspectedAt', asn1js.GeneralizedTime).toDate(),
    attachments,
  };
}
