/**
 * The worker side of the scale-out executor: takes ready stage instances from the pg-boss
 * queue, one at a time, and runs each exactly as the in-process executor does
 * (`runInstance`), into its own local cache; then uploads the entry to the shared bucket
 * and completes the job. While an instance runs the worker sends heartbeats; if it dies,
 * pg-boss takes the job back after {@linkcode HEARTBEAT_SECONDS} and another worker runs it.
 *
 * A job whose entry is already in the bucket (a second coordinator, a restarted one) is
 * completed without computing. A stage failure is deterministic: it completes the job with
 * the error (no retry); anything else (a lost bucket, a full disk) fails the job, which
 * pg-boss retries.
 *
 * @module
 */
import { Cache } from "../pipeline/cache.ts";
import { withPlugins } from "../pipeline/plugins.ts";
import { runInstance, StageError } from "../pipeline/run_instance.ts";
import type { StageRegistry } from "../pipeline/types.ts";
import {
  connectShared,
  HEARTBEAT_SECONDS,
  type JobData,
  type JobOutput,
  QUEUE,
  queueError,
  resolveModule,
} from "./queue.ts";
import type { RemoteCache } from "./s3_store.ts";

/** Options of a worker. */
export interface WorkerOptions {
  queueUrl: string;
  cacheUrl?: string;
  /** Local results directory; the worker's cache is `<resultsDir>/cache`. */
  resultsDir: string;
  /** Log lines (one per job taken and finished). */
  log?: (line: string) => void;
  /** Stops taking jobs when aborted (the running one finishes first). */
  signal?: AbortSignal;
  /** Longest sleep between empty fetches, ms (default 10). */
  idleMs?: number;
}

/** Runs the worker loop until `signal` aborts; resolves with the number of jobs handled. */
export async function runWorker(opts: WorkerOptions): Promise<number> {
  const { boss, remote } = await connectShared(opts.queueUrl, opts.cacheUrl, { max: 3 });
  const cache = new Cache(`${opts.resultsDir}/cache`);
  cache.cleanStaleTemps();
  const name = `${Deno.hostname()}:${Deno.pid}`;
  const log = opts.log ?? (() => {});
  const registries = new Map<string, Promise<StageRegistry>>();
  let handled = 0;
  let idle = 1;
  log(`ready (queue ${QUEUE}${remote ? `, cache ${remote.describe()}` : ""})`);
  try {
    while (!opts.signal?.aborted) {
      let jobs;
      try {
        jobs = await boss.fetch<JobData>(QUEUE, { batchSize: 1 });
      } catch (e) {
        throw queueError(opts.queueUrl, e) ?? e;
      }
      if (!jobs.length) {
        // Back off while the queue is empty: 1, 2, 4, … ms up to idleMs.
        await sleep(idle, opts.signal);
        idle = Math.min(idle * 2, opts.idleMs ?? 10);
        continue;
      }
      idle = 1;
      const job = jobs[0];
      const attempt = { id: job.id, retryCount: job.retryCount };
      log(
        `took ${job.data.label} ${job.data.job.key.slice(0, 12)} (attempt ${job.retryCount + 1})`,
      );
      const beat = setInterval(
        () => boss.touch(QUEUE, attempt).catch(() => {}),
        (HEARTBEAT_SECONDS * 1000) / 3,
      );
      let output: JobOutput;
      try {
        output = await handle(job.data, cache, remote, registries, name);
      } catch (e) {
        clearInterval(beat);
        log(`failed ${job.data.label}: ${e instanceof Error ? e.message : e}`);
        await boss.fail(QUEUE, attempt, { message: e instanceof Error ? e.message : String(e) })
          .catch(() => {});
        handled++;
        continue;
      }
      clearInterval(beat);
      await boss.complete(QUEUE, attempt, output);
      log(
        output.ok
          ? `${output.computed ? "computed" : "reused"} ${job.data.label}`
          : `stage failed ${job.data.label}: ${output.error}`,
      );
      handled++;
    }
  } finally {
    await boss.stop({ graceful: false, close: true }).catch(() => {});
    remote?.close();
  }
  return handled;
}

/** Runs one job; throws only for failures worth a retry. */
async function handle(
  data: JobData,
  cache: Cache,
  remote: RemoteCache | null,
  registries: Map<string, Promise<StageRegistry>>,
  worker: string,
): Promise<JobOutput> {
  const key = data.job.key;
  // Already done (by an earlier attempt, or for another coordinator): nothing to compute.
  if (remote && !data.force) {
    const got = await remote.pull(cache, key);
    if (got.status === "fetched") {
      return { ok: true, outputHash: got.manifest.outputHash, computed: false, seconds: 0, worker };
    }
    // Missing or corrupt in the bucket: upload this worker's copy, or compute it.
  }
  const local = cache.lookup(key);
  if (local.status === "hit" && !local.manifest.pruned && !data.force) {
    await remote?.push(cache, key, true);
    return { ok: true, outputHash: local.manifest.outputHash, computed: false, seconds: 0, worker };
  }
  const inputs: typeof data.job.inputs = {};
  for (const [name, input] of Object.entries(data.job.inputs)) {
    const inKey = data.inputKeys[name];
    let found = cache.lookup(inKey);
    if ((found.status !== "hit" || found.manifest.pruned) && remote) {
      const got = await remote.pull(cache, inKey);
      if (got.status === "corrupt") {
        return {
          ok: false,
          error: `input ${name}: shared cache entry is corrupt (${got.reason})`,
          worker,
        };
      }
      found = cache.lookup(inKey);
    }
    if (found.status !== "hit" || found.manifest.pruned) {
      return {
        ok: false,
        error: `input ${name} (${
          inKey.slice(0, 12)
        }) is in neither this worker's cache nor the shared one`,
        worker,
      };
    }
    if (found.manifest.outputHash !== input.hash) {
      return {
        ok: false,
        error: `input ${name}: entry does not have the expected output hash`,
        worker,
      };
    }
    inputs[name] = { ...input, dir: `${found.dir}/out` };
  }
  const regKey = JSON.stringify([data.registry, data.plugins]);
  let registry = registries.get(regKey);
  if (!registry) {
    registry = loadRegistry(data);
    registries.set(regKey, registry);
  }
  const kind = (await registry).get(data.kind);
  if (!kind) {
    return { ok: false, error: `unknown stage kind "${data.kind}" on this worker`, worker };
  }
  const job = {
    ...data.job,
    inputs,
    cacheRoot: cache.root,
    threads: navigator.hardwareConcurrency || 1,
  };
  let manifest;
  try {
    manifest = await runInstance(job, kind, { progress() {}, log() {} });
  } catch (e) {
    if (e instanceof StageError) {
      const cause = e.cause instanceof Error ? e.cause.message : String(e.cause);
      return { ok: false, error: cause, worker };
    }
    throw e;
  }
  await remote?.push(cache, key, true);
  return {
    ok: true,
    outputHash: manifest.outputHash,
    computed: true,
    seconds: manifest.seconds,
    worker,
  };
}

async function loadRegistry(data: JobData): Promise<StageRegistry> {
  const mod = await import(resolveModule(data.registry));
  const base = mod.registry as StageRegistry;
  if (!data.plugins.length) return base;
  return await withPlugins(base, data.plugins.map((p) => ({ ...p, url: resolveModule(p.url) })));
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done);
  });
}
