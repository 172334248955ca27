import { beforeAll, describe, expect, it } from 'vitest';
import { verifyMessage } from '../../../smime/chain';
import { issueCrl } from '../../../smime/pki';
import { processInbound, processSubmission } from '../../../org-node/relay/pipeline';
import type { Outcome, RelayDeps } from '../../../org-node/relay/types';
import type { MemberDirectory } from '../../../org-node/directory/directory';
import { buildMail, caDer, decryptorOf, headersFor, receivingOrg, sendingOrg, signerOf } from '../../smime/chain/world';
import { buildRelayWorld, depsFor, directoryFor, type Person, type RelayWorld } from './relay-world';

let rw: RelayWorld;
let dirA: MemberDirectory;
let dirB: MemberDirectory;
let nodeA: RelayDeps;
let nodeB: RelayDeps;

beforeAll(async () => {
  rw = await buildRelayWorld();
  dirA = await directoryFor(':memory:', [rw.alice, rw.carol]);
  dirB = await directoryFor(':memory:', [rw.bob]);
  nodeA = depsFor(rw, rw.world.a, dirA);
  nodeB = depsFor(rw, rw.world.b, dirB);
}, 60_000);

async function submission(from: Person, to: string[], opts: { signer?: Person; fromHeader?: string; encrypt?: boolean } = {}): Promise<Buffer> {
  const signer = opts.signer ?? from;
  const h = headersFor(opts.fromHeader ?? from.email, to[0] ?? 'x@b.example');
  const mail = await buildMail({ headers: { ...h, to: to.map((address) => ({ address })) }, signer: signerOf(signer.signature), signerCaDer: caDer(rw.world.a), ...(opts.encrypt === false ? {} : { encryptTo: rw.world.a.encryption.der }) });
  return mail.wire;
}

function only<K extends Outcome['kind']>(outcomes: readonly Outcome[], kind: K): Extract<Outcome, { kind: K }> {
  expect(outcomes.map((o) => o.kind)).toEqual([kind]);
  return outcomes[0] as Extract<Outcome, { kind: K }>;
}

describe('relay pipeline', () => {
  it('alice@a → hanako@b: ② at a, ③ at b, verified by the recipient with sender, sending-org, receiving-org', async () => {
    const raw = await submission(rw.alice, [rw.bob.email]);
    const out = await processSubmission(nodeA, { raw, submitter: rw.alice.email, envelope: { mailFrom: rw.alice.email, rcptTo: [rw.bob.email] } });
    const relay = only(out.outcomes, 'relay');
    expect(relay.org).toBe('b.example');
    expect(relay.rcptTo).toEqual([rw.bob.email]);
    // Only b's org key opens the relayed copy.
    const atA = await verifyMessage(relay.message, { trustAnchors: [rw.world.rootPem], decryptors: [decryptorOf(rw.alice.keyManagement)], at: new Date() });
    expect(atA.reasons.map((r) => r.code)).toContain('decryption-failed');

    const inbound = await processInbound(nodeB, { raw: relay.message, envelope: { mailFrom: relay.mailFrom, rcptTo: relay.rcptTo } });
    const deliver = only(inbound.outcomes, 'deliver');
    expect(deliver.rcptTo).toEqual([rw.bob.email]);
    const v = await verifyMessage(deliver.message, { trustAnchors: [rw.world.rootPem], decryptors: [decryptorOf(rw.bob.keyManagement)], at: new Date(), ownOrgDomains: ['b.example'], recipient: rw.bob.email });
    expect(v.reasons).toEqual([]);
    expect(v.state).toBe('verified');
    expect(v.links.map((l) => l.role)).toEqual(['sender', 'sending-org', 'receiving-org']);
    expect(v.links[2]?.envelope?.rcptTo).toEqual([rw.bob.email]);
    // b's org key no longer opens it: encrypted to the recipient's 9D only.
    const withOrgKey = await verifyMessage(deliver.message, { trustAnchors: [rw.world.rootPem], decryptors: [decryptorOf(rw.world.b.encryption)], at: new Date() });
    expect(withOrgKey.reasons.map((r) => r.code)).toContain('decryption-failed');
  });

  it('internal alice@a → carol@a: one single-org link, verified for carol', async () => {
    const raw = await submission(rw.alice, [rw.carol.email]);
    const out = await processSubmission(nodeA, { raw, submitter: rw.alice.email, envelope: { mailFrom: rw.alice.email, rcptTo: [rw.carol.email] } });
    const deliver = only(out.outcomes, 'deliver');
    const v = await verifyMessage(deliver.message, { trustAnchors: [rw.world.rootPem], decryptors: [decryptorOf(rw.carol.keyManagement)], at: new Date(), ownOrgDomains: ['a.example'], recipient: rw.carol.email });
    expect(v.state).toBe('verified');
    expect(v.links.map((l) => l.role)).toEqual(['sender', 'single-org']);
  });

  it('a forward keeps the original chain: hanako@b forwards alice\'s mail to carol@a; both chains verified', async () => {
    const original = await buildMail({ headers: headersFor(rw.alice.email, rw.bob.email), signer: signerOf(rw.alice.signature), signerCaDer: caDer(rw.world.a), links: [sendingOrg(rw.world.a), receivingOrg(rw.world.b, rw.bob.email)] });
    const fwd = await buildMail({
      headers: headersFor(rw.bob.email, rw.carol.email, 'Fwd: 見積書'),
      content: { text: 'FYI\n', forwards: [{ message: original.wire }] },
      signer: signerOf(rw.bob.signature),
      signerCaDer: caDer(rw.world.b),
      signingTime: new Date(),
      encryptTo: rw.world.b.encryption.der,
    });
    const env = { mailFrom: rw.bob.email, rcptTo: [rw.carol.email] };
    const relay = only((await processSubmission(nodeB, { raw: fwd.wire, submitter: rw.bob.email, envelope: env })).outcomes, 'relay');
    const deliver = only((await processInbound(nodeA, { raw: relay.message, envelope: env })).outcomes, 'deliver');
    const v = await verifyMessage(deliver.message, { trustAnchors: [rw.world.rootPem], decryptors: [decryptorOf(rw.carol.keyManagement)], at: new Date(), ownOrgDomains: ['a.example'], recipient: rw.carol.email });
    expect(v.reasons).toEqual([]);
    expect(v.state).toBe('verified');
    expect(v.links.map((l) => l.role)).toEqual(['forwarder', 'forwarder-org', 'receiving-org']);
    expect(v.forwards.map((f) => f.state)).toEqual(['verified']);
    expect(v.forwards[0]?.links.map((l) => l.role)).toEqual(['sender', 'sending-org', 'receiving-org']);
  });

  it('splits recipients: own org delivered per recipient, other org relayed once, unknown and non-member bounced', async () => {
    const rcpts = [rw.carol.email, rw.bob.email, 'nobody@a.example', 'x@gmail.example'];
    const raw = await submission(rw.alice, rcpts);
    const out = await processSubmission(nodeA, { raw, submitter: rw.alice.email, envelope: { mailFrom: rw.alice.email, rcptTo: rcpts } });
    const kinds = out.outcomes.map((o) => `${o.kind}:${o.rcptTo.join(',')}`).sort();
    expect(kinds).toEqual(['bounce:nobody@a.example', 'bounce:x@gmail.example', 'deliver:carol@a.example', 'relay:hanako@b.example']);
    const nonMember = out.outcomes.find((o) => o.kind === 'bounce' && o.rcptTo[0] === 'x@gmail.example');
    expect(nonMember).toMatchObject({ code: 'non-member-domain' });
  });

  it('refuses a submission signed by another member than the authenticated one', async () => {
    const raw = await submission(rw.alice, [rw.bob.email]);
    const out = await processSubmission(nodeA, { raw, submitter: rw.carol.email, envelope: { mailFrom: rw.carol.email, rcptTo: [rw.bob.email] } });
    const b = only(out.outcomes, 'bounce');
    expect(b.code).toBe('not-submitter');
    expect(b.reason).toMatch(/signed by hanako@a\.example, but you are logged in as carol@a\.example/);
  });

  it('refuses a From that is not the certificate address', async () => {
    const raw = await submission(rw.alice, [rw.bob.email], { fromHeader: rw.carol.email });
    const out = await processSubmission(nodeA, { raw, submitter: rw.alice.email, envelope: { mailFrom: rw.alice.email, rcptTo: [rw.bob.email] } });
    const b = only(out.outcomes, 'bounce');
    expect(b.code).toBe('signature');
    expect(b.reason).toMatch(/Your signature could not be accepted/);
  });

  it('refuses unencrypted submissions and a suspended member', async () => {
    const plain = await submission(rw.alice, [rw.bob.email], { encrypt: false });
    const a = await processSubmission(nodeA, { raw: plain, submitter: rw.alice.email, envelope: { mailFrom: rw.alice.email, rcptTo: [rw.bob.email] } });
    expect(only(a.outcomes, 'bounce').code).toBe('not-encrypted');

    const dir = await directoryFor(':memory:', [rw.alice]);
    await dir.setStatus(rw.alice.email, 'suspended', 'test');
    const raw = await submission(rw.alice, [rw.bob.email]);
    const s = await processSubmission({ ...nodeA, directory: dir }, { raw, submitter: rw.alice.email, envelope: { mailFrom: rw.alice.email, rcptTo: [rw.bob.email] } });
    expect(only(s.outcomes, 'bounce')).toMatchObject({ code: 'member' });
    expect(only(s.outcomes, 'bounce').reason).toMatch(/not an active member/);
  });

  it('a blocking inspection bounces with its reason; a failing inspector is a tempfail', async () => {
    const raw = await submission(rw.alice, [rw.bob.email]);
    const env = { mailFrom: rw.alice.email, rcptTo: [rw.bob.email] };
    const blocking: RelayDeps = {
      ...nodeA,
      inspect: () => Promise.resolve({ attestation: { verdict: 'Danger', engine: 't', signatureDb: 't', inspectedAt: new Date(), attachments: [] }, decision: { action: 'block', reason: 'The attachment invoice.pdf.exe was classified Danger: double extension.' } }),
    };
    const b = only((await processSubmission(blocking, { raw, submitter: rw.alice.email, envelope: env })).outcomes, 'bounce');
    expect(b).toMatchObject({ code: 'inspection', reason: 'The attachment invoice.pdf.exe was classified Danger: double extension.' });
    const failing: RelayDeps = { ...nodeA, inspect: () => Promise.reject(new Error('clamd down')) };
    expect(only((await processSubmission(failing, { raw, submitter: rw.alice.email, envelope: env })).outcomes, 'tempfail').reason).toMatch(/clamd down/);
  });

  it('a holding policy still builds the copies, marked held with the reason', async () => {
    const raw = await submission(rw.alice, [rw.bob.email, rw.carol.email]);
    const holding: RelayDeps = {
      ...nodeA,
      inspect: () => Promise.resolve({ attestation: { verdict: 'Unsupported', engine: 't', signatureDb: 't', inspectedAt: new Date(), attachments: [] }, decision: { action: 'hold', reason: 'encrypted ZIP (PPAP) held for review' } }),
    };
    const r = await processSubmission(holding, { raw, submitter: rw.alice.email, envelope: { mailFrom: rw.alice.email, rcptTo: [rw.bob.email, rw.carol.email] } });
    expect(r.outcomes.map((o) => [o.kind, 'held' in o ? o.held : undefined]).sort()).toEqual([
      ['deliver', 'encrypted ZIP (PPAP) held for review'],
      ['relay', 'encrypted ZIP (PPAP) held for review'],
    ]);
  });

  it('inbound refuses mail without the sending org countersignature, and one not addressed to the recipient by ②', async () => {
    const h = headersFor(rw.alice.email, rw.bob.email);
    const bare = await buildMail({ headers: h, signer: signerOf(rw.alice.signature), signerCaDer: caDer(rw.world.a), encryptTo: rw.world.b.encryption.der });
    const r1 = await processInbound(nodeB, { raw: bare.wire, envelope: { mailFrom: rw.alice.email, rcptTo: [rw.bob.email] } });
    expect(only(r1.outcomes, 'bounce')).toMatchObject({ code: 'chain' });
    expect(only(r1.outcomes, 'bounce').reason).toMatch(/countersignature is missing/);

    const linked = await buildMail({ headers: h, signer: signerOf(rw.alice.signature), signerCaDer: caDer(rw.world.a), links: [{ ...sendingOrg(rw.world.a, new Date()), envelope: { mailFrom: rw.alice.email, rcptTo: ['other@b.example'] } }], encryptTo: rw.world.b.encryption.der });
    const r2 = await processInbound(nodeB, { raw: linked.wire, envelope: { mailFrom: rw.alice.email, rcptTo: [rw.bob.email] } });
    expect(only(r2.outcomes, 'bounce')).toMatchObject({ code: 'envelope' });
  });

  it('inbound checks the sending org\'s CRL: a card revoked at a is refused at b (and accepted without the CRL)', async () => {
    const jiro = 'jiro@a.example';
    const h = headersFor(jiro, rw.bob.email);
    const mail = await buildMail({ headers: h, signer: signerOf(rw.world.revoked), signerCaDer: caDer(rw.world.a), links: [{ ...sendingOrg(rw.world.a, new Date()), envelope: { mailFrom: jiro, rcptTo: [rw.bob.email] } }], encryptTo: rw.world.b.encryption.der });
    const env = { mailFrom: jiro, rcptTo: [rw.bob.email] };
    const asked: string[] = [];
    const withCrl: RelayDeps = {
      ...nodeB,
      peerCrls: (d) => {
        asked.push(d);
        return Promise.resolve([rw.world.crlA]);
      },
    };
    const refused = await processInbound(withCrl, { raw: mail.wire, envelope: env });
    expect(asked).toEqual(['a.example']);
    expect(only(refused.outcomes, 'bounce')).toMatchObject({ code: 'chain' });
    expect(only(refused.outcomes, 'bounce').reason).toMatch(/revoked/i);
    expect(only((await processInbound(nodeB, { raw: mail.wire, envelope: env })).outcomes, 'deliver').rcptTo).toEqual([rw.bob.email]);
    const failing: RelayDeps = { ...nodeB, peerCrls: () => Promise.reject(new Error('CRL host down')) };
    expect(only((await processInbound(failing, { raw: mail.wire, envelope: env })).outcomes, 'tempfail').reason).toMatch(/CRL host down/);
  });

  it('inbound with peer CRLs never counter-signs unchecked: a current CRL without the card → delivered; an outdated one → tempfail, nothing delivered', async () => {
    const h = headersFor(rw.alice.email, rw.bob.email);
    const mail = await buildMail({ headers: h, signer: signerOf(rw.alice.signature), signerCaDer: caDer(rw.world.a), links: [{ ...sendingOrg(rw.world.a, new Date()), envelope: { mailFrom: rw.alice.email, rcptTo: [rw.bob.email] } }], encryptTo: rw.world.b.encryption.der });
    const env = { mailFrom: rw.alice.email, rcptTo: [rw.bob.email] };
    const now = Date.now();
    const current = new Uint8Array((await issueCrl(rw.world.a.ca, { thisUpdate: new Date(now - 3_600_000), nextUpdate: new Date(now + 86_400_000), crlNumber: 8, revoked: [{ serialNumber: rw.world.revoked.certificate.serialNumber, revocationDate: new Date(now - 7_200_000) }] })).rawData);
    const delivered = await processInbound({ ...nodeB, peerCrls: () => Promise.resolve([current]) }, { raw: mail.wire, envelope: env });
    expect(only(delivered.outcomes, 'deliver').rcptTo).toEqual([rw.bob.email]);
    // world.crlA's nextUpdate lies in the past: not a proof that alice's card is still good.
    const stale = await processInbound({ ...nodeB, peerCrls: () => Promise.resolve([rw.world.crlA]) }, { raw: mail.wire, envelope: env });
    expect(only(stale.outcomes, 'tempfail').reason).toMatch(/Revocation could not be checked.*no current revocation list of a\.example/);
    // A CRL of another org (here b's own, signed by b's CA) proves nothing about a's cards either.
    const wrongIssuer = new Uint8Array((await issueCrl(rw.world.b.ca, { thisUpdate: new Date(now - 3_600_000), nextUpdate: new Date(now + 86_400_000), crlNumber: 1, revoked: [] })).rawData);
    expect(only((await processInbound({ ...nodeB, peerCrls: () => Promise.resolve([wrongIssuer]) }, { raw: mail.wire, envelope: env })).outcomes, 'tempfail').reason).toMatch(/Revocation could not be checked/);
  });

  it('inbound refuses ② made by another org than the one that issued ①', async () => {
    const h = headersFor(rw.alice.email, rw.bob.email);
    const forged = await buildMail({ headers: h, signer: signerOf(rw.alice.signature), signerCaDer: caDer(rw.world.a), links: [{ ...sendingOrg(rw.world.b, new Date()), envelope: { mailFrom: rw.alice.email, rcptTo: [rw.bob.email] } }], encryptTo: rw.world.b.encryption.der });
    const r = await processInbound(nodeB, { raw: forged.wire, envelope: { mailFrom: rw.alice.email, rcptTo: [rw.bob.email] } });
    expect(only(r.outcomes, 'bounce')).toMatchObject({ code: 'chain' });
  });
});
