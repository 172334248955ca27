import { beforeAll, describe, expect, it } from 'vitest';
import { verifyMessage, type CrlAnswer, type MessageVerification, type VerifyMessageOptions } from '../../../smime/chain';
import { issueCrl } from '../../../smime/pki';
import { T, buildMail, buildWorld, caDer, decryptorOf, headersFor, receivingOrg, sendingOrg, signerOf, type World } from './world';

/**
 * verifyMessage's `crlSource`: the core asks for the CRLs at a certificate's distribution points
 * (the client fetches them) when it was given no current CRL of the issuer. Here the source is a
 * plain function over generated CRLs; the client's HTTP fetch has its own tests (test/client/open).
 */
let w: World;
let crlB: Uint8Array;
beforeAll(async () => {
  w = await buildWorld();
  crlB = new Uint8Array((await issueCrl(w.b.ca, { thisUpdate: new Date('2026-05-15T00:00:00Z'), nextUpdate: new Date('2026-07-01T00:00:00Z'), crlNumber: 1, revoked: [] })).rawData);
}, 120_000);

const B = (): string => w.b.employee.email;

function opts(answer: (urls: readonly string[]) => CrlAnswer, asked: string[][] = []): VerifyMessageOptions {
  return {
    trustAnchors: [w.rootPem],
    at: T.at,
    ownOrgDomains: ['b.example'],
    recipient: B(),
    decryptors: [decryptorOf(w.b.employee.keyManagement)],
    crlSource: async (urls) => {
      asked.push([...urls]);
      return answer(urls);
    },
  };
}

/** The CRL each org's node would serve at its distribution point. */
const byOrg = (urls: readonly string[]): CrlAnswer => ({
  crls: urls.flatMap((u) => (u.includes('a.example') ? [w.crlA] : u.includes('b.example') ? [crlB] : [])),
  problems: [],
});

async function mail(signer = w.a.employee.signature, from = w.a.employee.email) {
  return (
    await buildMail({
      headers: headersFor(from, B()),
      signer: signerOf(signer),
      signerCaDer: caDer(w.a),
      links: [sendingOrg(w.a), receivingOrg(w.b, B())],
      encryptTo: w.b.employee.keyManagement.der,
    })
  ).wire;
}

const noteCodes = (r: MessageVerification): string[][] => r.links.map((l) => l.notes.map((n) => n.code));

describe('crlSource', () => {
  it('CRLs from the distribution points: verified, no link says revocation was not checked; each point asked once', async () => {
    const asked: string[][] = [];
    const r = await verifyMessage(await mail(), opts(byOrg, asked));
    expect(r.state).toBe('verified');
    expect(noteCodes(r)).toEqual([[], [], []]);
    // Member certificates name their org's CRL; the org CAs name none (the root publishes no CRL).
    expect(asked.map((u) => u[0]).sort()).toEqual(['https://ssmax.a.example/crl/org-ca.crl', 'https://ssmax.b.example/crl/org-ca.crl']);
  });

  it('the sender revoked before signing, as the fetched CRL says: failed, ① revoked', async () => {
    const r = await verifyMessage(await mail(w.revoked, 'jiro@a.example'), opts(byOrg));
    expect(r.state).toBe('failed');
    expect(r.reasons.map((x) => x.code)).toContain('revoked');
    expect(r.links[0]).toMatchObject({ role: 'sender', status: 'revoked' });
    expect(r.links[0]?.reasons.find((x) => x.code === 'revoked')?.message).toMatch(/was revoked on 2026-05-01/);
  });

  it('no CRL to be had: each link notes why (revocation-unavailable), the state is what it is without CRLs, never better', async () => {
    const down = (urls: readonly string[]): CrlAnswer => ({ crls: [], problems: urls.map((u) => `the revocation list at ${u} could not be reached (connect ECONNREFUSED)`) });
    const r = await verifyMessage(await mail(), opts(down));
    const without = await verifyMessage(await mail(), { ...opts(down), crlSource: undefined });
    expect(r.state).toBe(without.state);
    for (const l of r.links) {
      const note = l.notes.find((n) => n.code === 'revocation-unavailable');
      expect(note?.message).toMatch(/could not be checked: the revocation list at https:\/\/ssmax\.[ab]\.example\/crl\/org-ca\.crl could not be reached/);
    }
    const revoked = await verifyMessage(await mail(w.revoked, 'jiro@a.example'), opts(down));
    expect(revoked.links[0]?.status).toBe('valid');
    expect(revoked.links[0]?.notes.map((n) => n.code)).toContain('revocation-unavailable');
  });

  it('a stale CRL handed over with the failure still revokes', async () => {
    const stale = (): CrlAnswer => ({ crls: [w.crlA], problems: ['the revocation list at https://ssmax.a.example/crl/org-ca.crl could not be fetched (HTTP 503)'] });
    const later = { ...opts(stale), at: new Date('2026-08-01T00:00:00Z') };
    const r = await verifyMessage(await mail(w.revoked, 'jiro@a.example'), later);
    expect(r.links[0]?.status).toBe('revoked');
    const ok = await verifyMessage(await mail(), later);
    expect(ok.links[0]?.notes.map((n) => n.code)).toEqual(expect.arrayContaining(['crl-stale', 'revocation-unavailable']));
  });

  it('a CRL signed by someone else is not taken: noted crl-invalid, revocation not checked', async () => {
    const forged = (): CrlAnswer => ({ crls: [crlB], problems: [] });
    const r = await verifyMessage(await mail(w.revoked, 'jiro@a.example'), opts(forged));
    // crlB is B's: it names another issuer, so it is simply not A's CRL.
    expect(r.links[0]?.status).toBe('valid');
    expect(r.links[0]?.notes.map((n) => n.code)).toContain('revocation-not-checked');
  });

  it('revoked only after signing: the link stays valid with the revoked note', async () => {
    const after = new Uint8Array(
      (
        await issueCrl(w.a.ca, {
          thisUpdate: new Date('2026-06-01T09:30:00Z'),
          nextUpdate: new Date('2026-07-01T00:00:00Z'),
          crlNumber: 8,
          revoked: [{ serialNumber: w.a.employee.signature.certificate.serialNumber, revocationDate: new Date('2026-06-01T09:30:00Z') }],
        })
      ).rawData,
    );
    const src = (urls: readonly string[]): CrlAnswer => ({ crls: urls[0]?.includes('a.example') ? [after] : [crlB], problems: [] });
    const r = await verifyMessage(await mail(), opts(src));
    expect(r.state).toBe('verified');
    expect(r.links[0]?.notes.find((n) => n.code === 'revoked')?.message).toMatch(/after this signature was made/);
  });
});
