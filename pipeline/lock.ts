/**
 * One writer per results directory: an advisory lock file `<dir>/.lock`
 * holding JSON `{pid, since, host, cmd}` of the holder.
 *
 * The file is created atomically with its full content (written to a private
 * temp file, then hard-linked to `.lock`, which fails if it exists), so a
 * reader never sees a half-written lock. A lock whose holder is dead (same host,
 * no `/proc/<pid>`, or a zombie not yet reaped) is taken over; a second guard
 * file (`.lock.takeover`, created with `createNew`) makes sure only one process
 * takes it over.
 *
 * @module
 */
import { join } from "node:path";
import { UserError } from "./errors.ts";

/** Content of a lock file. */
export interface LockHolder {
  pid: number;
  /** ISO time the lock was taken. */
  since: string;
  host: string;
  cmd: string;
}

/** Options of `acquireLock`. */
export interface LockOptions {
  /** Wait until the lock is free instead of failing. */
  wait?: boolean;
  /** Poll interval while waiting (ms, default 500). */
  pollMs?: number;
  /** Called once when the lock is busy and `wait` is set. */
  onWait?: (holder: LockHolder) => void;
  /** Called with a note when a stale lock is taken over (default: console.error). */
  onNote?: (message: string) => void;
}

/** A held lock. */
export interface Lock {
  /** Path of the lock file. */
  readonly path: string;
  /** What the lock file says about us. */
  readonly holder: LockHolder;
  /** Removes the lock file (if still ours) and the exit handlers; idempotent. */
  release(): void;
}

const LOCK_FILE = ".lock";
/** A takeover guard older than this is considered abandoned. */
const GUARD_STALE_MS = 10_000;

/**
 * Takes the lock of results directory `dir` (created if missing). If another
 * live process holds it: throws a `UserError`, or with `wait` polls until it
 * is free. The lock is released by `release()`, at normal exit, and on
 * SIGINT/SIGTERM (which then exit with 130/143).
 */
export async function acquireLock(
  dir: string,
  opts: LockOptions = {},
): Promise<Lock> {
  await Deno.mkdir(dir, { recursive: true });
  const path = join(dir, LOCK_FILE);
  const note = opts.onNote ?? ((m: string) => console.error(m));
  let waiting = false;
  for (;;) {
    const me: LockHolder = {
      pid: Deno.pid,
      since: new Date().toISOString(),
      host: Deno.hostname(),
      cmd: [Deno.mainModule.replace(/^file:\/\//, ""), ...Deno.args].join(" "),
    };
    if (await tryCreate(path, me)) return heldLock(path, me);
    const holder = await readHolder(path);
    if (holder === undefined) continue; // vanished meanwhile: retry at once
    if (holder !== null && isAlive(holder)) {
      if (!opts.wait) {
        throw new UserError(
          `results directory ${dir} is locked by PID ${holder.pid}${
            holder.host === Deno.hostname() ? "" : ` on ${holder.host}`
          } (since ${holder.since}); use --wait to wait for it`,
        );
      }
      if (!waiting) opts.onWait?.(holder);
      waiting = true;
      await sleep(opts.pollMs ?? 500);
      continue;
    }
    if (await takeOver(path, holder)) {
      note(
        holder
          ? `note: taking over stale lock of ${dir} (PID ${holder.pid} since ${holder.since} is gone)`
          : `note: removing unreadable lock file ${path}`,
      );
    } else {
      await sleep(Math.min(opts.pollMs ?? 500, 50));
    }
  }
}

/** Reads the holder of a lock file: undefined when missing, null when unreadable. */
export async function readHolder(
  path: string,
): Promise<LockHolder | null | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  try {
    const h = JSON.parse(text);
    if (typeof h?.pid === "number" && typeof h?.since === "string") {
      return {
        pid: h.pid,
        since: h.since,
        host: String(h.host ?? ""),
        cmd: String(h.cmd ?? ""),
      };
    }
  } catch {
    // fall through: unreadable
  }
  return null;
}

/** Creates the lock file atomically with `me` as content; false if it exists. */
async function tryCreate(path: string, me: LockHolder): Promise<boolean> {
  const tmp = `${path}.${Deno.pid}.${crypto.randomUUID()}`;
  await Deno.writeTextFile(tmp, JSON.stringify(me) + "\n");
  try {
    await Deno.link(tmp, path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) return false;
    throw e;
  } finally {
    await Deno.remove(tmp).catch(() => {});
  }
}

/** Whether the holder process still runs (always true for another host). */
function isAlive(h: LockHolder): boolean {
  if (h.host !== Deno.hostname()) return true;
  if (h.pid === Deno.pid) return true;
  return processAlive(h.pid);
}

/**
 * True when process `pid` runs on this machine. A zombie (killed or exited
 * but not yet reaped by its parent: state Z or X in `/proc/<pid>/stat`) is
 * dead. Without `/proc` (not Linux) the answer is `ifUnknown`.
 */
export function processAlive(pid: number, ifUnknown = true): boolean {
  let stat: string;
  try {
    stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) return ifUnknown;
    try {
      Deno.statSync("/proc/self/stat");
      return false; // /proc works and the pid is not in it
    } catch {
      return ifUnknown;
    }
  }
  // "PID (COMM) STATE …": COMM may hold spaces and parentheses, so the state
  // follows the last ')'.
  const state = stat.slice(stat.lastIndexOf(")") + 1).trim()[0];
  return state !== "Z" && state !== "X";
}

/**
 * Removes a stale lock whose content is `stale`, under a guard file so two
 * processes never both remove (and one then delete the other's fresh lock).
 * Returns false if another process holds the guard.
 */
async function takeOver(
  path: string,
  stale: LockHolder | null,
): Promise<boolean> {
  const guard = `${path}.takeover`;
  try {
    (await Deno.open(guard, { write: true, createNew: true })).close();
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    const st = await Deno.stat(guard).catch(() => null);
    if (st?.mtime && Date.now() - st.mtime.getTime() > GUARD_STALE_MS) {
      await Deno.remove(guard).catch(() => {});
    }
    return false;
  }
  try {
    const now = await readHolder(path);
    if (now !== undefined && JSON.stringify(now) === JSON.stringify(stale)) {
      await Deno.remove(path).catch(() => {});
    }
    return true;
  } finally {
    await Deno.remove(guard).catch(() => {});
  }
}

function heldLock(path: string, me: LockHolder): Lock {
  let released = false;
  const signals: [Deno.Signal, number][] = Deno.build.os === "windows"
    ? [["SIGINT", 130]]
    : [["SIGINT", 130], ["SIGTERM", 143]];
  const handlers = signals.map(([sig, code]) => {
    const fn = () => {
      release();
      Deno.exit(code);
    };
    Deno.addSignalListener(sig, fn);
    return [sig, fn] as const;
  });
  const onUnload = () => release();
  globalThis.addEventListener("unload", onUnload);

  function release(): void {
    if (released) return;
    released = true;
    for (const [sig, fn] of handlers) Deno.removeSignalListener(sig, fn);
    globalThis.removeEventListener("unload", onUnload);
    try {
      const now = JSON.parse(Deno.readTextFileSync(path));
      if (now.pid === me.pid && now.since === me.since) Deno.removeSync(path);
    } catch {
      // already gone or replaced: nothing to release
    }
  }
  return { path, holder: me, release };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
