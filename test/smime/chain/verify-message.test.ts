/**
 * verifyMessage over a generated SSMAX world: the positive chains (internal one hop, two orgs,
 * forward, ordinary S/MIME → signed) and every attack of issue 3, each with its reason code.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { readSignedData, signData } from '../../../smime/cms';
import { verifyMessage, type ChainReasonCode, type MessageVerification, type VerifyMessageOptions } from '../../../smime/chain';
import { SoftwareSigner } from '../../../smime/keys';
import { buildMultipartSigned, buildPkcs7Mime, buildProtectedPayload } from '../../../smime/mime';
import { replaceSignerInfos, withUnsignedAttributes } from '../cms/tamper';
import { fixture } from '../mime/helpers';
import { inspectionAttestationAttribute } from '../../../smime/cms/ssmax-attributes';
import { T, addLinks, attestation, buildMail, buildWorld, caDer, decryptorOf, headersFor, receivingOrg, sendingOrg, signerOf, wrap, type World } from './world';

let w: World;
beforeAll(async () => {
  w = await buildWorld();
}, 120_000);

const A = (): string => w.a.employee.email; // hanako@a.example
const B = (): string => w.b.employee.email; // hanako@b.example

function opts(extra: Partial<VerifyMessageOptions> = {}): VerifyMessageOptions {
  return { trustAnchors: [w.rootPem], at: T.at, ownOrgDomains: ['b.example'], recipient: B(), crls: [w.crlA], decryptors: [decryptorOf(w.b.employee.keyManagement)], ...extra };
}

function codes(r: MessageVerification): ChainReasonCode[] {
  return r.reasons.map((x) => x.code);
}

/** ① a.example employee → ② A Corp → ③ B Corp, encrypted to the recipient's 9D. */
async function twoOrgMail(extra: Partial<Parameters<typeof buildMail>[0]> = {}) {
  return buildMail({
    headers: headersFor(A(), B()),
    signer: signerOf(w.a.employee.signature),
    signerCaDer: caDer(w.a),
    links: [sendingOrg(w.a), receivingOrg(w.b, B())],
    encryptTo: w.b.employee.keyManagement.der,
    ...extra,
  });
}

function expectFailed(r: MessageVerification, code: ChainReasonCode): void {
  expect(r.state).toBe('failed');
  expect(codes(r)).toContain(code);
}

describe('positive chains', () => {
  it('two-org chain ① ② ③, encrypted to the recipient: verified, link by link', async () => {
    const { wire, entity } = await twoOrgMail();
    const r = await verifyMessage(wire, opts());
    expect(r.reasons).toEqual([]);
    expect(r.state).toBe('verified');
    expect(r.links.map((l) => [l.role, l.status])).toEqual([
      ['sender', 'valid'],
      ['sending-org', 'valid'],
      ['receiving-org', 'valid'],
    ]);
    const [sender, sending, receiving] = r.links;
    expect(sender?.email).toBe(A());
    expect(sender?.staffId).toBe('S-0042');
    expect(sender?.orgName).toBe('A Corp');
    expect(sender?.path.map((p) => p.ssmaxRole)).toEqual(['employee-signature', 'org-ca', 'ssmax-root']);
    expect(sender?.path[0]?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(sending?.domains).toEqual(['a.example']);
    expect(sending?.attestation?.verdict).toBe('Safe');
    expect(receiving?.envelope?.rcptTo).toEqual([B()]);
    expect(r.displayedFrom?.address).toBe(A());
    expect(r.content?.encrypted).toBe(true);
    expect(Buffer.from(r.content!.bytes).equals(entity)).toBe(true);
    expect(r.headers.find((h) => h.name === 'Subject')).toMatchObject({ status: 'differs', declaredBySender: true });
    expect(r.partiallySigned).toBe(false);
    expect(r.external).toBe(false);
  });

  it('internal mail: one single-org countersignature stands for ② and ③', async () => {
    const colleague = 'ichiro@a.example';
    const { wire } = await buildMail({
      headers: headersFor(A(), colleague),
      signer: signerOf(w.a.employee.signature),
      signerCaDer: caDer(w.a),
      links: [{ ...sendingOrg(w.a, T.sendingOrg, 'single-org'), envelope: { mailFrom: A(), rcptTo: [colleague] } }],
    });
    const r = await verifyMessage(wire, opts({ ownOrgDomains: ['a.example'], recipient: colleague, decryptors: [] }));
    expect(r.reasons).toEqual([]);
    expect(r.state).toBe('verified');
    expect(r.links.map((l) => l.role)).toEqual(['sender', 'single-org']);
  });

  it('without a receiving-org link the same chain is only signed (chain-incomplete)', async () => {
    const { wire } = await buildMail({ headers: headersFor(A(), B()), signer: signerOf(w.a.employee.signature), signerCaDer: caDer(w.a), links: [sendingOrg(w.a)] });
    const r = await verifyMessage(wire, opts());
    expect(r.state).toBe('signed');
    expect(codes(r)).toEqual(['chain-incomplete']);
  });

  it('forward: ④ ⑤ ⑥ around the original with its own chain ① ② ③, both verified and reported', async () => {
    // The original a → b, as the forwarder (hanako@b.example) holds it after decryption: signed, chain complete.
    const original = await buildMail({ headers: headersFor(A(), B()), signer: signerOf(w.a.employee.signature), signerCaDer: caDer(w.a), links: [sendingOrg(w.a), receivingOrg(w.b, B())] });
    const finalRecipient = 'ichiro@a.example';
    const fwd = await buildMail({
      headers: headersFor(B(), finalRecipient, 'Fwd: 見積書'),
      content: { text: 'FYI\n', forwards: [{ message: original.wire }] },
      signer: signerOf(w.b.employee.signature),
      signerCaDer: caDer(w.b),
      signingTime: new Date('2026-06-01T09:10:00Z'),
      links: [sendingOrg(w.b, new Date('2026-06-01T09:11:00Z')), receivingOrg(w.a, finalRecipient, new Date('2026-06-01T09:12:00Z'))],
    });
    const r = await verifyMessage(fwd.wire, opts({ ownOrgDomains: ['a.example'], recipient: finalRecipient }));
    expect(r.reasons).toEqual([]);
    expect(r.state).toBe('verified');
    expect(r.links.map((l) => l.role)).toEqual(['forwarder', 'forwarder-org', 'receiving-org']);
    expect(r.forwards).toHaveLength(1);
    const inner = r.forwards[0]!;
    expect(inner.reasons).toEqual([]);
    expect(inner.state).toBe('verified');
    expect(inner.links.map((l) => [l.role, l.email ?? l.domains.join()])).toEqual([
      ['sender', A()],
      ['sending-org', 'a.example'],
      ['receiving-org', 'b.example'],
    ]);
  });

  it('forward of an encrypted original: carried decrypted inside an encrypted forward, its hp=cipher agrees with how it travelled (no header warning); inside a forward in the clear it does not', async () => {
    // The original a → b was encrypted (hp=cipher); the forwarder attaches it as the card decrypted it.
    const original = await buildMail({ headers: headersFor(A(), B()), signer: signerOf(w.a.employee.signature), signerCaDer: caDer(w.a), links: [sendingOrg(w.a), receivingOrg(w.b, B())], encryptTo: w.b.employee.keyManagement.der });
    const decrypted = buildMultipartSigned({ signedPart: original.entity, signature: original.cms, digest: 'SHA-256' });
    const finalRecipient = 'ichiro@a.example';
    const forward = (encryptTo?: Uint8Array) =>
      buildMail({
        headers: headersFor(B(), finalRecipient, 'Fwd: 見積書'),
        content: { text: 'FYI\n', forwards: [{ message: decrypted }] },
        signer: signerOf(w.b.employee.signature),
        signerCaDer: caDer(w.b),
        signingTime: new Date('2026-06-01T09:10:00Z'),
        links: [sendingOrg(w.b, new Date('2026-06-01T09:11:00Z')), receivingOrg(w.a, finalRecipient, new Date('2026-06-01T09:12:00Z'))],
        ...(encryptTo ? { encryptTo } : {}),
      });
    const sealed = await verifyMessage((await forward(w.b.employee.keyManagement.der)).wire, opts({ ownOrgDomains: ['a.example'], recipient: finalRecipient }));
    expect(sealed.state).toBe('verified');
    expect(sealed.warnings).toEqual([]);
    expect(sealed.forwards[0]?.state).toBe('verified');
    expect(sealed.forwards[0]?.warnings).toEqual([]);
    const clear = await verifyMessage((await forward()).wire, opts({ ownOrgDomains: ['a.example'], recipient: finalRecipient }));
    expect(clear.forwards[0]?.state).toBe('verified');
    expect(clear.forwards[0]?.warnings.map((x) => x.code)).toEqual(['header-mismatch']);
  });

  it('forward of an unsigned mail: the forward is verified, the inner message is unsigned (warning)', async () => {
    const original = Buffer.from(`From: outsider@gmail.example\r\nTo: ${B()}\r\nSubject: hi\r\nContent-Type: text/plain\r\n\r\nhello\r\n`);
    const fwd = await buildMail({
      headers: headersFor(B(), 'ichiro@a.example', 'Fwd: hi'),
      content: { text: 'FYI\n', forwards: [{ message: original }] },
      signer: signerOf(w.b.employee.signature),
      signerCaDer: caDer(w.b),
      links: [sendingOrg(w.b), receivingOrg(w.a, 'ichiro@a.example')],
    });
    const r = await verifyMessage(fwd.wire, opts({ ownOrgDomains: ['a.example'], recipient: 'ichiro@a.example' }));
    expect(r.state).toBe('verified');
    expect(r.forwards.map((f) => f.state)).toEqual(['unsigned']);
    expect(r.warnings.map((x) => x.code)).toContain('forward-not-verified');
  });

  it('ordinary S/MIME (RFC 9216 Alice, LAMPS CA as anchor) is signed, not verified', async () => {
    const key = fixture('rfc9216/alice.sign.key').toString('latin1');
    const cert = fixture('rfc9216/alice.sign.crt').toString('latin1');
    const { entity, outerHeaders } = await buildProtectedPayload(headersFor('alice@smime.example', 'bob@smime.example'), { text: 'hello\n' }, 'clear');
    const cms = await signData({ content: entity, signers: [new SoftwareSigner(key, cert)], detached: true, signingTime: T.signed });
    const wire = buildMultipartSigned({ signedPart: entity, signature: cms, digest: 'SHA-256', headers: outerHeaders });
    const r = await verifyMessage(wire, { trustAnchors: [fixture('rfc9216/ca.rsa.crt')], at: T.at });
    expect(r.state).toBe('signed');
    expect(codes(r)).toContain('generic-pki');
    expect(r.links[0]).toMatchObject({ role: 'sender', status: 'valid', email: 'alice@smime.example' });
    // The same message against the SSMAX root alone: untrusted → failed.
    expectFailed(await verifyMessage(wire, { trustAnchors: [w.rootPem], at: T.at }), 'untrusted');
  });

  it('a signature revoked only after it was made stays valid (noted)', async () => {
    const { wire } = await buildMail({
      headers: headersFor('jiro@a.example', B()),
      signer: signerOf(w.revoked),
      signerCaDer: caDer(w.a),
      signingTime: new Date('2026-04-01T09:00:00Z'),
      links: [sendingOrg(w.a, new Date('2026-04-01T09:01:00Z')), receivingOrg(w.b, B(), new Date('2026-04-01T09:02:00Z'))],
    });
    const r = await verifyMessage(wire, opts());
    expect(r.state).toBe('verified');
    expect(r.links[0]?.notes.map((n) => n.code)).toContain('revoked');
  });
});

describe('attacks never verify', () => {
  it('two signers, one invalid → signer-invalid / signature-invalid', async () => {
    const { entity, outerHeaders } = await buildProtectedPayload(headersFor(A(), B()), { text: 'x\n' }, 'clear');
    const cms = await signData({ content: entity, signers: [signerOf(w.a.employee.signature), signerOf(w.b.employee.signature)], detached: true, signingTime: T.signed, certificates: [caDer(w.a), caDer(w.b)] });
    const sd = readSignedData(cms);
    const second = Buffer.from(sd.signerInfos[1]!.raw);
    second[second.length - 5]! ^= 0x01; // inside the signature value
    const forged = replaceSignerInfos(cms, [sd.signerInfos[0]!.raw, second]);
    const r = await verifyMessage(wrap(entity, forged, outerHeaders), opts());
    expectFailed(r, 'signer-invalid');
    expect(r.links.find((l) => l.role === 'additional-signer')?.status).toBe('invalid');
  });

  it('no signers → no-signers', async () => {
    const { entity, cms, outerHeaders } = await twoOrgMail();
    const r = await verifyMessage(wrap(entity, replaceSignerInfos(cms, []), outerHeaders), opts());
    expectFailed(r, 'no-signers');
  });

  it('signature over other content → digest-mismatch', async () => {
    const { cms, outerHeaders } = await twoOrgMail();
    const other = await buildProtectedPayload(headersFor(A(), B()), { text: 'Please pay invoice 42 to account X.\n' }, 'cipher');
    const r = await verifyMessage(wrap(other.entity, cms, outerHeaders, w.b.employee.keyManagement.der), opts());
    expectFailed(r, 'digest-mismatch');
    expect(r.links[0]?.status).toBe('invalid');
  });

  it('eContent and detached content both present and different → content-conflict', async () => {
    const real = await buildProtectedPayload(headersFor(A(), B()), { text: 'real\n' }, 'clear');
    const shown = await buildProtectedPayload(headersFor(A(), B()), { text: 'shown\n' }, 'clear');
    const opaque = await signData({ content: real.entity, signers: [signerOf(w.a.employee.signature)], detached: false, signingTime: T.signed, certificates: [caDer(w.a)] });
    const r = await verifyMessage(wrap(shown.entity, opaque, shown.outerHeaders), opts());
    expectFailed(r, 'content-conflict');
  });

  it('unsigned text wrapped around a signed part → partially-signed', async () => {
    const { wire } = await buildMail({ headers: headersFor(A(), B()), signer: signerOf(w.a.employee.signature), signerCaDer: caDer(w.a), links: [sendingOrg(w.a), receivingOrg(w.b, B())] });
    const head = wire.subarray(0, wire.indexOf('\r\n\r\n') + 4);
    const wrapped = Buffer.concat([
      Buffer.from(`From: ${A()}\r\nTo: ${B()}\r\nSubject: x\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=wrap\r\n\r\n--wrap\r\nContent-Type: text/plain\r\n\r\nPlease also pay invoice 42 to account X.\r\n--wrap\r\n`),
      Buffer.from(wire.subarray(wire.indexOf('MIME-Version'))),
      Buffer.from('\r\n--wrap--\r\n'),
    ]);
    expect(head.length).toBeGreaterThan(0);
    const r = await verifyMessage(wrapped, opts());
    expectFailed(r, 'partially-signed');
    expect(r.partiallySigned).toBe(true);
    expect(r.content).toBeUndefined();
  });

  it('From ≠ certificate address → from-mismatch', async () => {
    const { wire } = await twoOrgMail({ headers: headersFor('boss@a.example', B()) });
    const r = await verifyMessage(wire, opts());
    expectFailed(r, 'from-mismatch');
    expect(r.links[0]?.status).toBe('invalid');
  });

  it('display-name tricks → display-name-spoof / from-mismatch / from-ambiguous', async () => {
    const named = (name: string, address: string) => ({ ...headersFor(A(), B()), from: { name, address } });
    const spoofName = await twoOrgMail({ headers: named('boss@a.example', A()) });
    expectFailed(await verifyMessage(spoofName.wire, opts()), 'display-name-spoof');
    const evil = await twoOrgMail({ headers: named('hanako@a.example', 'evil@x.example') });
    const r = await verifyMessage(evil.wire, opts());
    expectFailed(r, 'from-mismatch'); // the address is not the certificate's
    expect(codes(r)).toContain('display-name-spoof'); // and the name shows another address
    const encoded = await twoOrgMail({ headers: named('社長 <boss@a.example>', A()) });
    expectFailed(await verifyMessage(encoded.wire, opts()), 'display-name-spoof');
    const two = await twoOrgMail({ headers: { ...headersFor(A(), B()), from: [{ address: A() }, { address: 'boss@a.example' }] as never } });
    expectFailed(await verifyMessage(two.wire, opts()), 'from-ambiguous');
  });

  it('outer From differs from the protected From → header-from-mismatch', async () => {
    const { entity, cms, outerHeaders } = await twoOrgMail();
    const forged = outerHeaders.map((h) => (h.name === 'From' ? { name: 'From', value: 'boss@a.example' } : h));
    const r = await verifyMessage(wrap(entity, cms, forged, w.b.employee.keyManagement.der), opts());
    expectFailed(r, 'header-from-mismatch');
  });

  it('org countersignature by an org that did not issue the sender cert → wrong-org', async () => {
    const { wire } = await twoOrgMail({ links: [sendingOrg(w.b), receivingOrg(w.b, B())] });
    const r = await verifyMessage(wire, opts());
    expectFailed(r, 'wrong-org');
    expect(r.links[1]).toMatchObject({ role: 'sending-org', status: 'invalid' });
  });

  it('countersignature taken from another message (over a different signature) → digest-mismatch on ②', async () => {
    const donor = await twoOrgMail();
    const victim = await buildMail({ headers: headersFor(A(), B()), content: { text: 'never inspected\n' }, signer: signerOf(w.a.employee.signature), signerCaDer: caDer(w.a) });
    const donorSi = readSignedData(donor.cms).signerInfos[0]!;
    const grafted = withUnsignedAttributes(victim.cms, 0, donorSi.unsignedAttrs.map((a) => a.raw));
    const certs = [...readSignedData(victim.cms).certificates, ...readSignedData(donor.cms).certificates];
    const cms = replaceSignerInfos(victim.cms, [grafted], certs);
    const r = await verifyMessage(wrap(victim.entity, cms, victim.outerHeaders, w.b.employee.keyManagement.der), opts());
    expectFailed(r, 'digest-mismatch');
    expect(r.links[0]?.status).toBe('valid');
    expect(r.links[1]).toMatchObject({ role: 'sending-org', status: 'invalid' });
  });

  it('link order swapped (receiving org countersigns first) → wrong-org and link-order', async () => {
    const { wire } = await twoOrgMail({ links: [receivingOrg(w.b, B(), T.sendingOrg), sendingOrg(w.a, T.receivingOrg)] });
    const r = await verifyMessage(wire, opts());
    expectFailed(r, 'wrong-org');
    expect(codes(r)).toContain('link-order');
    expect(codes(r)).toContain('not-own-org');
  });

  it('a countersignature older than what it countersigns → link-order', async () => {
    const { wire } = await twoOrgMail({ links: [sendingOrg(w.a, new Date('2026-06-01T08:00:00Z')), receivingOrg(w.b, B())] });
    expectFailed(await verifyMessage(wire, opts()), 'link-order');
  });

  it('③ not made by the user’s own org → not-own-org', async () => {
    const { wire } = await twoOrgMail({ links: [sendingOrg(w.a), { ...sendingOrg(w.a, T.receivingOrg, 'receiving-org') }] });
    const r = await verifyMessage(wire, opts());
    expectFailed(r, 'not-own-org');
    expect(r.links[2]).toMatchObject({ role: 'receiving-org', status: 'invalid' });
  });

  it('③ delivered to someone else → recipient-not-in-envelope', async () => {
    const { wire } = await twoOrgMail({ links: [sendingOrg(w.a), receivingOrg(w.b, 'other@b.example')] });
    expectFailed(await verifyMessage(wire, opts()), 'recipient-not-in-envelope');
  });

  it('revoked at signing time → revoked (and without the CRL only signed-valid with a note)', async () => {
    const { wire } = await twoOrgMail({ headers: headersFor('jiro@a.example', B()), signer: signerOf(w.revoked) });
    const r = await verifyMessage(wire, opts());
    expectFailed(r, 'revoked');
    expect(r.links[0]?.status).toBe('revoked');
    const noCrl = await verifyMessage(wire, opts({ crls: [] }));
    expect(noCrl.links[0]?.notes.map((n) => n.code)).toContain('revocation-not-checked');
  });

  it('expired at signing time → expired', async () => {
    const { wire } = await twoOrgMail({ headers: headersFor('saburo@a.example', B()), signer: signerOf(w.expired) });
    const r = await verifyMessage(wire, opts());
    expectFailed(r, 'expired');
    expect(r.links[0]?.status).toBe('expired');
  });

  it('signing time in the future → signing-time-invalid', async () => {
    const { wire } = await twoOrgMail({ signingTime: new Date('2026-06-02T00:00:00Z') });
    expectFailed(await verifyMessage(wire, opts()), 'signing-time-invalid');
  });

  it('untrusted root (same names, other root) → untrusted', async () => {
    const { wire } = await twoOrgMail({ signer: signerOf(w.rogue.employee.signature), signerCaDer: caDer(w.rogue), links: [sendingOrg(w.rogue), receivingOrg(w.b, B())] });
    const r = await verifyMessage(wire, opts());
    expectFailed(r, 'untrusted');
    expect(r.links[0]?.status).toBe('untrusted');
  });

  it('name constraints violated (a.example CA issuing x@b.example) → name-constraints', async () => {
    const { wire } = await twoOrgMail({ headers: headersFor('x@b.example', B()), signer: signerOf(w.outOfConstraints) });
    const r = await verifyMessage(wire, opts());
    expectFailed(r, 'name-constraints');
  });

  it('9D (key-management) certificate used to sign → policy-role-mismatch', async () => {
    const { wire } = await twoOrgMail({ signer: signerOf(w.a.employee.keyManagement) });
    const r = await verifyMessage(wire, opts());
    expectFailed(r, 'policy-role-mismatch');
  });

  it('employee certificate used as an org link → policy-role-mismatch', async () => {
    const { wire } = await twoOrgMail({ links: [{ ...sendingOrg(w.a), signer: signerOf(w.a.employee.signature) }, receivingOrg(w.b, B())] });
    const r = await verifyMessage(wire, opts());
    expectFailed(r, 'policy-role-mismatch');
    expect(r.links[1]?.status).toBe('invalid');
  });

  it('org signing certificate used as the sender → policy-role-mismatch', async () => {
    const { wire } = await twoOrgMail({ signer: signerOf(w.a.signing) });
    expectFailed(await verifyMessage(wire, opts()), 'policy-role-mismatch');
  });

  it('tampered ciphertext (GCM tag) → decryption-failed', async () => {
    const { entity, cms, outerHeaders } = await twoOrgMail();
    const wire = wrap(entity, cms, outerHeaders, w.b.employee.keyManagement.der);
    const layerStart = wire.indexOf('\r\n\r\n') + 4;
    const der = Buffer.from(wire.subarray(layerStart).toString('latin1'), 'base64');
    der[der.length - 1]! ^= 0x01; // the mac is the last field of AuthEnvelopedData
    const tampered = buildPkcs7Mime({ smimeType: 'authEnveloped-data', der, headers: outerHeaders });
    expectFailed(await verifyMessage(tampered, opts()), 'decryption-failed');
  });

  it('encrypted without a key → not-decrypted', async () => {
    const { wire } = await twoOrgMail();
    expectFailed(await verifyMessage(wire, opts({ decryptors: [] })), 'not-decrypted');
  });

  it('truncated and garbage DER → malformed, never thrown', async () => {
    const { entity, cms, outerHeaders } = await twoOrgMail();
    expectFailed(await verifyMessage(wrap(entity, cms.subarray(0, cms.length - 40), outerHeaders), opts()), 'malformed');
    const garbage = new Uint8Array(600).map((_, i) => (i * 131 + 7) & 0xff);
    expectFailed(await verifyMessage(wrap(entity, garbage, outerHeaders), opts()), 'malformed');
    expectFailed(await verifyMessage(buildPkcs7Mime({ smimeType: 'signed-data', der: garbage, headers: outerHeaders }), opts()), 'malformed');
    expectFailed(await verifyMessage(buildPkcs7Mime({ smimeType: 'authEnveloped-data', der: cms.subarray(0, 50), headers: outerHeaders }), opts()), 'malformed');
    const random = await verifyMessage(garbage, opts());
    expect(random.state === 'failed' || random.state === 'unsigned').toBe(true);
  });

  it('deeply nested MIME → limit-exceeded', async () => {
    let body = 'Content-Type: text/plain\r\n\r\nx\r\n';
    for (let i = 0; i < 60; i++) body = `Content-Type: multipart/mixed; boundary=b${i}\r\n\r\n--b${i}\r\n${body}\r\n--b${i}--\r\n`;
    const r = await verifyMessage(Buffer.from(`From: ${A()}\r\nMIME-Version: 1.0\r\n${body}`), opts());
    expectFailed(r, 'limit-exceeded');
  });

  it('an unsigned message is unsigned, never verified', async () => {
    const r = await verifyMessage(Buffer.from(`From: ${A()}\r\nTo: ${B()}\r\nSubject: hi\r\n\r\nhello\r\n`), opts());
    expect(r.state).toBe('unsigned');
    expect(codes(r)).toEqual(['unsigned']);
  });

  it('extra countersignature beyond ③ → chain-ambiguous', async () => {
    const built = await twoOrgMail({ links: [sendingOrg(w.a), receivingOrg(w.b, B())] });
    const cms = await addLinks(built.cms, [{ ...receivingOrg(w.b, B(), new Date('2026-06-01T09:03:00Z')) }]);
    const r = await verifyMessage(wrap(built.entity, cms, built.outerHeaders, w.b.employee.keyManagement.der), opts());
    expectFailed(r, 'chain-ambiguous');
  });

  it('an org link without inspection attestation → attestation-missing', async () => {
    const { wire } = await twoOrgMail({ links: [{ ...sendingOrg(w.a), hop: undefined }, receivingOrg(w.b, B())] });
    expectFailed(await verifyMessage(wire, opts()), 'attestation-missing');
  });
});

describe('incomplete but honest chains are signed, not verified', () => {
  it('own org unknown → own-org-unknown', async () => {
    const { wire } = await twoOrgMail();
    const r = await verifyMessage(wire, opts({ ownOrgDomains: undefined, recipient: undefined }));
    expect(r.state).toBe('signed');
    expect(codes(r)).toEqual(['own-org-unknown']);
  });

  it('own org given as its CA certificate (pinned bundle): verified; another org CA → not-own-org', async () => {
    const { wire } = await twoOrgMail();
    const byCa = await verifyMessage(wire, opts({ ownOrgDomains: undefined, ownOrgCa: caDer(w.b) }));
    expect(byCa.state).toBe('verified');
    expectFailed(await verifyMessage(wire, opts({ ownOrgDomains: undefined, ownOrgCa: caDer(w.a) })), 'not-own-org');
  });

  it('two valid signers → multiple-signers', async () => {
    const { entity, outerHeaders } = await buildProtectedPayload(headersFor(A(), B()), { text: 'x\n' }, 'clear');
    const cms = await signData({ content: entity, signers: [signerOf(w.a.employee.signature), signerOf(w.b.employee.signature)], detached: true, signingTime: T.signed, certificates: [caDer(w.a), caDer(w.b)] });
    const r = await verifyMessage(wrap(entity, cms, outerHeaders), opts());
    expect(r.state).toBe('signed');
    expect(codes(r)).toContain('multiple-signers');
    expect(r.links.map((l) => [l.role, l.status])).toEqual([
      ['sender', 'valid'],
      ['additional-signer', 'valid'],
    ]);
  });

  it('external mail marked by the own org → unsigned, external, never verified', async () => {
    const external = Buffer.from('From: outsider@gmail.example\r\nTo: hanako@b.example\r\nSubject: invoice\r\nContent-Type: text/plain\r\n\r\nPlease pay.\r\n');
    const cms = await signData({
      content: external,
      signers: [signerOf(w.b.signing)],
      detached: true,
      signingTime: T.receivingOrg,
      certificates: [caDer(w.b)],
      extraSignedAttributes: [inspectionAttestationAttribute(attestation('receiving-org', T.receivingOrg))],
    });
    const wire = buildMultipartSigned({ signedPart: external, signature: cms, digest: 'SHA-256', headers: [{ name: 'From', value: 'outsider@gmail.example' }] });
    const r = await verifyMessage(wire, opts());
    expect(r.state).toBe('unsigned');
    expect(r.external).toBe(true);
    expect(codes(r)).toEqual(['external']);
    expect(r.links.map((l) => [l.role, l.status])).toEqual([['receiving-org', 'valid']]);
    // Marked by another org than the user's: failed.
    expectFailed(await verifyMessage(wire, opts({ ownOrgDomains: ['a.example'], recipient: undefined })), 'not-own-org');
  });
});
