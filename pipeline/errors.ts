/**
 * Error type for mistakes the user can fix (bad arguments, missing files,
 * locked results). The CLI prints these as `error: MESSAGE` without a stack
 * trace and exits with `exitCode`.
 *
 * @module
 */

/** A user-facing error: a clear one-line message, printed without a stack trace. */
export class UserError extends Error {
  /** Process exit code the CLI uses for this error. */
  exitCode = 2;

  /** Creates a user error with a one-line message. */
  constructor(message: string) {
    super(message);
    this.name = "UserError";
  }
}
