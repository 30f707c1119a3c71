// Shared shape of headless subcommands: each module exports `command: Command`.
// Exit codes follow the CLI convention: 0 ok, 1 the checked thing failed, 2 usage error.

export interface Command {
  name: string;
  summary: string;
  usage: string;
  run(argv: string[]): Promise<number>;
}

/** A mistake in how the command was called: printed with the usage, exit 2. */
export class UsageError extends Error {}

/** A failure with a message meant for the user (no stack trace), exit 1 unless given. */
export class UserError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** A reader that goes away (`… | head`) ends the command quietly with exit 0, as Unix tools do. */
export function exitWhenStdoutCloses(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(0);
  });
}
