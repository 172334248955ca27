/**
 * Base of every error the org node throws. `userMessage` is one line an IT admin can act on (the CLI
 * prints it as is); `message` may add detail for logs; `cause` keeps the underlying error.
 */
export class OrgNodeError extends Error {
  readonly userMessage: string;

  constructor(userMessage: string, options?: { cause?: unknown; detail?: string }) {
    super(options?.detail ? `${userMessage} (${options.detail})` : userMessage, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.userMessage = userMessage;
  }
}
