/**
 * Base of every error the S/MIME core throws. `userMessage` is safe to show to an employee or an
 * IT admin as is (no stack, no internals); `message` may carry detail for logs; `cause` keeps the
 * underlying error so nothing is lost when an error crosses a layer.
 */
export class SmimeError extends Error {
  readonly userMessage: string;

  constructor(userMessage: string, options?: { cause?: unknown; detail?: string }) {
    super(options?.detail ? `${userMessage} (${options.detail})` : userMessage, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.userMessage = userMessage;
  }
}
