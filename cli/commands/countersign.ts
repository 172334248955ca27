import { HOPS, VERDICTS, countersign, lastLinkPath, type Hop, type Verdict } from '../../smime/cms';
import { analyzeSmime, base64Lines, parseMessage } from '../../smime/mime';
import { CliError, ExitCode, UsageError, type CommandGroup } from '../command';
import { core, loadSigner, many, parse, readCertificates, readIn, str, time, writeOut } from './cms-io';

const usage = `usage: ssmax countersign <signed-message> --key <pkcs8.pem> --cert <cert.pem> [options]

  --ca <pem>             further certificates to carry (the org CA); repeatable
  --hop <hop>            sending-org | receiving-org | single-org: adds an inspection attestation
  --verdict <v>          Safe | Danger | Unsupported | Error (default Safe)
  --engine <text>        inspection engine (default "ssmax cli")
  --mail-from <addr>     SMTP envelope sender (with --rcpt-to)
  --rcpt-to <addr>       SMTP envelope recipient; repeatable
  --at <ISO time>        signing time (default: now)
  --out <file>           write there instead of stdout

Adds a countersignature (RFC 5652 §11.4) to the last link of the first signer's chain of a
multipart/signed or opaque signed message; every other byte of the message is kept.`;

async function run(args: string[]): Promise<ExitCode> {
  const { values, file } = parse(
    args,
    {
      key: { type: 'string' },
      cert: { type: 'string' },
      ca: { type: 'string', multiple: true },
      hop: { type: 'string' },
      verdict: { type: 'string' },
      engine: { type: 'string' },
      'mail-from': { type: 'string' },
      'rcpt-to': { type: 'string', multiple: true },
      at: { type: 'string' },
    },
    usage,
  );
  const hop = str(values, 'hop');
  if (hop !== undefined && !(HOPS as readonly string[]).includes(hop)) throw new UsageError(`--hop must be one of ${HOPS.join(', ')}`);
  const verdict = str(values, 'verdict') ?? 'Safe';
  if (!(VERDICTS as readonly string[]).includes(verdict)) throw new UsageError(`--verdict must be one of ${VERDICTS.join(', ')}`);
  const rcptTo = many(values, 'rcpt-to');
  const signer = await loadSigner(values);
  const certificates = await readCertificates(many(values, 'ca'));
  const signingTime = time(values) ?? new Date();
  const input = await readIn(file, 'input');
  const out = await core('countersign', async () => {
    const msg = parseMessage(input);
    const layer = analyzeSmime(msg.root).layers[0];
    if (!layer) throw new CliError('countersign: the message is not signed', ExitCode.failed);
    const entity = layer.kind === 'multipart-signed' ? layer.signatureEntity : layer.entity;
    const der = layer.kind === 'multipart-signed' ? layer.signature() : layer.der();
    const updated = await countersign(der, {
      target: lastLinkPath(der),
      signer,
      signingTime,
      certificates,
      ...(rcptTo.length ? { envelope: { mailFrom: str(values, 'mail-from') ?? '', rcptTo } } : {}),
      ...(hop ? { attestation: { hop: hop as Hop, verdict: verdict as Verdict, engine: str(values, 'engine') ?? 'ssmax cli', signatureDb: '', inspectedAt: signingTime, attachments: [] } } : {}),
    });
    if (entity.source !== msg.source) throw new CliError('countersign: the signature is inside an encoded part', ExitCode.failed);
    let body = base64Lines(updated);
    // A multipart child ends before the line break that precedes the next boundary.
    if (layer.kind === 'multipart-signed' && body.subarray(-2).toString('latin1') === '\r\n') body = body.subarray(0, -2);
    return Buffer.concat([input.subarray(0, entity.bodyStart), body, input.subarray(entity.end)]);
  });
  await writeOut(values, out);
  return ExitCode.ok;
}

export const command: CommandGroup = { summary: 'add an org countersignature to a signed message (software key)', usage, run };
