/**
 * Error type for mistakes the user can fix (bad arguments, missing files,
 * locked results). The CLI prints these as `error: MESSAGE` without a stack
 * trace and exits with `exitCode`. Also turns file-system failures (disk full,
 * permission denied, read-only file system, a file in the way) into such
 * errors: {@linkcode fileSystemError}.
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

/** The error and its causes, outermost first. */
function chain(e: unknown): unknown[] {
  const out: unknown[] = [];
  for (let x = e; x !== undefined && x !== null && out.length < 8; x = (x as Error).cause) {
    out.push(x);
    if (!(x instanceof Error)) break;
  }
  return out;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function codeOf(e: unknown): string {
  return String((e as { code?: unknown })?.code ?? "");
}

/** True when `e` (or its cause) says the disk is full (ENOSPC). */
export function isDiskFull(e: unknown): boolean {
  return chain(e).some((x) =>
    codeOf(x) === "ENOSPC" || /No space left on device|\(os error 28\)/.test(messageOf(x))
  );
}

/**
 * The path an I/O error names: Deno's `op 'PATH'` or DuckDB's `"PATH"`, or
 * `fallback`.
 */
export function errorPath(e: unknown, fallback: string): string {
  for (const x of chain(e)) {
    const m = /'([^']+)'/.exec(messageOf(x)) ?? /"([^"]+)"/.exec(messageOf(x));
    if (m) return m[1];
  }
  return fallback;
}

/**
 * A one-line {@linkcode UserError} for a file-system failure the user can fix
 * (disk full, permission denied, read-only file system, a file where a
 * directory should be) while writing results under `dir`, or null for any
 * other error.
 */
export function fileSystemError(e: unknown, dir: string): UserError | null {
  if (e instanceof UserError) return e;
  const all = chain(e);
  const text = all.map(messageOf).join("\n");
  const codes = all.map(codeOf);
  const dirname = (p: string) => p.includes("/") ? p.slice(0, p.lastIndexOf("/")) || "/" : ".";
  const named = errorPath(e, "");
  let path = named || dir;
  // The directory that refused the write (to make writable).
  const parent = named ? dirname(named) : dir;
  // The lock's private temp file: name its directory instead.
  if (/^\.lock\./.test(path.slice(parent.length + 1))) path = parent;
  if (isDiskFull(e)) {
    return new UserError(
      `no space left on the device while writing ${
        named ? path : `under ${dir}`
      }: free some space there (or pass --results DIR on another disk) and run again; finished instances stay cached`,
    );
  }
  if (codes.includes("EROFS") || /Read-only file system|\(os error 30\)/.test(text)) {
    return new UserError(
      `cannot write ${path}: it is on a read-only file system; pass --results DIR on a writable disk`,
    );
  }
  if (
    all.some((x) => x instanceof Deno.errors.PermissionDenied) ||
    codes.includes("EACCES") || codes.includes("EPERM") ||
    /Permission denied|Operation not permitted|\(os error (1|13)\)/.test(text)
  ) {
    return new UserError(
      `cannot write ${path}: permission denied; make ${parent} writable or pass --results DIR with a writable directory`,
    );
  }
  if (
    all.some((x) => x instanceof Deno.errors.NotADirectory) || codes.includes("ENOTDIR") ||
    /Not a directory|\(os error 20\)/.test(text)
  ) {
    return new UserError(
      `cannot create ${path}: a part of it is a file, not a directory; pass --results DIR naming a directory`,
    );
  }
  return null;
}
