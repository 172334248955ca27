import { CliError, ExitCode, UsageError, type CommandGroup } from './command';

/**
 * Command groups, loaded on demand so that `ssmax verify` does not load the PC/SC binding and
 * `ssmax card` does not open a database. Each group lives in cli/commands/<name>.ts and exports
 * `command: CommandGroup`.
 */
const groups: Record<string, () => Promise<{ command: CommandGroup }>> = {
  abuse: () => import('./commands/abuse'),
  authority: () => import('./commands/authority'),
  card: () => import('./commands/card'),
  countersign: () => import('./commands/countersign'),
  decrypt: () => import('./commands/decrypt'),
  encrypt: () => import('./commands/encrypt'),
  node: () => import('./commands/node'),
  org: () => import('./commands/org'),
  sign: () => import('./commands/sign'),
  verify: () => import('./commands/verify'),
};

export function registeredGroups(): string[] {
  return Object.keys(groups).sort();
}

function overview(summaries: Record<string, string>): string {
  const lines = Object.entries(summaries).map(([name, summary]) => `  ${name.padEnd(12)} ${summary}`);
  return ['usage: ssmax <command> [options]', '', 'commands:', ...lines, '', 'ssmax <command> --help for its options'].join('\n');
}

export async function main(argv: string[]): Promise<ExitCode> {
  const [name, ...rest] = argv;
  try {
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      const summaries: Record<string, string> = {};
      for (const g of registeredGroups()) summaries[g] = (await groups[g]!()).command.summary;
      console.log(overview(summaries));
      return name === undefined ? ExitCode.usage : ExitCode.ok;
    }
    const load = groups[name];
    if (!load) throw new UsageError(`unknown command "${name}" (ssmax --help lists the commands)`);
    const { command } = await load();
    if (rest[0] === '--help' || rest[0] === '-h') {
      console.log(command.usage);
      return ExitCode.ok;
    }
    return await command.run(rest);
  } catch (err) {
    if (err instanceof CliError) {
      console.error(`ssmax: ${err.message}`);
      return err.exitCode;
    }
    // Anything else is a bug or an I/O failure: still one line, never a stack trace for the user.
    const detail = err instanceof Error ? err.message : String(err);
    console.error(`ssmax: ${detail}`);
    if (process.env.SSMAX_DEBUG === '1' && err instanceof Error) console.error(err.stack);
    return ExitCode.usage;
  }
}
