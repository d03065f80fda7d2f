/**
 * The coordinator side of the scale-out executor: an {@linkcode ExecutorBackend} that hands
 * ready instances to worker processes through the pg-boss queue and brings their entries
 * back from the shared bucket. The executor keeps the DAG, the keys, early cutoff and the
 * DuckDB ingestion; this module only carries instances and entries.
 *
 * - Before a job is sent, its inputs are made available in the bucket (uploaded if only the
 *   local cache has them).
 * - `send` with `singletonKey` = instance key on an `exclusive` queue: if a job of that key is
 *   already queued or running (another coordinator, or this one before a restart), that job
 *   is awaited instead of a second one.
 * - Completion is found by one batched query over the awaited job ids every few ms.
 *
 * @module
 */
import type { PgBoss } from "pg-boss";
import { Cache, type Manifest } from "../pipeline/cache.ts";
import type { ExecutorBackend } from "../pipeline/executor.ts";
import type { InstanceHooks, InstanceJob } from "../pipeline/run_instance.ts";
import { StageError } from "../pipeline/run_instance.ts";
import {
  connectShared,
  type JobData,
  type JobOutput,
  portableModule,
  QUEUE,
  queueError,
} from "./queue.ts";
import type { RemoteCache } from "./s3_store.ts";

/** Options of the queue backend. */
export interface QueueBackendOptions {
  /** `postgres://…` of the pg-boss database. */
  queueUrl: string;
  /** `s3://bucket/prefix`; without it, workers must share the coordinator's results directory. */
  cacheUrl?: string;
  /** The coordinator's local cache root (`<results>/cache`). */
  cacheRoot: string;
  /** Module exporting `registry` (a file URL). */
  registryModule: string;
  plugins?: { path: string; url: string; hash: string }[];
  /** Instances queued at once (default 64; the workers bound what runs). */
  concurrency?: number;
  /** Warning lines (corrupt remote entries). */
  report?: (line: string) => void;
  /** Poll interval for job states, ms (default 5). */
  pollMs?: number;
}

/** Runs instances on worker processes through pg-boss, with the bucket as second cache level. */
export class QueueBackend implements ExecutorBackend {
  readonly concurrency: number;
  #boss: PgBoss;
  #remote: RemoteCache | null;
  #cache: Cache;
  #opts: QueueBackendOptions;
  #waiter: JobWaiter;
  /** Keys looked up in vain by fetch(): their run() is an ordinary miss, not a --force. */
  #missed = new Set<string>();

  private constructor(boss: PgBoss, remote: RemoteCache | null, opts: QueueBackendOptions) {
    this.#boss = boss;
    this.#remote = remote;
    this.#opts = opts;
    this.#cache = new Cache(opts.cacheRoot);
    this.concurrency = opts.concurrency ?? 64;
    this.#waiter = new JobWaiter(boss, opts.queueUrl, opts.pollMs ?? 5);
  }

  /** Connects to the queue and the bucket; a UserError names an unreachable one. */
  static async open(opts: QueueBackendOptions): Promise<QueueBackend> {
    const { boss, remote } = await connectShared(opts.queueUrl, opts.cacheUrl);
    return new QueueBackend(boss, remote, opts);
  }

  /** Pulls a finished entry from the bucket into the local cache (a corrupt one is reported). */
  async fetch(key: string, label: string): Promise<boolean> {
    this.#missed.add(key);
    if (!this.#remote) return false;
    const got = await this.#remote.pull(this.#cache, key);
    if (got.status === "corrupt") {
      this.#opts.report?.(
        `  warning: the shared cache entry ${
          key.slice(0, 12)
        } of ${label} in ${this.#remote.describe()} is corrupt (${got.reason}); recomputing it`,
      );
    }
    return got.status === "fetched";
  }

  /** Queues the instance (or joins the job already queued for its key) and waits for its entry. */
  async run(job: InstanceJob, kind: string, _hooks: InstanceHooks): Promise<Manifest> {
    const inputKeys: Record<string, string> = {};
    for (const [name, input] of Object.entries(job.inputs)) {
      // An input's dir is `<cache>/entries/<xx>/<key>/out`: its key names the entry.
      const key = input.dir.split("/").at(-2)!;
      inputKeys[name] = key;
      await this.#remote?.push(this.#cache, key);
    }
    // run() without a failed fetch() first is a forced rerun, or the rebuild of a pruned
    // entry: a forced one must be computed again even though the bucket holds it.
    const local = this.#missed.delete(job.key) ? null : this.#cache.lookup(job.key, false);
    const force = local?.status === "hit" ? !local.manifest.pruned : local !== null;
    const data: JobData = {
      job,
      kind,
      force,
      inputKeys,
      registry: portableModule(this.#opts.registryModule),
      plugins: (this.#opts.plugins ?? []).map((p) => ({ ...p, url: portableModule(p.url) })),
      label: job.step === null ? job.stage : `${job.stage}@${job.step}`,
    };
    for (;;) {
      const id = await this.#submit(job.key, data);
      const { state, output } = await this.#waiter.wait(id);
      if (state === "completed") {
        const out = output as JobOutput;
        if (!out?.ok) {
          throw new StageError(job.stage, job.step, new Error(out?.error ?? "failed on a worker"));
        }
        return await this.#bringHome(job.key, data.label);
      }
      if (state === "failed") {
        const msg = (output as { message?: string; value?: { message?: string } }) ?? {};
        throw new StageError(
          job.stage,
          job.step,
          new Error(`failed on the workers: ${msg.message ?? msg.value?.message ?? "no reason"}`),
        );
      }
      // Cancelled or deleted by an operator: queue it again.
    }
  }

  /** Stops polling and closes the queue and bucket connections. */
  async close(): Promise<void> {
    this.#waiter.stop();
    await this.#boss.stop({ graceful: false, close: true }).catch(() => {});
    this.#remote?.close();
  }

  /** Sends the job, or finds the one of the same key that is queued or running. */
  async #submit(key: string, data: JobData): Promise<string> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const id = await this.#db(() => this.#boss.send(QUEUE, data, { singletonKey: key }));
      if (id) return id;
      const jobs = await this.#db(() => this.#boss.findJobs(QUEUE, { key }));
      const live = jobs.filter((j) => ["created", "retry", "active"].includes(j.state));
      if (live.length) return live[live.length - 1].id;
      // It settled between our send and our look: send again.
    }
    throw new Error(`could not queue instance ${key.slice(0, 12)}`);
  }

  /** The entry of a completed job in the local cache (downloaded from the bucket if needed). */
  async #bringHome(key: string, label: string): Promise<Manifest> {
    let found = this.#cache.lookup(key);
    if (found.status === "hit" && !found.manifest.pruned) return found.manifest;
    if (this.#remote) {
      const got = await this.#remote.pull(this.#cache, key, true);
      if (got.status === "fetched") return got.manifest;
      if (got.status === "corrupt") {
        throw new Error(
          `${label}: the worker's entry in the shared cache is corrupt (${got.reason})`,
        );
      }
      found = this.#cache.lookup(key);
      if (found.status === "hit") return found.manifest;
    }
    throw new Error(
      `${label}: a worker computed it but its entry is not in ${
        this.#remote ? this.#remote.describe() : this.#cache.root
      }; without --cache s3://… the workers must use this results directory`,
    );
  }

  async #db<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw queueError(this.#opts.queueUrl, e) ?? e;
    }
  }
}

/** Waits for jobs to settle with one query per tick over all awaited ids. */
class JobWaiter {
  #waiting = new Map<
    string,
    { resolve: (r: { state: string; output: unknown }) => void; reject: (e: unknown) => void }[]
  >();
  #timer: ReturnType<typeof setTimeout> | null = null;
  #stopped = false;

  constructor(private boss: PgBoss, private url: string, private pollMs: number) {}

  wait(id: string): Promise<{ state: string; output: unknown }> {
    return new Promise((resolve, reject) => {
      const list = this.#waiting.get(id) ?? [];
      list.push({ resolve, reject });
      this.#waiting.set(id, list);
      this.#schedule();
    });
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #schedule(): void {
    if (this.#timer !== null || this.#stopped || this.#waiting.size === 0) return;
    this.#timer = setTimeout(() => this.#tick(), this.pollMs);
  }

  async #tick(): Promise<void> {
    const ids = [...this.#waiting.keys()];
    try {
      // pg-boss's job table: one indexed lookup for every awaited job.
      const { rows } = await this.boss.getDb().executeSql(
        `select id::text as id, state::text as state, output from pgboss.job
          where name = $1 and id = any($2::uuid[]) and state in ('completed', 'failed', 'cancelled')`,
        [QUEUE, ids],
      );
      for (const r of rows) {
        for (const w of this.#waiting.get(r.id) ?? []) {
          w.resolve({ state: r.state, output: r.output });
        }
        this.#waiting.delete(r.id);
      }
    } catch (e) {
      const err = queueError(this.url, e) ?? e;
      for (const list of this.#waiting.values()) for (const w of list) w.reject(err);
      this.#waiting.clear();
    }
    this.#timer = null;
    this.#schedule();
  }
}
