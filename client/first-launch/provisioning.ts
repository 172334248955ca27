import { z } from 'zod';

/**
 * The provisioning file IT hands out with the installer (or drops next to it): who the user is and
 * where their org is, so that first launch needs no typing. JSON, validated here; everything but
 * the address is optional. It never carries trust by itself: the org bundle it points to must still
 * verify to the SSMAX root, and extra trust anchors only *replace* the built-in SSMAX root when IT
 * ships another authority's root (they are SSMAX roots, not TLS CAs).
 *
 * ```json
 * {
 *   "format": "ssmax-provisioning/1",
 *   "address": "hanako@example.jp",
 *   "orgDomain": "example.jp",
 *   "bundleUrl": "https://ssmax.example.jp/.well-known/ssmax/bundle.p7s",
 *   "tlsCaPem": "-----BEGIN CERTIFICATE-----…",
 *   "imap": { "host": "imap.example.jp", "port": 993, "security": "tls" },
 *   "smtp": { "host": "smtp.example.jp", "port": 587 },
 *   "trustAnchorsPem": ["-----BEGIN CERTIFICATE-----…"]
 * }
 * ```
 */
export const PROVISIONING_FORMAT = 'ssmax-provisioning/1';

const host = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[A-Za-z0-9.-]+$|^\[[0-9a-fA-F:.]+\]$/, 'a host name');
const port = z.number().int().min(1).max(65535);
const pem = z.string().min(1).max(100_000).regex(/-----BEGIN CERTIFICATE-----/, 'a PEM certificate');
const domain = z
  .string()
  .min(3)
  .max(253)
  .regex(/^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/, 'a mail domain');

export const provisioningSchema = z
  .object({
    format: z.literal(PROVISIONING_FORMAT),
    /** The user's mail address; its domain is the org domain unless `orgDomain` says otherwise. */
    address: z.string().min(3).max(320).regex(/^[^\s@]+@[^\s@]+$/, 'a mail address'),
    orgDomain: domain.optional(),
    /** Overrides `https://ssmax.<domain>/.well-known/ssmax/bundle.p7s` (HTTPS only). */
    bundleUrl: z
      .string()
      .url()
      .max(2000)
      .refine((u) => u.startsWith('https://'), 'an https:// URL')
      .optional(),
    /** A CA for the TLS connection to the bundle host (a private CA); trust in the bundle still comes from the SSMAX root. */
    tlsCaPem: pem.optional(),
    imap: z
      .object({ host, port, security: z.enum(['tls', 'starttls']) })
      .strict()
      .optional(),
    smtp: z
      .object({ host, port })
      .strict()
      .optional(),
    /** SSMAX roots that replace the built-in one (e.g. a national authority's root). */
    trustAnchorsPem: z.array(pem).min(1).max(10).optional(),
  })
  .strict();

export type Provisioning = z.infer<typeof provisioningSchema>;

export class ProvisioningInvalid extends Error {
  constructor(
    message: string,
    readonly issues: string[],
  ) {
    super(message);
    this.name = 'ProvisioningInvalid';
  }
}

/** Parses and validates a provisioning file's text; a clear error naming the fields otherwise. */
export function parseProvisioning(text: string): Provisioning {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ProvisioningInvalid('The provisioning file is not JSON.', []);
  }
  const r = provisioningSchema.safeParse(json);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`);
    throw new ProvisioningInvalid(`The provisioning file is not valid: ${issues.join('; ')}`, issues);
  }
  return r.data;
}

/** The org domain of a provisioning file: `orgDomain`, else the address's domain (lower case). */
export function orgDomainOf(p: Pick<Provisioning, 'address' | 'orgDomain'>): string {
  return (p.orgDomain ?? p.address.slice(p.address.lastIndexOf('@') + 1)).toLowerCase();
}

/** All certificates of a PEM text, DER. */
export function certificatesFromPem(text: string): Uint8Array[] {
  return [...text.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)].map(
    (m) => new Uint8Array(Buffer.from((m[1] ?? '').replace(/\s+/g, ''), 'base64')),
  );
}
