import { signData } from '../../smime/cms';
import { buildMultipartSigned, buildPkcs7Mime, toCanonicalCrlf } from '../../smime/mime';
import { ExitCode, type CommandGroup } from '../command';
import { core, loadSigner, many, outerHeadersOf, parse, readCertificates, readIn, time, writeOut } from './cms-io';

const usage = `usage: ssmax sign <entity-file> --key <pkcs8.pem> --cert <cert.pem> [options]

  --ca <pem>       further certificates to carry (the org CA); repeatable
  --opaque         application/pkcs7-mime signed-data instead of multipart/signed
  --pss            RSA-PSS instead of PKCS#1 v1.5 (RSA keys)
  --at <ISO time>  signing time (default: now)
  --out <file>     write there instead of stdout

The input is a MIME entity (made CRLF-canonical). Its From/To/Cc/Subject/Date/Message-ID fields,
if any, are repeated outside. Software keys only, for interop and debugging.`;

async function run(args: string[]): Promise<ExitCode> {
  const { values, file } = parse(args, { key: { type: 'string' }, cert: { type: 'string' }, ca: { type: 'string', multiple: true }, opaque: { type: 'boolean' }, pss: { type: 'boolean' }, at: { type: 'string' } }, usage);
  const signer = await loadSigner(values, { pss: values.pss === true });
  const certificates = await readCertificates(many(values, 'ca'));
  const signingTime = time(values);
  const content = toCanonicalCrlf(await readIn(file, 'input'));
  const opaque = values.opaque === true;
  const out = await core('sign', async () => {
    const headers = outerHeadersOf(content);
    const cms = await signData({ content, signers: [signer], detached: !opaque, certificates, ...(signingTime ? { signingTime } : {}) });
    return opaque ? buildPkcs7Mime({ smimeType: 'signed-data', der: cms, headers }) : buildMultipartSigned({ signedPart: content, signature: cms, digest: signer.algorithm.hash, headers });
  });
  await writeOut(values, out);
  return ExitCode.ok;
}

export const command: CommandGroup = { summary: 'sign a MIME entity with a software key (multipart/signed or opaque)', usage, run };
