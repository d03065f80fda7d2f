/**
 * Runs one stage instance into a fresh temp directory and seals it as a cache
 * entry. Used in-process and by worker threads alike.
 *
 * @module
 */
import { Cache, type KeyParts, type Manifest, type MetricRecord } from "./cache.ts";
import type { StageContext, StageKind } from "./types.ts";

/** Everything needed to run an instance (serialisable, so it can go to a worker). */
export interface InstanceJob extends
  Pick<
    StageContext,
    "stage" | "step" | "params" | "seed" | "runtime" | "inputs" | "threads" | "dir"
  > {
  /** The instance's cache key (hash of `keyParts`). */
  key: string;
  /** What the key was computed from; stored in the manifest. */
  keyParts: KeyParts;
  /** Root of the cache the entry is committed to. */
  cacheRoot: string;
}

/** Callbacks for progress and log lines while an instance runs. */
export interface InstanceHooks {
  /** Progress of a long stage: `done` of `total` units, with an optional note. */
  progress(done: number, total: number, note?: string): void;
  /** A line for the user, prefixed with the instance's label. */
  log(message: string): void;
}

/** Error thrown by a stage; carries the stage name and step for the message. */
export class StageError extends Error {
  constructor(readonly stage: string, readonly step: number | null, cause: unknown) {
    const where = step === null ? stage : `${stage}@${step}`;
    super(`${where}: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
    this.name = "StageError";
  }
}

/** Runs the stage and commits its entry; the temp dir is removed on failure. */
export async function runInstance(
  job: InstanceJob,
  kind: StageKind,
  hooks: InstanceHooks,
): Promise<Manifest> {
  const cache = new Cache(job.cacheRoot);
  const tmp = cache.makeTemp(job.key);
  const metrics: MetricRecord[] = [];
  const rowFiles = new Map<string, Deno.FsFile>();
  const logLines: string[] = [];
  const started = performance.now();
  try {
    await kind.run({
      stage: job.stage,
      step: job.step,
      params: job.params,
      seed: job.seed,
      runtime: job.runtime,
      inputs: job.inputs,
      outDir: `${tmp}/out`,
      dir: job.dir,
      threads: job.threads,
      metric(name, value) {
        if (typeof value !== "number" || !Number.isFinite(value)) {
          throw new Error(`metric ${name} is ${value}, not a finite number`);
        }
        metrics.push({ name, value });
      },
      rows(table, rows) {
        if (!/^[a-z_][a-z0-9_]*$/.test(table)) {
          throw new Error(`bad row table name "${table}"`);
        }
        let f = rowFiles.get(table);
        if (!f) {
          f = Deno.openSync(`${tmp}/rows/${table}.jsonl`, {
            create: true,
            append: true,
          });
          rowFiles.set(table, f);
        }
        const text = rows.map((r) => JSON.stringify(r)).join("\n") + "\n";
        f.writeSync(new TextEncoder().encode(text));
      },
      progress: hooks.progress,
      log(message) {
        logLines.push(message);
        hooks.log(message);
      },
    });
    for (const f of rowFiles.values()) f.close();
    rowFiles.clear();
    Deno.writeTextFileSync(`${tmp}/metrics.json`, JSON.stringify(metrics));
    Deno.writeTextFileSync(`${tmp}/log.txt`, logLines.join("\n"));
    return cache.commit(tmp, {
      key: job.key,
      stage: job.stage,
      step: job.step,
      keyParts: job.keyParts,
      createdAt: new Date().toISOString(),
      seconds: (performance.now() - started) / 1000,
      metrics,
    });
  } catch (e) {
    for (const f of rowFiles.values()) f.close();
    try {
      Deno.removeSync(tmp, { recursive: true });
    } catch {
      // Already gone.
    }
    throw e instanceof StageError ? e : new StageError(job.stage, job.step, e);
  }
}
