import { runNodeFromConfig } from '../../org-node/smtp/config';
import { ExitCode, UsageError, untilInterrupted, type CommandGroup } from '../command';
import { guarded, keyStoreOptions, parse, required, secretFiles } from './node-options';

const usage = `ssmax node run --config <node.json> [--passphrase-file f | --pin-file f]

Runs the org node's mail side (org-node/smtp/README.md): submission for members, inbound from other
org nodes (and external mail), the Postfix content filter, the spool and its delivery worker.
The configuration names the org directory (ssmax org init), listen addresses, TLS files, the
submission credentials file, Dovecot's LMTP, clamd and the peer org nodes (see org-node/smtp/config.ts);
with "http" it also serves the bundle, CRL, enrollment API and the abuse desk (org-node/abuse).
Keys: SSMAX_KEY_PASSPHRASE or --passphrase-file; a token PIN: SSMAX_TOKEN_PIN or --pin-file.
One JSON line per decision on stdout. Stops on SIGINT/SIGTERM (queued mail stays in the spool).`;

async function run(args: string[]): Promise<ExitCode> {
  const { values } = parse(args, { config: { type: 'string' }, ...keyStoreOptions }, usage);
  const handle = await runNodeFromConfig(required(values, 'config'), secretFiles(values), (e) => console.log(JSON.stringify(e)));
  console.error(`node ${handle.org.config.name}: submission ${handle.node.submissionPort ?? '-'}, inbound ${handle.node.inboundPort ?? '-'}, filter ${handle.node.filterPort ?? '-'}, http ${handle.http ? `${handle.http.url} (abuse desk ${handle.org.config.abuseEndpoint})` : '-'}`);
  await untilInterrupted();
  await handle.stop();
  return ExitCode.ok;
}

export const command: CommandGroup = {
  summary: 'org node mail side: SMTP submission, inbound, content filter, spool (run --config)',
  usage,
  async run(args) {
    const [sub, ...rest] = args;
    if (sub === undefined || sub === '--help' || sub === '-h') {
      console.log(usage);
      return sub === undefined ? ExitCode.usage : ExitCode.ok;
    }
    if (sub !== 'run') throw new UsageError(`unknown subcommand "${sub}" (ssmax node run --config <file>)`);
    return guarded(() => run(rest));
  },
};
