import { countersign, lastLinkPath, signData, type AttachmentVerdict, type Hop } from '../../../smime/cms';
import { buildProtectedPayload, type ContentInput, type MessageHeaders } from '../../../smime/mime';
import { caDer, signerOf, T, wrap, type World } from '../../smime/chain/world';

/**
 * A chain mail the way the nodes deliver it: ① signed by hanako@a.example's 9C key, ② A Corp's
 * countersignature, ③ B Corp's, each with an inspection attestation listing `verdicts`; encrypted
 * to `encryptTo` (the recipient's 9D certificate) unless it is undefined.
 */
export async function buildChainMail(
  world: World,
  opts: {
    to: string;
    from?: string;
    messageId: string;
    content: ContentInput;
    verdicts?: AttachmentVerdict[];
    encryptTo?: Uint8Array;
  },
): Promise<Buffer> {
  const headers: MessageHeaders = {
    from: { name: 'Hanako Yamada', address: opts.from ?? world.a.employee.email },
    to: [{ address: opts.to }],
    subject: '見積書の送付について',
    date: T.signed,
    messageId: opts.messageId,
  };
  const { entity, outerHeaders } = await buildProtectedPayload(
    headers,
    opts.content,
    opts.encryptTo ? 'cipher' : 'clear',
  );
  let cms = await signData({
    content: entity,
    signers: [signerOf(world.a.employee.signature)],
    detached: true,
    signingTime: T.signed,
    certificates: [caDer(world.a)],
  });
  const links: [World['a'], Hop, Date][] = [
    [world.a, 'sending-org', T.sendingOrg],
    [world.b, 'receiving-org', T.receivingOrg],
  ];
  for (const [org, hop, time] of links) {
    cms = await countersign(cms, {
      target: lastLinkPath(cms),
      signer: signerOf(org.signing),
      signingTime: time,
      attestation: {
        hop,
        verdict: opts.verdicts?.some((v) => v.verdict === 'Danger') ? 'Danger' : 'Safe',
        engine: 'ClamAV 1.0.7',
        signatureDb: 'daily.cvd 27450',
        inspectedAt: time,
        attachments: opts.verdicts ?? [],
      },
      envelope: { mailFrom: world.a.employee.email, rcptTo: [opts.to] },
      certificates: [caDer(org)],
    });
  }
  return wrap(entity, cms, outerHeaders, opts.encryptTo);
}
