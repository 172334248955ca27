/**
 * What every `ssmax` subcommand shares: exit codes, a typed error that carries the one line the
 * user sees, and the shape of a command group module.
 */

/** 0 success; 1 the check failed (e.g. mail not verified, wrong PIN); 2 usage or I/O error. */
export const ExitCode = { ok: 0, failed: 1, usage: 2 } as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An error the CLI prints as one line (no stack) with its exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = ExitCode.failed,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CliError';
  }
}

export class UsageError extends CliError {
  constructor(message: string) {
    super(message, ExitCode.usage);
    this.name = 'UsageError';
  }
}

/** A command group (`ssmax card …`, `ssmax org …`) or a single command (`ssmax verify`). */
export interface CommandGroup {
  /** One line for `ssmax --help`. */
  readonly summary: string;
  /** Usage text for `ssmax <group> --help`. */
  readonly usage: string;
  run(args: string[]): Promise<ExitCode>;
}

/** Resolves on the first SIGINT or SIGTERM: long-running commands (`org serve`, `node run`) then stop cleanly. */
export function untilInterrupted(): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
