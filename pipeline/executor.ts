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
import { buildPlan, type InstanceNode, type Plan } from "./plan.ts";
import { isDiskFull } from "./errors.ts";
import type { Reporter } from "./progress.ts";
import { type InstanceJob, runInstance, StageError } from "./run_instance.ts";
import type { InstanceRow, MetricRow, RowExtra, RunRecord } from "./store.ts";
import type { StageRegistry, SweepPoint } from "./types.ts";
import { WorkerPool } from "./worker_pool.ts";

/** What the executor writes results into (the DuckDB store implements it). */
export interface ResultsSink {
  upsertRun(run: RunRecord): Promise<void>;
  setRunStatus(
    runId: string,
    status: string,
    finishedAt?: Date | null,
    error?: string | null,
  ): Promise<void>;
  clearRun(runId: string): Promise<void>;
  appendMetrics(rows: MetricRow[]): Promise<void>;
  appendInstances(rows: InstanceRow[]): Promise<void>;
  appendRowFiles(table: string, items: { file: string; extra: RowExtra }[]): Promise<number>;
}

/** Options of one execution. */
export interface ExecuteOptions {
  /** Results directory; the cache lives in `<resultsDir>/cache`. */
  resultsDir: string;
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
  /** Stop at the first failure instead of finishing the other points. */
  failFast?: boolean;
  reporter: Reporter;
  sink?: ResultsSink | null;
  /** How often buffered results are written to the sink (default 5000 ms). */
  flushEveryMs?: number;
}

/** Final state of one sweep point. */
export interface RunOutcome {
  runId: string;
  label: string;
  status: "done" | "failed" | "pending";
  error?: string;
}

/** What happened, for the summary and for tests. */
export interface ExecuteSummary {
  runs: RunOutcome[];
  instances: number;
  computed: number;
  cached: number;
  failed: number;
  /** Dry run only: instances whose key depends on an upstream miss. */
  blocked: number;
  /** Per instance (dry run / explain): status and reasons. */
  details: InstanceReport[];
  seconds: number;
}

/** Report of one instance. */
export interface InstanceReport {
  label: string;
  stage: string;
  step: number | null;
  key: string | null;
  status: "hit" | "miss" | "blocked" | "ran" | "failed" | "skipped";
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
  rep.plan?.(byStage, opts.jobs ?? 1);

  if (opts.dryRun) {
    dryRun(plan, cache, forced, index, state, summary);
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
  const pool = (opts.jobs ?? 1) > 1 ? new WorkerPool(opts.jobs!, opts.registryModule) : null;
  let stop = false;

  const keyPartsOf = (n: InstanceNode) => keyParts(n, state);

  // Threads an instance may use (see StageContext.threads), set when it is dispatched.
  const inProcessThreads = navigator.hardwareConcurrency || 1;
  const threadsOf = new Map<InstanceNode, number>();
  const compute = async (n: InstanceNode, parts: KeyParts, key: string) => {
    // Retention may have dropped an input's files: rebuild those first.
    for (const d of Object.values(n.deps)) await materialize(d);
    const job: InstanceJob = {
      key,
      keyParts: parts,
      stage: n.stage,
      step: n.step,
      params: n.params,
      seed: n.seed,
      runtime: n.runtime,
      inputs: Object.fromEntries(
        Object.entries(n.deps).map(([k, d]) => {
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
    };
    const label = nodeLabel(n);
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
    rep.line(`  ${nodeLabel(n)}: output was pruned by retention; recomputing it`);
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
      const found = cache.lookup(key);
      if (found.status === "hit") {
        s.manifest = found.manifest;
        s.dir = found.dir;
        summary.cached++;
        rep.done(label, true, 0);
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
    rep.start(label);
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
        label,
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
    rep.done(label, false, m.seconds, why);
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
      await runParallel(plan, opts.jobs!, async (n, threads) => {
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
    pool?.close();
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

/** Key parts of a node whose inputs are all resolved. */
function keyParts(n: InstanceNode, state: Map<InstanceNode, NodeState>): KeyParts {
  return {
    kind: n.kind.name,
    version: n.kind.version,
    params: n.params,
    inputs: Object.fromEntries(
      Object.entries(n.deps).map(([k, d]) => [k, state.get(d)!.manifest!.outputHash]),
    ),
    seed: n.seed,
    runtime: n.runtime,
    step: n.step,
  };
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

function runRecord(point: SweepPoint, status: string, startedAt: Date) {
  return {
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
    const parts = keyParts(n, state);
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
