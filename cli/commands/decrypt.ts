import { decryptContent } from '../../smime/cms';
import { analyzeSmime, parseMessage } from '../../smime/mime';
import { CliError, ExitCode, type CommandGroup } from '../command';
import { core, loadDecryptor, parse, readIn, writeOut } from './cms-io';

const usage = `usage: ssmax decrypt <message> --key <pkcs8.pem> --cert <cert.pem> [--out <file>]

The input is an application/pkcs7-mime message (or bare CMS DER); the output is the decrypted MIME
entity (signatures inside are not checked: use ssmax verify for that).`;

async function run(args: string[]): Promise<ExitCode> {
  const { values, file } = parse(args, { key: { type: 'string' }, cert: { type: 'string' } }, usage);
  const decryptor = await loadDecryptor(values);
  const input = await readIn(file, 'input');
  const out = await core('decrypt', async () => {
    let der: Uint8Array = input;
    if (input[0] !== 0x30) {
      const layer = analyzeSmime(parseMessage(input).root).layers[0];
      if (!layer || layer.kind !== 'pkcs7-mime') throw new CliError('decrypt: the message is not application/pkcs7-mime', ExitCode.failed);
      der = layer.der();
    }
    return (await decryptContent(der, decryptor)).content;
  });
  await writeOut(values, out);
  return ExitCode.ok;
}

export const command: CommandGroup = { summary: 'decrypt an S/MIME message with a software key', usage, run };
