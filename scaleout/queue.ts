/**
 * The job queue: pg-boss on PostgreSQL. One queue carries ready stage instances; a job's
 * singleton key is the instance key and the queue's `exclusive` policy lets at most one job
 * per key be queued or running, so a key is never queued twice (two coordinators submitting
 * the same instance share one job). Workers hold a job with heartbeats: a worker that dies
 * stops beating, pg-boss's supervisor puts the job back (retry) and another worker takes it.
 *
 * @module
 */
import { PgBoss } from "pg-boss";
import { UserError } from "../pipeline/errors.ts";
import type { InstanceJob } from "../pipeline/run_instance.ts";
import { parseCacheUrl, RemoteCache } from "./s3_store.ts";

/** Name of the pg-boss queue of stage instances. */
export const QUEUE = "hicra-instances";

/** Seconds between a worker's heartbeats before its job is taken back (pg-boss's minimum is 10). */
export const HEARTBEAT_SECONDS = 10;

/** What a job carries: an instance as the executor would run it, plus what a remote worker needs. */
export interface JobData {
  /** The instance; `cacheRoot`, `threads` and input `dir`s are the coordinator's, replaced by the worker. */
  job: InstanceJob;
  kind: string;
  /** Compute even if the entry exists (--force). */
  force: boolean;
  /** Instance key of each input (its entry is in the shared cache). */
  inputKeys: Record<string, string>;
  /** Registry module: a path relative to the repository root, or a URL. */
  registry: string;
  /** The experiment's plug-ins (paths relative to the repository root where possible). */
  plugins: { path: string; url: string; hash: string }[];
  label: string;
}

/** What a worker reports when it completes a job. */
export type JobOutput =
  | { ok: true; outputHash: string; computed: boolean; seconds: number; worker: string }
  | { ok: false; error: string; worker: string };

/** Connection settings of a pg-boss instance. */
export interface ConnectOptions {
  /** Run pg-boss's supervisor here (expiry of lapsed heartbeats); every process does. */
  supervise?: boolean;
  /** Database connections of this process's pool. */
  max?: number;
}

/** Opens pg-boss on `url` and makes sure the queue exists; a UserError names the URL and the fix. */
export async function connectQueue(url: string, opts: ConnectOptions = {}): Promise<PgBoss> {
  if (!/^postgres(ql)?:\/\//.test(url)) {
    throw new UserError(
      `--queue ${url}: expected a PostgreSQL URL, e.g. postgres://user@host:5432/db`,
    );
  }
  const boss = new PgBoss({
    connectionString: url,
    max: opts.max ?? 4,
    connectionTimeoutMillis: 5000,
    supervise: opts.supervise ?? true,
    // Lapsed heartbeats are found within seconds, not the default minute.
    superviseIntervalSeconds: 2,
    monitorIntervalSeconds: 2,
    schedule: false,
    registerInstance: false,
    openTelemetry: { enabled: false },
  });
  // Connection drops after start are reported by the calls that fail; keep pg-boss quiet.
  boss.on("error", () => {});
  try {
    await boss.start();
    await ensureQueue(boss);
  } catch (e) {
    await boss.stop({ graceful: false, close: true }).catch(() => {});
    throw queueError(url, e) ?? e;
  }
  return boss;
}

/**
 * Opens the shared cache bucket when `cacheUrl` is given (probed first, so an
 * unreachable one fails before the queue is touched), then the queue; a
 * failure closes what was opened and rethrows.
 */
export async function connectShared(
  queueUrl: string,
  cacheUrl: string | undefined,
  opts: ConnectOptions = {},
): Promise<{ boss: PgBoss; remote: RemoteCache | null }> {
  const remote = cacheUrl ? new RemoteCache(parseCacheUrl(cacheUrl)) : null;
  try {
    await remote?.probe();
    return { boss: await connectQueue(queueUrl, opts), remote };
  } catch (e) {
    remote?.close();
    throw e;
  }
}

/** Creates the instance queue if it does not exist. */
async function ensureQueue(boss: PgBoss): Promise<void> {
  if (await boss.getQueue(QUEUE)) return;
  try {
    await boss.createQueue(QUEUE, {
      policy: "exclusive",
      heartbeatSeconds: HEARTBEAT_SECONDS,
      // Heartbeats bound a dead worker; this bounds a hung one (a day).
      expireInSeconds: 24 * 3600,
      retryLimit: 3,
      deleteAfterSeconds: 7 * 24 * 3600,
    });
  } catch (e) {
    // Another process created it at the same moment.
    if (!(await boss.getQueue(QUEUE))) throw e;
  }
}

/** A clear error for an unreachable or refusing database, or null for other failures. */
export function queueError(url: string, e: unknown): UserError | null {
  const text = chain(e);
  const shown = url.replace(/:\/\/([^:@/]+):[^@/]*@/, "://$1:***@");
  if (
    /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|timeout expired|Connection terminated/i
      .test(text)
  ) {
    return new UserError(
      `cannot reach the job queue at ${shown} (${brief(text)}); start PostgreSQL ` +
        `(bash scripts/services.sh start prints its URL) or check --queue`,
    );
  }
  if (/does not exist|password authentication|no pg_hba|permission denied/i.test(text)) {
    return new UserError(`the job queue at ${shown} refused us: ${brief(text)}; check --queue`);
  }
  return null;
}

function chain(e: unknown): string {
  const parts: string[] = [];
  for (let x = e, i = 0; x && i < 6; x = (x as { cause?: unknown }).cause, i++) {
    const o = x as { message?: string; code?: string };
    parts.push([o.code, o.message].filter(Boolean).join(" "));
    const errors = (x as { errors?: unknown[] }).errors;
    if (Array.isArray(errors)) { for (const sub of errors) parts.push(chain(sub)); }
  }
  return parts.join(" | ");
}

function brief(text: string): string {
  const m = /(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH)[^|]*/.exec(text);
  return (m ? m[0] : text.split(" | ")[0]).trim().slice(0, 160);
}

/** Repository root (the parent of `scaleout/`), as a file URL ending in "/". */
export const REPO_ROOT = new URL("../", import.meta.url).href;

/** A module URL as a path relative to the repository root when it is inside it. */
export function portableModule(url: string): string {
  return url.startsWith(REPO_ROOT) ? url.slice(REPO_ROOT.length) : url;
}

/** The module URL of a portable name, resolved in this checkout (only local files are imported). */
export function resolveModule(name: string): string {
  if (name.startsWith("file:")) return name;
  if (/^[a-z]+:/.test(name) || name.startsWith("/") || name.split("/").includes("..")) {
    throw new Error(`refusing to import stage module ${name}: not a file of this checkout`);
  }
  return new URL(name, REPO_ROOT).href;
}
