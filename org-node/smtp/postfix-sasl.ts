/**
 * Who submitted a message that reaches the node through Postfix's after-queue content filter.
 *
 * Postfix authenticates members (SASL) itself, and XFORWARD does not carry the login. With
 * `smtpd_sasl_authenticated_header = yes`, Postfix's smtpd writes the login into the Received field
 * it prepends, on a line of its own:
 *
 *     Received: from helo (host [192.0.2.1])
 *     	(using TLSv1.3 with cipher …)                ← only with smtpd_tls_received_header
 *     	(Authenticated sender: hanako@a.example)
 *     	by mail.a.example (Postfix) with ESMTPSA id 4XyZ…
 *
 * Only the first Received field counts: Postfix puts its own above every field the message brought
 * (which anyone can forge). Client-controlled text in it (HELO name, TLS client CN) stays on the first
 * line or inside the "(Client CN …)" line, never on a line that is exactly the Authenticated-sender
 * comment; two such lines are refused as ambiguous rather than guessed.
 */
export type PostfixSubmitter =
  | { readonly kind: 'authenticated'; readonly login: string }
  | { readonly kind: 'none' }
  | { readonly kind: 'ambiguous'; readonly reason: string };

const AUTH_LINE = /^[ \t]+\(Authenticated sender: ([^\s()]+)\)[ \t]*$/;

/** The header section's physical lines (without line ends), up to the empty line. */
function headerLines(raw: Buffer): string[] {
  const text = raw.subarray(0, Math.min(raw.length, 256 * 1024)).toString('latin1');
  const lines: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line === '') break;
    lines.push(line);
  }
  return lines;
}

export function postfixSubmitter(raw: Buffer): PostfixSubmitter {
  const lines = headerLines(raw);
  const start = lines.findIndex((l) => /^received[ \t]*:/i.test(l));
  if (start < 0) return { kind: 'none' };
  const field: string[] = [lines[start] ?? ''];
  for (let i = start + 1; i < lines.length && /^[ \t]/.test(lines[i] ?? ''); i++) field.push(lines[i] ?? '');
  const logins = field.slice(1).flatMap((l) => {
    const m = AUTH_LINE.exec(l);
    return m?.[1] ? [m[1]] : [];
  });
  if (logins.length > 1) return { kind: 'ambiguous', reason: `Postfix's Received field names ${logins.length} authenticated senders.` };
  const login = logins[0];
  return login ? { kind: 'authenticated', login: login.toLowerCase() } : { kind: 'none' };
}
