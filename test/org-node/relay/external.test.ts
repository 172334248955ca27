import { beforeAll, describe, expect, it } from 'vitest';
import { verifyMessage } from '../../../smime/chain';
import { processExternal } from '../../../org-node/relay/external';
import type { RelayDeps } from '../../../org-node/relay/types';
import { decryptorOf } from '../../smime/chain/world';
import { buildRelayWorld, depsFor, directoryFor, type RelayWorld } from './relay-world';

let rw: RelayWorld;
let nodeB: RelayDeps;
const AR = 'Authentication-Results: mx.b.example;\r\n spf=pass smtp.mailfrom=partner.example;\r\n dkim=none;\r\n dmarc=none header.from=partner.example\r\n';

beforeAll(async () => {
  rw = await buildRelayWorld();
  nodeB = depsFor(rw, rw.world.b, await directoryFor(':memory:', [rw.bob]));
}, 60_000);

const plain = (from: string): Buffer => Buffer.from(`From: Partner <${from}>\r\nTo: ${rw.bob.email}\r\nSubject: Quote\r\nMessage-ID: <ext-1@partner.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello from outside.\r\n`);

describe('external mail', () => {
  it('is delivered encrypted to the recipient 9D, marked external under b\'s signature with its SPF/DKIM/DMARC results, never verified', async () => {
    const r = await processExternal(nodeB, { raw: plain('sales@partner.example'), envelope: { mailFrom: 'sales@partner.example', rcptTo: [rw.bob.email] }, client: { ip: '192.0.2.1', helo: 'mx.partner.example' } }, AR);
    expect(r.outcomes.map((o) => o.kind)).toEqual(['deliver']);
    const o = r.outcomes[0];
    if (o?.kind !== 'deliver') throw new Error('no delivery');
    const v = await verifyMessage(o.message, { trustAnchors: [rw.world.rootPem], decryptors: [decryptorOf(rw.bob.keyManagement)], at: new Date(), ownOrgDomains: ['b.example'], recipient: rw.bob.email });
    expect(v.state).toBe('unsigned');
    expect(v.external).toBe(true);
    expect(v.reasons.map((x) => x.code)).toContain('external');
    expect(v.links.map((l) => [l.role, l.status])).toEqual([['receiving-org', 'valid']]);
    const text = Buffer.from(v.content?.bytes ?? new Uint8Array()).toString('utf8');
    expect(text).toMatch(/^Authentication-Results: mx\.b\.example;/);
    expect(text).toContain('Hello from outside.');
  });

  it('refuses unsigned mail claiming the own org or another SSMAX org', async () => {
    for (const from of ['boss@b.example', 'hanako@a.example']) {
      const r = await processExternal(nodeB, { raw: plain(from), envelope: { mailFrom: from, rcptTo: [rw.bob.email] }, client: { ip: '192.0.2.1', helo: 'x' } }, AR);
      expect(r.outcomes).toMatchObject([{ kind: 'bounce', code: 'external-member-domain' }]);
    }
  });
});
