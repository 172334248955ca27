import { encryptContent } from '../../smime/cms';
import { buildPkcs7Mime, toCanonicalCrlf } from '../../smime/mime';
import { UsageError, ExitCode, type CommandGroup } from '../command';
import { core, many, outerHeadersOf, parse, readCertificates, readIn, writeOut } from './cms-io';

const usage = `usage: ssmax encrypt <entity-file> --to <cert.pem>... [--cbc] [--out <file>]

  --to <pem>    recipient certificate (RSA → RSA-OAEP, P-256 → ECDH); repeatable, required
  --cbc         AES-256-CBC EnvelopedData instead of AES-256-GCM AuthEnvelopedData

The input is a MIME entity (e.g. the output of ssmax sign), made CRLF-canonical.`;

async function run(args: string[]): Promise<ExitCode> {
  const { values, file } = parse(args, { to: { type: 'string', multiple: true }, cbc: { type: 'boolean' } }, usage);
  const recipients = await readCertificates(many(values, 'to'));
  if (recipients.length === 0) throw new UsageError('at least one --to <cert.pem> is required');
  const content = toCanonicalCrlf(await readIn(file, 'input'));
  const cbc = values.cbc === true;
  const out = await core('encrypt', () => {
    const der = encryptContent({ content, recipients, kind: cbc ? 'enveloped' : 'auth-enveloped' });
    return buildPkcs7Mime({ smimeType: cbc ? 'enveloped-data' : 'authEnveloped-data', der, headers: outerHeadersOf(content) });
  });
  await writeOut(values, out);
  return ExitCode.ok;
}

export const command: CommandGroup = { summary: 'encrypt a MIME entity to certificates (AuthEnvelopedData or EnvelopedData)', usage, run };
