/**
 * The cached executor. Walks the unrolled plan in dependency order; for each
 * instance computes its key from kind, version, params, seed, runtime, position
 * and the *content hashes* of its inputs (so an upstream rerun with identical
 * bytes leaves downstream entries valid: early cutoff), takes it from the cache
 * or runs it, and streams metrics and row tables to the results sink. Because
 * the cache is the only state, a killed run started again resumes: completed
 * instances are hits. A stage failure fails its sweep point only; a full disk
 * or a results-sink error stops the execution (it is thrown once the running
 * instances have settled). Nodes of different points that reach the same key
 * at once compute it once: the later ones wait and then hit.
 *
 * @module
 */
import { Cache, instanceKey, type KeyParts, type Manifest } from "./cache.ts";
import { EntryIndex } from "./explain.ts";
import { experimentDir, KeyFileHasher } from "./key_files.ts";
import { keyedParams } from "./key_params.ts";
import { buildPlan, type InstanceNode, type Plan } from "./plan.ts";
import { isDiskFull } from "./errors.ts";
import { configHash, pointTag, runConfig } from "./provenance.ts";
import type { Reporter } from "./progress.ts";
import { type InstanceHooks, type InstanceJob, runInstance, StageError } from "./run_instance.ts";
import type { InstanceRow, MetricRow, RowExtra, RunRecord } from "./store.ts";
import type { StageRegistry, SweepPoint } from "./types.ts";
import { WorkerPool } from "./worker_pool.ts";

/** What the executor writes results into (the DuckDB store implements it). */
export interface ResultsSink {
  /** Records a run as it starts (see `ResultsStore.upsertRun`). */
  upsertRun(run: RunRecord): Promise<void>;
  /** Records a run's final status. */
  setRunStatus(
    runId: string,
    status: string,
    finishedAt?: Date | null,
    error?: string | null,
  ): Promise<void>;
  /** Drops a run's rows before they are loaded again. */
  clearRun(runId: string): Promise<void>;
  /** Loads metric rows. */
  appendMetrics(rows: MetricRow[]): Promise<void>;
  /** Loads instance rows (cache hit or computed, seconds). */
  appendInstances(rows: InstanceRow[]): Promise<void>;
  /** Loads row-table files (JSON lines) with the columns each file's rows get. */
  appendRowFiles(table: string, items: { file: string; extra: RowExtra }[]): Promise<number>;
}

/**
 * Where instances run when not in this process or its worker threads (e.g. a job queue
 * feeding worker processes on other machines). The DAG, keys, cache lookups and early
 * cutoff stay with the executor; a backend only carries ready instances to workers.
 */
export interface ExecutorBackend {
  /** Instances the executor may hand over at once. */
  readonly concurrency: number;
  /** Runs one instance; resolves once its entry is committed in the local cache `job.cacheRoot`. */
  run(job: InstanceJob, kind: string, hooks: InstanceHooks): Promise<Manifest>;
  /**
   * Called on a local cache miss: brings a finished entry of `key` from a second cache
   * level into the local cache. Resolves true if it did (the executor then takes it as a hit).
   */
  fetch?(key: string, label: string): Promise<boolean>;
  /** Releases connections. */
  close(): Promise<void> | void;
}

/** Options of one execution. */
export interface ExecuteOptions {
  /** Results directory; the cache lives in `<resultsDir>/cache`. */
  resultsDir: string;
  /** The stage kinds. */
  registry: StageRegistry;
  /** Module exporting `registry`, imported by worker threads when jobs > 1. */
  registryModule?: string;
  /** Stage names to rerun, with everything downstream of them. */
  force?: string[];
  /** Plan only: report hit / miss without running anything. */
  dryRun?: boolean;
  /** Say for every miss which key part changed against the nearest earlier entry. */
  explain?: boolean;
  /** Instances computed in parallel (worker threads); 1 runs in-process. */
  jobs?: number;
  /** Runs instances elsewhere (overrides `jobs`); see {@linkcode ExecutorBackend}. */
  backend?: ExecutorBackend;
  /** Stop at the first failure instead of finishing the other points. */
  failFast?: boolean;
  /** Progress events. */
  reporter: Reporter;
  /** Where metrics, instances and rows go (null: nowhere). */
  sink?: ResultsSink | null;
  /** How often buffered results are written to the sink (default 5000 ms). */
  flushEveryMs?: number;
}

/** Final state of one sweep point. */
export interface RunOutcome {
  /** The point's run id. */
  runId: string;
  /** The point's label. */
  label: string;
  /** done, failed, or pending (stopped before all its instances finished). */
  status: "done" | "failed" | "pending";
  /** The root failure, for failed points. */
  error?: string;
}

/** What happened, for the summary and for tests. */
export interface ExecuteSummary {
  /** Per point: its final state. */
  runs: RunOutcome[];
  /** Unique instances of the plan. */
  instances: number;
  /** Instances computed. */
  computed: number;
  /** Instances taken from the cache. */
  cached: number;
  /** Instances that failed. */
  failed: number;
  /** Dry run only: instances whose key depends on an upstream miss. */
  blocked: number;
  /** Per instance (dry run / explain): status and reasons. */
  details: InstanceReport[];
  /** Wall time of the execution. */
  seconds: number;
}

/** Report of one instance. */
export interface InstanceReport {
  /** `stage@step`. */
  label: string;
  /** Stage name. */
  stage: string;
  /** Loop step, or null outside the loop. */
  step: number | null;
  /** Instance key, when known (not for blocked or skipped instances). */
  key: string | null;
  /** What happened (dry runs: hit, miss or blocked). */
  status: "hit" | "miss" | "blocked" | "ran" | "failed" | "skipped";
  /** Why it missed (with --explain), or why it is blocked. */
  why?: string[];
}

interface NodeState {
  manifest: Manifest | null;
  dir: string | null;
  failed: string | null;
  consumersLeft: number;
}

/** Human label of a node: `stage@step`. */
export function nodeLabel(n: InstanceNode): string {
  return n.step === null ? n.stage : `${n.stage}@${n.step}`;
}

/** Runs (or plans) a sweep. */
export async function execute(
  points: SweepPoint[],
  opts: ExecuteOptions,
): Promise<ExecuteSummary> {
  const t0 = performance.now();
  const plan = buildPlan(points, opts.registry);
  const cache = new Cache(`${opts.resultsDir}/cache`);
  if (!opts.dryRun) cache.cleanStaleTemps();
  const forced = forcedNodes(plan, opts.force ?? []);
  // External files (StageKind.keyFiles) are hashed once, up front: a missing one stops the run
  // before anything runs.
  const ext = externalFiles(plan);
  const index = opts.explain ? new EntryIndex(cache.manifests()) : null;
  const state = new Map<InstanceNode, NodeState>();
  for (const n of plan.nodes) {
    state.set(n, {
      manifest: null,
      dir: null,
      failed: null,
      consumersLeft: new Set(n.dependents).size,
    });
  }
  const summary: ExecuteSummary = {
    runs: [],
    instances: plan.nodes.length,
    computed: 0,
    cached: 0,
    failed: 0,
    blocked: 0,
    details: [],
    seconds: 0,
  };
  const rep = opts.reporter;
  rep.begin(plan.nodes.length, plan.runs.size);
  const byStage = new Map<string, number>();
  for (const n of plan.nodes) byStage.set(n.stage, (byStage.get(n.stage) ?? 0) + 1);
  const parallel = opts.backend ? opts.backend.concurrency : opts.jobs ?? 1;
  rep.plan?.(byStage, parallel);

  if (opts.dryRun) {
    dryRun(plan, cache, forced, index, state, summary, ext);
    summary.seconds = (performance.now() - t0) / 1000;
    return summary;
  }

  const sink = opts.sink ?? null;
  const startedAt = new Date();
  if (sink) {
    for (const { point } of plan.runs.values()) {
      await sink.clearRun(point.runId);
      await sink.upsertRun(runRecord(point, "running", startedAt));
    }
  }
  const ingest = new Ingest(sink, opts.flushEveryMs ?? 5000);
  const pool = opts.backend ??
    (parallel > 1 ? new WorkerPool(parallel, opts.registryModule, opts.registry.plugins) : null);
  let stop = false;

  const keyPartsOf = (n: InstanceNode) => keyParts(n, state, ext);
  // Progress lines name the point(s) an instance belongs to (`[hicra s3] update@19`).
  const shownLabel = (n: InstanceNode) => `${pointsTag(n, plan)}${nodeLabel(n)}`;

  // Threads an instance may use (see StageContext.threads), set when it is dispatched.
  const inProcessThreads = navigator.hardwareConcurrency || 1;
  const threadsOf = new Map<InstanceNode, number>();
  const compute = async (n: InstanceNode, parts: KeyParts, key: string) => {
    // Retention may have dropped an input's files: rebuild those first.
    for (const [, d] of readDeps(n)) await materialize(d);
    const job: InstanceJob = {
      key,
      keyParts: parts,
      stage: n.stage,
      step: n.step,
      params: n.params,
      seed: n.seed,
      runtime: n.runtime,
      inputs: Object.fromEntries(
        readDeps(n).map(([k, d]) => {
          const s = state.get(d)!;
          return [k, {
            dir: `${s.dir}/out`,
            hash: s.manifest!.outputHash,
            stage: d.stage,
            step: d.step,
          }];
        }),
      ),
      cacheRoot: cache.root,
      threads: pool ? threadsOf.get(n) ?? 1 : inProcessThreads,
      dir: ext.get(n)?.dir,
    };
    const label = shownLabel(n);
    const hooks = {
      progress: (d: number, t: number, note?: string) => rep.progress(label, d, t, note),
      log: (m: string) => rep.line(`  ${label}: ${m}`),
    };
    return pool ? await pool.run(job, n.kind.name, hooks) : await runInstance(job, n.kind, hooks);
  };

  // One rebuild per pruned node, even when parallel consumers ask at once.
  const rebuilding = new Map<InstanceNode, Promise<void>>();
  const materialize = (n: InstanceNode): Promise<void> => {
    const s = state.get(n)!;
    if (!s.manifest || !s.manifest.pruned) return Promise.resolve();
    let p = rebuilding.get(n);
    if (!p) {
      p = rebuild(n).finally(() => rebuilding.delete(n));
      rebuilding.set(n, p);
    }
    return p;
  };

  const rebuild = async (n: InstanceNode): Promise<void> => {
    const s = state.get(n)!;
    if (!s.manifest || !s.manifest.pruned) return;
    rep.line(`  ${shownLabel(n)}: output was pruned by retention; recomputing it`);
    const parts = keyPartsOf(n);
    const m = await compute(n, parts, s.manifest.key);
    if (m.outputHash !== s.manifest.outputHash) {
      rep.line(
        `  warning: ${
          nodeLabel(n)
        } is not deterministic: recomputed output differs from the cached one`,
      );
    }
    s.manifest = m;
  };

  // Keys being computed, and keys computed by this execution.
  const inflight = new Map<string, Promise<void>>();
  const computedKeys = new Set<string>();

  const process = async (n: InstanceNode): Promise<void> => {
    const s = state.get(n)!;
    const label = nodeLabel(n);
    const shown = shownLabel(n);
    const failedDep = Object.values(n.deps).find((d) => state.get(d)!.failed);
    if (failedDep || stop) {
      s.failed = stop || state.get(failedDep!)!.failed === "stopped"
        ? "stopped"
        : `upstream ${nodeLabel(failedDep!)} failed`;
      summary.details.push({ label, stage: n.stage, step: n.step, key: null, status: "skipped" });
      return;
    }
    const parts = keyPartsOf(n);
    const key = instanceKey(parts);
    // Another node with this key (two sweep points whose inputs have equal
    // bytes) is being computed: wait for it, then take its entry as a hit.
    const pending = inflight.get(key);
    if (pending) await pending;
    // A forced key is recomputed once per execution, not once per node.
    const isForced = forced.has(n) && !computedKeys.has(key);
    let why: string[] | undefined;
    if (!isForced) {
      let found = cache.lookup(key);
      if (found.status === "miss" && opts.backend?.fetch && await opts.backend.fetch(key, shown)) {
        found = cache.lookup(key);
      }
      if (found.status === "hit") {
        s.manifest = found.manifest;
        s.dir = found.dir;
        summary.cached++;
        rep.done(shown, true, 0);
        summary.details.push({ label, stage: n.stage, step: n.step, key, status: "hit" });
        await ingest.add(n, found.manifest, found.dir, true);
        return;
      }
      if (found.status === "corrupt") {
        const moved = cache.quarantine(key);
        rep.line(
          `  warning: cache entry ${
            key.slice(0, 12)
          } of ${label} is corrupt (${found.reason}); moved to ${moved}, recomputing`,
        );
        why = [`corrupt entry: ${found.reason}`];
      } else if (index) {
        why = index.explain(n.stage, parts);
      }
    } else {
      why = ["forced"];
    }
    rep.start(shown);
    const running = compute(n, parts, key);
    inflight.set(key, running.then(() => {}, () => {}));
    let m: Manifest;
    try {
      m = await running;
    } catch (e) {
      if (isDiskFull(e)) {
        // Every further instance would fail the same way: stop the execution.
        stop = true;
        throw e;
      }
      const msg = e instanceof StageError
        ? e.message
        : `${label}: ${e instanceof Error ? e.message : e}`;
      s.failed = msg;
      summary.failed++;
      rep.failed(
        shown,
        e instanceof StageError
          ? (e.cause instanceof Error ? e.cause.message : String(e.cause))
          : msg,
      );
      summary.details.push({ label, stage: n.stage, step: n.step, key, status: "failed" });
      if (opts.failFast) stop = true;
      return;
    } finally {
      inflight.delete(key);
    }
    computedKeys.add(key);
    s.manifest = m;
    s.dir = cache.entryDir(key);
    index?.add(m);
    summary.computed++;
    rep.done(shown, false, m.seconds, why);
    summary.details.push({ label, stage: n.stage, step: n.step, key, status: "ran", why });
    // Outside the try: a results-store error stops the execution; it is no stage failure.
    await ingest.add(n, m, s.dir, false);
  };

  const afterDone = (n: InstanceNode) => {
    // Retention: once every consumer has succeeded, per-step outputs that
    // are not kept are pruned (a failed consumer keeps its inputs for a retry).
    if (!state.get(n)!.manifest) return;
    for (const d of new Set(Object.values(n.deps))) {
      const ds = state.get(d)!;
      ds.consumersLeft--;
      if (ds.consumersLeft === 0 && !d.keep && ds.manifest && !ds.manifest.pruned) {
        cache.prune(ds.manifest.key);
        ds.manifest = { ...ds.manifest, pruned: true };
      }
    }
  };

  try {
    if (!pool) {
      for (const n of plan.nodes) {
        await process(n);
        afterDone(n);
      }
    } else {
      await runParallel(plan, parallel, async (n, threads) => {
        threadsOf.set(n, threads);
        try {
          await process(n);
        } catch (e) {
          stop = true; // a fatal error (full disk, results store): start nothing more
          throw e;
        }
        threadsOf.delete(n);
        afterDone(n);
      });
    }
    await ingest.flush();
  } finally {
    await pool?.close();
  }

  for (const { point, nodes } of plan.runs.values()) {
    const failed = nodes.find((n) => state.get(n)!.failed && state.get(n)!.failed !== "stopped");
    const pending = nodes.some((n) => !state.get(n)!.manifest);
    const status = failed ? "failed" : pending ? "pending" : "done";
    const error = failed ? rootError(failed, state) : undefined;
    summary.runs.push({ runId: point.runId, label: point.label, status, error });
    if (sink) await sink.setRunStatus(point.runId, status, new Date(), error ?? null);
  }
  rep.end();
  summary.seconds = (performance.now() - t0) / 1000;
  return summary;
}

/** Experiment folder of a node and the hashes of its key files (see `key_files.ts`). */
interface NodeExternal {
  dir: string;
  files?: Record<string, string>;
}

/** Per node: its experiment's folder and, for kinds that declare key files, their hashes. */
function externalFiles(plan: Plan): Map<InstanceNode, NodeExternal> {
  const out = new Map<InstanceNode, NodeExternal>();
  const hasher = new KeyFileHasher();
  const dirs = new Map<string, { dir: string; file: string }>();
  for (const [runId, { point }] of plan.runs) {
    dirs.set(runId, { dir: experimentDir(point.experiment.file), file: point.experiment.file });
  }
  for (const n of plan.nodes) {
    const exp = dirs.get(n.uses[0]?.runId);
    if (!exp) continue;
    const where = `${exp.file}: stage ${n.stage}`;
    out.set(n, { dir: exp.dir, files: hasher.files(n.kind, n.params, exp.dir, where) });
  }
  return out;
}

/** Key parts of a node whose inputs are all resolved. */
function keyParts(
  n: InstanceNode,
  state: Map<InstanceNode, NodeState>,
  ext: Map<InstanceNode, NodeExternal>,
): KeyParts {
  const files = ext.get(n)?.files;
  return {
    kind: n.kind.name,
    version: n.kind.version,
    params: keyedParams(n.kind.params, n.params),
    inputs: Object.fromEntries(
      readDeps(n).map(([k, d]) => [k, state.get(d)!.manifest!.outputHash]),
    ),
    seed: n.seed,
    runtime: n.runtime,
    step: n.step,
    ...(n.kind.sources ? { sources: n.kind.sources } : {}),
    ...(files ? { files } : {}),
  };
}

/**
 * The inputs an instance reads (`StageKind.readsInput`): the others are left out of
 * its key and not rebuilt after retention, though they are still scheduled first.
 */
function readDeps(n: InstanceNode): [string, InstanceNode][] {
  return Object.entries(n.deps).filter(([name]) => n.kind.readsInput?.(name, n.params) ?? true);
}

function rootError(n: InstanceNode, state: Map<InstanceNode, NodeState>): string {
  // Iterative: a failure early in a long loop skips a long chain of steps.
  for (let cur = n;;) {
    const msg = state.get(cur)!.failed!;
    if (!msg.startsWith("upstream")) return msg;
    const next = Object.values(cur.deps).find((d) => state.get(d)!.failed);
    if (!next) return msg;
    cur = next;
  }
}

/**
 * `[tag] ` of the points that use a node (see `pointTag`): one point's tag,
 * `[tag +k]` when shared with k more, `[all]` when every point shares it;
 * empty for a single-point plan.
 */
function pointsTag(n: InstanceNode, plan: Plan): string {
  if (plan.runs.size <= 1) return "";
  const ids = [...new Set(n.uses.map((u) => u.runId))];
  if (ids.length === plan.runs.size) return "[all] ";
  const first = pointTag(plan.runs.get(ids[0])?.point.label ?? ids[0]);
  return ids.length === 1 ? `[${first}] ` : `[${first} +${ids.length - 1}] `;
}

function runRecord(point: SweepPoint, status: string, startedAt: Date): RunRecord {
  const config = runConfig(point.experiment);
  return {
    config,
    configHash: configHash(config),
    tags: point.tags ?? [],
    runId: point.runId,
    experiment: point.experiment.name,
    label: point.label,
    params: point.overrides,
    seed: point.experiment.seed,
    status,
    startedAt,
    finishedAt: null,
    error: null,
  };
}

/** Stage names given to --force, plus everything downstream of them. */
function forcedNodes(plan: Plan, force: string[]): Set<InstanceNode> {
  const out = new Set<InstanceNode>();
  const names = new Set(force);
  for (const n of plan.nodes) {
    if (
      n.uses.some((u) => names.has(u.stage)) ||
      Object.values(n.deps).some((d) => out.has(d))
    ) out.add(n);
  }
  return out;
}

function dryRun(
  plan: Plan,
  cache: Cache,
  forced: Set<InstanceNode>,
  index: EntryIndex | null,
  state: Map<InstanceNode, NodeState>,
  summary: ExecuteSummary,
  ext: Map<InstanceNode, NodeExternal>,
): void {
  for (const n of plan.nodes) {
    const label = nodeLabel(n);
    const s = state.get(n)!;
    const blockedBy = Object.values(n.deps).find((d) => !state.get(d)!.manifest);
    if (blockedBy) {
      summary.blocked++;
      summary.details.push({
        label,
        stage: n.stage,
        step: n.step,
        key: null,
        status: "blocked",
        why: [`waits for ${nodeLabel(blockedBy)}, which will run`],
      });
      continue;
    }
    const parts = keyParts(n, state, ext);
    const key = instanceKey(parts);
    const found = forced.has(n) ? { status: "miss" as const } : cache.lookup(key, false);
    if (found.status === "hit") {
      s.manifest = found.manifest;
      summary.cached++;
      summary.details.push({ label, stage: n.stage, step: n.step, key, status: "hit" });
    } else {
      const why = forced.has(n) ? ["forced"] : index?.explain(n.stage, parts);
      summary.details.push({ label, stage: n.stage, step: n.step, key, status: "miss", why });
    }
  }
}

/**
 * Runs nodes as soon as their dependencies are done, at most `jobs` at a time. Each node is
 * given the slots no other running or ready node will take (at least 1) as its thread hint.
 */
async function runParallel(
  plan: Plan,
  jobs: number,
  work: (n: InstanceNode, threads: number) => Promise<void>,
): Promise<void> {
  const waiting = new Map<InstanceNode, number>();
  const ready: InstanceNode[] = [];
  for (const n of plan.nodes) {
    const k = new Set(Object.values(n.deps)).size;
    waiting.set(n, k);
    if (k === 0) ready.push(n);
  }
  let running = 0;
  let finished = 0;
  let failure: { error: unknown } | null = null;
  await new Promise<void>((resolve, reject) => {
    const pump = () => {
      // After an error, start nothing more and reject once the running work has settled.
      if (failure) {
        if (running === 0) reject(failure.error);
        return;
      }
      if (finished === plan.nodes.length) return resolve();
      ready.sort((a, b) => a.order - b.order);
      while (running < jobs && ready.length) {
        const n = ready.shift()!;
        const threads = Math.max(1, jobs - running - ready.length);
        running++;
        work(n, threads).then(() => {
          running--;
          finished++;
          for (const d of new Set(n.dependents)) {
            const left = waiting.get(d)! - 1;
            waiting.set(d, left);
            if (left === 0) ready.push(d);
          }
          pump();
        }, (error) => {
          running--;
          failure ??= { error };
          pump();
        });
      }
    };
    pump();
  });
}

/** Buffers metric and instance rows and loads them in bulk. */
class Ingest {
  #metrics: MetricRow[] = [];
  #instances: InstanceRow[] = [];
  #rows = new Map<string, { file: string; extra: RowExtra }[]>();
  #rowFiles = 0;
  #lastFlush = performance.now();
  constructor(private sink: ResultsSink | null, private flushEveryMs: number) {}

  async add(n: InstanceNode, m: Manifest, dir: string, cached: boolean) {
    if (!this.sink) return;
    for (const use of n.uses) {
      for (const r of m.metrics) {
        this.#metrics.push({
          runId: use.runId,
          step: use.step,
          stage: use.stage,
          name: r.name,
          value: r.value,
        });
      }
      this.#instances.push({
        runId: use.runId,
        stage: use.stage,
        step: use.step,
        kind: n.kind.name,
        key: m.key,
        cached,
        seconds: cached ? 0 : m.seconds,
      });
      for (const table of m.tables) {
        const list = this.#rows.get(table) ?? [];
        list.push({
          file: `${dir}/rows/${table}.jsonl`,
          extra: { run_id: use.runId, step: use.step, stage: use.stage },
        });
        this.#rows.set(table, list);
        this.#rowFiles++;
      }
    }
    const due = performance.now() - this.#lastFlush > this.flushEveryMs;
    if (
      due || this.#metrics.length > 20000 || this.#instances.length > 2000 ||
      this.#rowFiles > 500
    ) {
      await this.flush();
    }
  }

  async flush() {
    this.#lastFlush = performance.now();
    if (!this.sink) return;
    // Take the buffers first: with parallel jobs, rows added while this
    // flush awaits the database go to the next flush instead of being lost.
    const metrics = this.#metrics;
    const instances = this.#instances;
    const rows = this.#rows;
    this.#metrics = [];
    this.#instances = [];
    this.#rows = new Map();
    this.#rowFiles = 0;
    if (metrics.length) await this.sink.appendMetrics(metrics);
    if (instances.length) await this.sink.appendInstances(instances);
    for (const [table, items] of rows) await this.sink.appendRowFiles(table, items);
  }
}
