import { signData } from '../cms';
import type { Signer } from '../keys';

/**
 * The abuse-report wire format (SPEC §8), shared by the client (which builds member reports) and
 * the org node's abuse desk (which receives them). Pure: no I/O.
 *
 *   member report     {"format":"ssmax-abuse-report/1","reason":"…","message":"<base64 of the signed message>"}
 *                     CMS SignedData (DER, encapsulated), signed by the reporter's 9C card certificate;
 *   forwarded report  {"format":"ssmax-abuse-forward/1","reportId":"…","reporter":"…","reason":"…","message":"…"}
 *                     signed by the reporting org's org-signing key.
 */
export const REPORT_FORMAT = 'ssmax-abuse-report/1';
export const FORWARD_FORMAT = 'ssmax-abuse-forward/1';

/** The media type a report is POSTed with. */
export const REPORT_CONTENT_TYPE = 'application/pkcs7-mime; smime-type=signed-data';

export interface MemberReportContent {
  readonly format: typeof REPORT_FORMAT;
  readonly reason: string;
  /** Base64 of the complete signed message. */
  readonly message: string;
}

export interface CreateAbuseReportParams {
  /** The complete signed message, as the reporter holds it (after decryption). */
  readonly message: Uint8Array;
  readonly reason: string;
  /** The reporter's 9C (employee-signature) signer. */
  readonly signer: Signer;
  /** The reporter's org CA certificate (DER), carried so the desk can build the chain. */
  readonly orgCa: Uint8Array;
  readonly signingTime?: Date;
}

function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** Builds a member's report: a CMS SignedData (DER) over the JSON content, signed by the 9C card. */
export async function createAbuseReport(params: CreateAbuseReportParams): Promise<Uint8Array> {
  const content: MemberReportContent = { format: REPORT_FORMAT, reason: params.reason, message: toBase64(params.message) };
  return signData({
    content: new TextEncoder().encode(JSON.stringify(content)),
    signers: [params.signer],
    detached: false,
    certificates: [params.orgCa],
    ...(params.signingTime ? { signingTime: params.signingTime } : {}),
  });
}
