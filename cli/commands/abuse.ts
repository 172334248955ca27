import { AbuseDesk } from '../../org-node/abuse/desk';
import type { AbuseReport } from '../../org-node/abuse/store';
import { Org } from '../../org-node/org';
import { CliError, ExitCode, UsageError, type CommandGroup } from '../command';
import { actor, guarded, keyStoreOptions, parse, required, secretFiles, type Values } from './node-options';

const usage = `usage: ssmax abuse <command> --dir <org dir> [options]

  list                  the abuse reports received (own members' reports and reports forwarded by other orgs)
  show <id>             one report: the identified sender (from ①'s certificate and the directory) and the chain
  suspend <id>          suspend the reported sender: all their certificates revoked, CRL reissued, logged

Keys (suspend reissues the CRL): SSMAX_KEY_PASSPHRASE or --passphrase-file <f>; a token: --pkcs11-module --token, SSMAX_TOKEN_PIN or --pin-file.
See org-node/abuse/README.md.`;

async function withDesk<T>(values: Values, body: (desk: AbuseDesk, org: Org) => Promise<T>): Promise<T> {
  const org = await Org.open(required(values, 'dir'), secretFiles(values));
  const desk = AbuseDesk.open(org, { resolveAbuseEndpoint: () => Promise.resolve(undefined), log: () => undefined });
  try {
    return await body(desk, org);
  } finally {
    desk.close();
    await org.close();
  }
}

function reportOf(desk: AbuseDesk, id: string | undefined): AbuseReport {
  if (!id) throw new UsageError(`the report id is missing\n${usage}`);
  const r = desk.get(id);
  if (!r) throw new CliError(`no abuse report ${id}`);
  return r;
}

const options = { dir: { type: 'string' }, ...keyStoreOptions } as const;

async function run(args: string[]): Promise<ExitCode> {
  const [sub, ...rest] = args;
  const { values, positionals } = parse(rest, options, usage);
  switch (sub) {
    case 'list':
      await withDesk(values, (desk) => {
        const reports = desk.list();
        if (reports.length === 0) console.log('no abuse reports');
        for (const r of reports) {
          console.log([r.id, r.receivedAt.toISOString(), r.kind, r.state, r.senderEmail ?? '(no sender)', `reported by ${r.reporter}`, `forward ${r.forwardStatus}`, r.action ?? ''].join('\t').trimEnd());
        }
        return Promise.resolve();
      });
      return ExitCode.ok;
    case 'show':
      await withDesk(values, async (desk, org) => {
        const r = reportOf(desk, positionals[0]);
        const { member, certificate } = await desk.identify(r);
        console.log(`report ${r.id} (${r.kind}) received ${r.receivedAt.toISOString()}`);
        console.log(`reported by: ${r.reporter} — ${r.reporterOrg}${r.sourceReportId ? ` (their report ${r.sourceReportId})` : ''}`);
        console.log(`reason: ${r.reason}`);
        console.log(`message: ${r.state}${r.senderVerified ? ', sender certificate (①) valid' : ', sender NOT verified'}`);
        console.log(`forward: ${r.forwardStatus}${r.forwardedTo ? ` to ${r.forwardedTo}` : ''}${r.forwardError ? ` (${r.forwardError})` : ''}`);
        if (r.action) console.log(`action: ${r.action}`);
        if (member) {
          console.log('identified person (this org\'s directory):');
          console.log(`  name:      ${member.name}`);
          console.log(`  staff ID:  ${member.staffId}`);
          console.log(`  address:   ${member.address}`);
          console.log(`  org:       ${org.config.name}`);
          console.log(`  status:    ${member.status}`);
          console.log(`  cert:      serial ${certificate?.serial ?? r.senderSerial ?? '?'}${certificate ? ` (${certificate.slot}${certificate.revokedAt ? `, revoked ${certificate.revokedAt.toISOString()}` : ''})` : ' (not in the directory)'}`);
        } else {
          console.log(`sender per ①'s certificate: ${r.senderName ?? '?'}, staff ID ${r.senderStaffId ?? '?'}, ${r.senderEmail ?? '?'}, ${r.senderOrg ?? '?'}, serial ${r.senderSerial ?? '?'} (not a member of this org)`);
        }
        console.log('chain:');
        for (const l of r.chain) {
          console.log(`  ${l.role.padEnd(14)} ${l.status.padEnd(9)} ${l.email ?? l.domains.join(',')}  ${l.orgName ?? ''}${l.staffId ? `  staff ID ${l.staffId}` : ''}  serial ${l.serial ?? '?'}`);
          for (const f of l.fingerprints) console.log(`      sha256 ${f}`);
        }
      });
      return ExitCode.ok;
    case 'suspend': {
      const done = await withDesk(values, (desk) => desk.suspend(reportOf(desk, positionals[0]).id, actor()));
      console.log(`${done.address} suspended; ${done.revoked} certificate(s) revoked; CRL reissued`);
      return ExitCode.ok;
    }
    default:
      throw new UsageError(`unknown or missing abuse command${sub ? ` "${sub}"` : ''}\n${usage}`);
  }
}

export const command: CommandGroup = {
  summary: 'abuse desk: reported messages, the identified sender, suspend',
  usage,
  run: (args) => guarded(() => run(args)),
};
