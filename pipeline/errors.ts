/**
 * Error type for mistakes the user can fix (bad arguments, missing files,
 * locked results). The CLI prints these as `error: MESSAGE` without a stack
 * trace and exits with `exitCode`. Also turns file-system failures (disk full,
 * permission denied, read-only file system, a file in the way) into such
 * errors: {@linkcode fileSystemError}.
 *
 * @module
 */
import { suggest } from "./suggest.ts";

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
  // Only quoted text that looks like a path: DuckDB also quotes whole
  // messages ("Failed to create checkpoint …: Could not write file …").
  const looksLikePath = (t: string) => /^(\/|\.\.?\/)\S/.test(t) || /^[^\s/]+\/\S*$/.test(t);
  for (const x of chain(e)) {
    for (const m of messageOf(x).matchAll(/'([^']+)'|"([^"]+)"/g)) {
      const text = m[1] ?? m[2];
      if (looksLikePath(text)) return text;
    }
  }
  return fallback;
}

/** Free KiB on the file system that holds `path` (POSIX `df`), or undefined. */
export function freeKiB(path: string): number | undefined {
  try {
    const out = new Deno.Command("df", { args: ["-Pk", path], stdout: "piped", stderr: "null" })
      .outputSync();
    if (!out.success) return undefined;
    const last = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
    const free = Number(last.split(/\s+/)[3]);
    return Number.isFinite(free) ? free : undefined;
  } catch {
    return undefined;
  }
}

/** KiB the files under `dir` occupy on disk (allocated blocks), or undefined. */
export function usedKiB(dir: string): number | undefined {
  let bytes = 0;
  const walk = (d: string) => {
    for (const e of Deno.readDirSync(d)) {
      const path = `${d}/${e.name}`;
      if (e.isDirectory) walk(path);
      else {
        const info = Deno.lstatSync(path);
        bytes += info.blocks !== null ? info.blocks * 512 : info.size;
      }
    }
  };
  try {
    walk(dir);
    return Math.ceil(bytes / 1024);
  } catch {
    return undefined;
  }
}

/**
 * `F KiB free on that device; the results so far take U KiB; ` (the parts
 * that could be measured): the space the rest of the run needs comes on top
 * of what it wrote so far.
 */
function spaceNote(dir: string): string {
  const free = freeKiB(dir);
  const used = usedKiB(dir);
  return [
    free !== undefined ? `${free} KiB free on that device; ` : "",
    used !== undefined ? `the results so far take ${used} KiB; ` : "",
  ].join("");
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
      }: free some space there (${
        spaceNote(dir)
      }or pass --results DIR on another disk) and run again; finished instances stay cached`,
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

/**
 * A {@linkcode UserError} for a command line that `parseArgs` refused: an
 * unknown option gets the closest option of `usage` and a pointer to
 * `--help`; anything else keeps its message, followed by the usage text.
 */
export function argsError(e: unknown, usage: string): UserError {
  const message = e instanceof Error ? e.message : String(e);
  const unknown = /Unknown option '([^']+)'/.exec(message);
  if (unknown) {
    const options = [...new Set(usage.match(/--[a-z][a-z-]*/g) ?? [])];
    const word = unknown[1];
    const match = suggest(word, options);
    return new UserError(
      `unknown option ${word}${match ? `; did you mean ${match}?` : ""} (--help lists the options)`,
    );
  }
  return new UserError(`${message}\n\n${usage}`);
}
