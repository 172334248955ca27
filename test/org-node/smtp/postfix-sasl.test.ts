import { describe, expect, it } from 'vitest';
import { postfixSubmitter } from '../../../org-node/smtp/postfix-sasl';

const msg = (...headerLines: string[]): Buffer => Buffer.from(`${headerLines.join('\r\n')}\r\n\r\nbody (Authenticated sender: x@a.example)\r\n`);
const by = '\tby mail.a.example (Postfix) with ESMTPSA id 4XyZ1; Sun,  6 Dec 2026 21:00:00 +0000 (UTC)';

describe("the submitter named by Postfix's Received field", () => {
  it('reads the login from the Authenticated-sender line of the first Received field (lower-cased), with or without TLS lines', () => {
    expect(postfixSubmitter(msg('Received: from pc (localhost [127.0.0.1])', '\t(Authenticated sender: Carol@A.example)', by, 'From: hanako@a.example'))).toEqual({ kind: 'authenticated', login: 'carol@a.example' });
    expect(
      postfixSubmitter(msg('Received: from pc (localhost [127.0.0.1])', '\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)', '\t key-exchange X25519 server-signature ECDSA (P-256))', '\t(No client certificate requested)', '\t(Authenticated sender: hanako@a.example)', by)),
    ).toEqual({ kind: 'authenticated', login: 'hanako@a.example' });
    // LF-only line ends (a filter may see either).
    expect(postfixSubmitter(Buffer.from('Received: from pc (localhost [127.0.0.1])\n\t(Authenticated sender: hanako@a.example)\n' + by + '\n\nbody\n'))).toEqual({ kind: 'authenticated', login: 'hanako@a.example' });
  });

  it('no login: unauthenticated mail, and every forgery the client controls', () => {
    // Postfix's own field without the comment; a forged one further down does not count.
    expect(postfixSubmitter(msg('Received: from mx.b.example (mx.b.example [192.0.2.7])', by, 'Received: from x (y [1.2.3.4])', '\t(Authenticated sender: hanako@a.example)', '\tby z (Postfix)'))).toEqual({ kind: 'none' });
    // A HELO name carrying the comment stays on the first line.
    expect(postfixSubmitter(msg('Received: from x (Authenticated sender: hanako@a.example) (localhost [127.0.0.1])', by))).toEqual({ kind: 'none' });
    // A TLS client CN carrying it stays inside the "(Client CN" line.
    expect(postfixSubmitter(msg('Received: from pc (localhost [127.0.0.1])', '\t(Client CN "x) (Authenticated sender: hanako@a.example", Issuer "y" (not verified))', by))).toEqual({ kind: 'none' });
    // Not a header at all (in the body), and no Received field.
    expect(postfixSubmitter(msg('From: hanako@a.example', 'Subject: x'))).toEqual({ kind: 'none' });
    expect(postfixSubmitter(Buffer.alloc(0))).toEqual({ kind: 'none' });
  });

  it('two Authenticated-sender lines in the field are refused as ambiguous, not guessed', () => {
    const r = postfixSubmitter(msg('Received: from pc (localhost [127.0.0.1])', '\t(Authenticated sender: carol@a.example)', '\t(Authenticated sender: hanako@a.example)', by));
    expect(r.kind).toBe('ambiguous');
  });
});
