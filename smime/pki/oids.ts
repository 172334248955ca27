/**
 * The SSMAX object identifiers, defined once here.
 *
 * SSMAX owns the arc 2.25.152943631635571085074647677147547873231, the integer form of the UUID
 * 730fdf3b-327c-4fe6-87b4-ea63c5c2afcf (ITU-T X.667: any UUID gives an OID under 2.25 without
 * registration). Under it:
 *   .1       certificate policies — a certificate is accepted only in the role its policy names
 *     .1.1   ssmax-root                 the SSMAX authority's root CA
 *     .1.2   org-ca                     an organisation's CA (issued by the root)
 *     .1.3   org-signing                the org key that makes counter-signatures
 *     .1.4   org-encryption             "the org public key" mail is encrypted to
 *     .1.5   employee-signature         staff card slot 9C
 *     .1.6   employee-key-management    staff card slot 9D
 *   .2       CMS attributes carried in SSMAX org countersignatures (see cms/README.md)
 *     .2.1   smtp-envelope              the SMTP envelope the org handled
 *     .2.2   inspection-attestation     the org's inspection verdicts
 *   .3       ASN.1 modules
 *     .3.1   SsmaxAttributes-2026
 * Never renumber: these values are in issued certificates and signed mail.
 */
export const SSMAX_ARC = '2.25.152943631635571085074647677147547873231';

export const CERTIFICATE_ROLES = [
  'ssmax-root',
  'org-ca',
  'org-signing',
  'org-encryption',
  'employee-signature',
  'employee-key-management',
] as const;
export type CertificateRole = (typeof CERTIFICATE_ROLES)[number];

export const ssmaxPolicyOid: Readonly<Record<CertificateRole, string>> = {
  'ssmax-root': `${SSMAX_ARC}.1.1`,
  'org-ca': `${SSMAX_ARC}.1.2`,
  'org-signing': `${SSMAX_ARC}.1.3`,
  'org-encryption': `${SSMAX_ARC}.1.4`,
  'employee-signature': `${SSMAX_ARC}.1.5`,
  'employee-key-management': `${SSMAX_ARC}.1.6`,
};

export const ssmaxAttributeOid = {
  smtpEnvelope: `${SSMAX_ARC}.2.1`,
  inspectionAttestation: `${SSMAX_ARC}.2.2`,
} as const;

export const ssmaxModuleOid = `${SSMAX_ARC}.3.1`;

/**
 * Dotted decimal form of an OID string as asn1js 4 renders it. asn1js decodes sub-identifiers of
 * more than 8 base-128 octets (our 128-bit UUID arc) as "hex only" and prints them as
 * `{hex of the 7-bit groups}` — e.g. `2.25.{01660f…}.1.3` — and so does every library built on it
 * (PKI.js, @peculiar/asn1-schema, @peculiar/x509 when parsing). Normalise before comparing.
 */
export function normaliseOid(text: string): string {
  const decodeGroups = (hex: string): bigint => {
    let value = 0n;
    for (let i = 0; i + 1 < hex.length; i += 2) value = (value << 7n) | BigInt(parseInt(hex.slice(i, i + 2), 16) & 0x7f);
    return value;
  };
  // First sub-identifier too big: "2.{{hex} - 80}".
  const first = /^2\.\{\{([0-9a-fA-F]+)\} - 80\}/.exec(text);
  let out = first ? `2.${decodeGroups(first[1] ?? '') - 80n}${text.slice(first[0].length)}` : text;
  out = out.replace(/\{([0-9a-fA-F]+)\}/g, (_m, hex: string) => decodeGroups(hex).toString());
  return out;
}

/** The role a policy OID names, or undefined when it is not an SSMAX role policy. */
export function roleOfPolicy(oid: string): CertificateRole | undefined {
  const dotted = normaliseOid(oid);
  return CERTIFICATE_ROLES.find((role) => ssmaxPolicyOid[role] === dotted);
}
