/**
 * The `run` command: load an experiment, expand its sweep, take the results
 * directory's lock, execute through the cache, write DuckDB, print a summary.
 *
 * @module
 */
import { selectConditions } from "./select.ts";
import { parseArgs } from "node:util";
import { ConfigError, loadExperimentFile, type SweepPlan } from "./config.ts";
import { argsError, fileSystemError, UserError } from "./errors.ts";
import { execute, type ExecuteSummary, type ExecutorBackend } from "./executor.ts";
import { summarizeExplain } from "./explain.ts";
import { acquireLock } from "./lock.ts";
import { defaultReporter, type Reporter, SilentReporter } from "./progress.ts";
import {
  DB_FILE,
  duckdbMessage,
  isCorruptDatabase,
  isLockError,
  lockHolderPid,
  moveAsideCorrupt,
  ResultsStore,
} from "./store.ts";
import { reportComparison } from "./compare.ts";
import { scopeToExperiment } from "./scope.ts";
import { formatTable } from "./table_format.ts";
import type { StageRegistry } from "./types.ts";

/** Usage text of `run`. */
export const RUN_USAGE = `Usage: deno task run FILE.yaml [options]

Runs an experiment (and its sweep) through the content-addressed cache.
Everything already computed is reused; a killed run started again resumes.

Options:
  --results DIR     results directory (cache, runs.duckdb, reports) [results]
  --dry-run         print the instance plan with cache hit / miss; run nothing
  --explain         per stage: instances cached / to run and why they miss
                    (which key part changed against the nearest earlier entry)
  --explain=full    the same for every missing instance, one by one
  --force STAGE     rerun STAGE and everything downstream (repeatable)
  --set PATH=V      override a value; PATH=V1,V2,... sweeps it (repeatable);
                    PATH is e.g. seed, loop.steps, update.lr (stage.param)
  --only A,B        run only these ablation conditions (and the compare:
                    baseline), e.g. --only gtpo,gspo (repeatable)
  --jobs N          instances computed in parallel (worker threads)
                    [number of CPU cores, at most 4]
  --executor NAME   local (in-process / worker threads) [local], or pgboss:
                    worker processes (deno task worker) through a job queue
  --queue URL       postgres://… job queue of --executor pgboss
  --cache URL       s3://BUCKET/PREFIX shared cache of --executor pgboss
  --fail-fast       stop at the first failure (default: finish other points)
  --tag NAME        tag the runs (repeatable; adds to the file's tags:), for
                    deno task runs --tag NAME
  --wait            wait for another run holding the results directory
  --quiet           only the final summary
  -h, --help        this text

Exit codes: 0 all points done, 1 some point failed, 2 bad input.`;

/** The registry's runtime settings, for --help (empty when it declares none). */
export function runtimeHelp(registry: StageRegistry): string {
  const specs = Object.entries(registry.runtime ?? {});
  if (specs.length === 0) return "";
  const lines = specs.map(([key, spec]) => {
    const values = spec.type === "enum" ? spec.values.join(" | ") : spec.type;
    const fallback = spec.default !== undefined ? ` [${spec.default}]` : "";
    return `  ${key}: ${values}${fallback}${spec.doc ? `\n      ${spec.doc}` : ""}`;
  });
  return `\n\nRuntime settings (the file's runtime: map, or --set runtime.KEY=V):\n${
    lines.join("\n")
  }`;
}

/** Default parallelism: one worker per core (stages are single-threaded), at most 4. */
function defaultJobs(): number {
  return Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1));
}

/** What an `--executor` backend is opened with. */
export interface BackendRequest {
  /** `--queue URL`: the job queue. */
  queue?: string;
  /** `--cache URL`: the shared second-level cache. */
  cache?: string;
  /** The results directory (its `cache/` is the local cache). */
  resultsDir: string;
  /** Module URL exporting `registry`, for the workers. */
  registryModule: string;
  /** Plug-ins the experiment loaded (workers load them too). */
  plugins: { path: string; url: string; hash: string }[];
  /** Warning lines for the progress output. */
  report: (line: string) => void;
}

/** Hooks a lab adds to the generic command. */
export interface RunCliOptions {
  /** Executor backends by `--executor` name (besides the built-in `local`). */
  executors?: Record<string, (req: BackendRequest) => Promise<ExecutorBackend>>;
  /** The stage kinds. */
  registry: StageRegistry;
  /** Module URL exporting `registry`, for worker threads. */
  registryModule: string;
  /** Called after a successful run with the open store (e.g. to print a comparison). */
  after?: (ctx: {
    store: ResultsStore;
    resultsDir: string;
    file: string;
    summary: ExecuteSummary;
    print: (s: string) => void;
    /** The experiment's `name`. */
    experiment: string;
    /** The baseline of its `compare:` block, if any. */
    baseline: string | null;
  }) => Promise<void>;
}

/** Entry point of `run`; returns the exit code. */
export async function runCli(args: string[], opts: RunCliOptions): Promise<number> {
  try {
    return await runCommand(args, opts);
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(e.message);
      console.error(
        `error: ${e.problems.length} problem${
          e.problems.length === 1 ? "" : "s"
        } in the experiment; nothing was run`,
      );
      return 2;
    }
    if (e instanceof UserError) {
      console.error(`error: ${e.message}`);
      return 2;
    }
    throw e;
  }
}

async function runCommand(args: string[], opts: RunCliOptions): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      // `--explain=full` is a flag of its own (parseArgs has no optional values).
      args: args.map((a) => a === "--explain=full" ? "--explain-full" : a),
      allowPositionals: true,
      options: {
        results: { type: "string", default: "results" },
        "dry-run": { type: "boolean", default: false },
        explain: { type: "boolean", default: false },
        "explain-full": { type: "boolean", default: false },
        tag: { type: "string", multiple: true, default: [] },
        force: { type: "string", multiple: true, default: [] },
        set: { type: "string", multiple: true, default: [] },
        only: { type: "string", multiple: true, default: [] },
        jobs: { type: "string", default: String(defaultJobs()) },
        executor: { type: "string", default: "local" },
        queue: { type: "string" },
        cache: { type: "string" },
        "fail-fast": { type: "boolean", default: false },
        wait: { type: "boolean", default: false },
        quiet: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (e) {
    throw argsError(e, RUN_USAGE);
  }
  const v = parsed.values;
  if (v.help) {
    console.log(RUN_USAGE + runtimeHelp(opts.registry));
    return 0;
  }
  if (parsed.positionals.length !== 1) {
    throw new UserError(
      `expected one experiment file, got ${parsed.positionals.length}\n\n${RUN_USAGE}`,
    );
  }
  const jobs = Number(v.jobs);
  if (!Number.isInteger(jobs) || jobs < 1) {
    throw new UserError(`--jobs must be a positive integer, got "${v.jobs}"`);
  }
  if (v.executor !== "local" && !opts.executors?.[v.executor!]) {
    const known = ["local", ...Object.keys(opts.executors ?? {})].join(", ");
    throw new UserError(`--executor ${v.executor}: unknown (executors: ${known})`);
  }
  if (v.executor !== "local" && !v.queue) {
    throw new UserError(`--executor ${v.executor} needs --queue postgres://HOST:PORT/DB`);
  }
  if (v.executor === "local" && (v.queue || v.cache)) {
    throw new UserError(`--queue and --cache need --executor pgboss`);
  }
  const file = parsed.positionals[0];
  const resultsDir = v.results!;
  const plan = selectConditions(await loadExperimentFile(file, opts.registry, v.set), v.only!);
  for (const p of plan.points) p.tags = [...new Set([...(p.tags ?? []), ...v.tag!])];
  if (v["explain-full"]) v.explain = true;
  for (const stage of v.force!) {
    if (!plan.base.stages[stage]) {
      throw new UserError(
        `--force ${stage}: no stage of that name (stages: ${
          Object.keys(plan.base.stages).join(", ")
        })`,
      );
    }
  }
  try {
    return await runPlan(plan, file, resultsDir, jobs, v, opts);
  } catch (e) {
    if (isLockError(e)) {
      const pid = lockHolderPid(e);
      throw new UserError(
        `the results database ${resultsDir}/${DB_FILE} is open in another process${
          pid ? ` (PID ${pid})` : ""
        }; close it and run again`,
      );
    }
    if (isCorruptDatabase(e)) {
      throw new UserError(
        `the results database ${resultsDir}/${DB_FILE} is corrupt (${
          duckdbMessage(e)
        }); move it aside and run again to rebuild it from the cache`,
      );
    }
    throw fileSystemError(e, resultsDir) ?? e;
  }
}

/** The parsed options `runPlan` uses. */
interface RunFlags {
  "dry-run"?: boolean;
  explain?: boolean;
  /** Per-instance explanations instead of the per-stage summary. */
  "explain-full"?: boolean;
  force?: string[];
  "fail-fast"?: boolean;
  wait?: boolean;
  quiet?: boolean;
  executor?: string;
  queue?: string;
  cache?: string;
}

async function runPlan(
  plan: SweepPlan,
  file: string,
  resultsDir: string,
  jobs: number,
  v: RunFlags,
  opts: RunCliOptions,
): Promise<number> {
  checkResultsDir(resultsDir);
  const print = (s: string) => console.log(s);
  const reporter: Reporter = v.quiet
    ? new SilentReporter()
    : v["dry-run"]
    ? new SilentReporter()
    : defaultReporter();

  if (v["dry-run"]) {
    const summary = await execute(plan.points, {
      resultsDir,
      registry: plan.registry,
      force: v.force,
      dryRun: true,
      explain: v.explain,
      reporter,
    });
    printDryRun(plan.points.length, summary, v.explain!, v["explain-full"]!, print);
    return 0;
  }

  Deno.mkdirSync(resultsDir, { recursive: true });
  const lock = await acquireLock(resultsDir, {
    wait: v.wait,
    onWait: (h: { pid: number }) =>
      console.error(`waiting for PID ${h.pid}, which holds ${resultsDir} …`),
  });
  const dbPath = `${resultsDir}/${DB_FILE}`;
  const corrupt = (moved: string, reason: string) =>
    console.error(
      `warning: the results database ${dbPath} is corrupt (${reason}); moved it to ${moved} and rebuilding it from the cache (run other experiments again to restore their rows)`,
    );
  // A deleted database is rebuilt from the cache (the source of truth); said once it worked.
  const rebuilt = !exists(dbPath) && exists(`${resultsDir}/cache/entries`);
  try {
    // A database found corrupt while the run writes it is moved aside and the
    // run repeated once: what it computed is cached, so it is only re-ingested.
    for (let attempt = 0;; attempt++) {
      const store = await ResultsStore.open(resultsDir, { onCorrupt: corrupt, live: true });
      let code: number;
      try {
        code = await runWithStore(store, plan, file, resultsDir, jobs, v, opts, reporter, print);
      } catch (e) {
        await store.close().catch(() => {});
        if (attempt === 0 && isCorruptDatabase(e)) {
          corrupt(await moveAsideCorrupt(resultsDir), duckdbMessage(e));
          continue;
        }
        throw e;
      }
      // An explicit checkpoint reports a failed write (e.g. a full disk) that
      // close would swallow.
      let failure: unknown = null;
      await store.checkpoint().catch((e) => (failure = e ?? "checkpoint failed"));
      if (failure) {
        await store.close().catch(() => {});
        throw failure;
      }
      await store.close();
      if (rebuilt) {
        console.error(
          `note: the results database ${dbPath} was missing; rebuilt it from the cache (run other experiments again to restore their rows)`,
        );
      }
      return code;
    }
  } finally {
    lock.release();
  }
}

async function runWithStore(
  store: ResultsStore,
  plan: SweepPlan,
  file: string,
  resultsDir: string,
  jobs: number,
  v: RunFlags,
  opts: RunCliOptions,
  reporter: Reporter,
  print: (s: string) => void,
): Promise<number> {
  if (!v.quiet) {
    console.error(
      `${plan.base.name}: ${plan.points.length} point${plan.points.length === 1 ? "" : "s"}${
        plan.axes.length ? ` over ${plan.axes.join(", ")}` : ""
      } → ${resultsDir}`,
    );
  }
  const backend = v.executor && v.executor !== "local"
    ? await opts.executors![v.executor]({
      queue: v.queue,
      cache: v.cache,
      resultsDir,
      registryModule: opts.registryModule,
      plugins: plan.registry.plugins ?? [],
      report: (line) => reporter.line(line),
    })
    : undefined;
  const summary = await execute(plan.points, {
    backend,
    resultsDir,
    registry: plan.registry,
    registryModule: opts.registryModule,
    force: v.force,
    explain: v.explain,
    jobs,
    failFast: v["fail-fast"],
    // The per-stage summary replaces per-instance reasons unless --explain=full.
    reporter: v.explain && !v["explain-full"] ? withoutReasons(reporter) : reporter,
    sink: store,
  });
  if (plan.compare) {
    const { stage, name } = plan.compare.metric;
    const metric = { stage, name, aggregate: plan.compare.aggregate };
    await store.setPrimaryMetric(plan.points.map((p) => p.runId), metric);
  }
  printSummary(summary, print);
  if (v.explain && !v["explain-full"]) {
    for (const line of summarizeExplain(summary.details)) print(`  ${line}`);
  }
  const ok = summary.runs.every((r) => r.status === "done");
  if (summary.runs.some((r) => r.status === "done")) {
    if (plan.base.summary) {
      // The summary describes this experiment only, whatever else the directory holds.
      // Only this invocation's points: runs of an earlier version of the file are left out.
      const unscope = await scopeToExperiment(
        store,
        plan.base.name,
        plan.points.map((p) => p.runId),
      );
      try {
        await printSummarySql(store, file, plan.base.summary, print);
      } finally {
        await unscope();
      }
    }
    if (plan.compare) {
      const query = { experiment: plan.base.name, spec: plan.compare, points: plan.points };
      await reportComparison(store, query, print).catch((e) =>
        print(`warning: the comparison failed: ${duckdbMessage(e)}`)
      );
    }
    await opts.after?.({
      store,
      resultsDir,
      file,
      summary,
      print,
      experiment: plan.base.name,
      baseline: plan.compare?.baseline ?? null,
    });
  }
  print(`results: ${resultsDir}/runs.duckdb (deno task sql --results ${resultsDir} "…")`);
  return ok ? 0 : 1;
}

/** Whether a path exists. */
function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Fails with one line when `--results` names a file, or a path under a file;
 * a missing directory is fine (it is created).
 */
function checkResultsDir(dir: string): void {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(dir);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    if (!(e instanceof Deno.errors.NotADirectory)) throw e;
    const parts = dir.split("/");
    for (let i = 1; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join("/");
      if (!prefix) continue;
      try {
        if (!Deno.statSync(prefix).isDirectory) {
          throw new UserError(
            `--results ${dir}: ${prefix} is a file, so no directory can be made under it; pass --results DIR naming a directory`,
          );
        }
      } catch (inner) {
        if (inner instanceof UserError) throw inner;
      }
    }
    throw e;
  }
  if (!info.isDirectory) {
    throw new UserError(
      `--results ${dir} is a file, not a directory; pass --results DIR naming a directory (it is created if missing)`,
    );
  }
}

/** Runs the experiment's `summary:` SQL file and prints each result table. */
async function printSummarySql(
  store: ResultsStore,
  experimentFile: string,
  sqlFile: string,
  print: (s: string) => void,
): Promise<void> {
  const dir = experimentFile.includes("/")
    ? experimentFile.slice(0, experimentFile.lastIndexOf("/"))
    : ".";
  const path = sqlFile.startsWith("/") ? sqlFile : `${dir}/${sqlFile}`;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    print(`warning: summary SQL ${path} not found; skipping the summary table`);
    return;
  }
  for (const r of await store.queryScript(text)) {
    if (r.columns.length) print(formatTable(r.columns, r.rows, { types: r.types }));
  }
}

/** A reporter that passes everything on but the per-instance miss reasons. */
function withoutReasons(r: Reporter): Reporter {
  return {
    begin: (total, runs) => r.begin(total, runs),
    plan: r.plan ? (byStage, parallel) => r.plan!(byStage, parallel) : undefined,
    start: (label) => r.start(label),
    progress: (label, done, total, note) => r.progress(label, done, total, note),
    done: (label, cached, seconds) => r.done(label, cached, seconds),
    failed: (label, message) => r.failed(label, message),
    line: (text) => r.line(text),
    end: () => r.end(),
  };
}

function printDryRun(
  points: number,
  s: ExecuteSummary,
  explain: boolean,
  full: boolean,
  print: (s: string) => void,
): void {
  const byStage = new Map<string, Record<string, number>>();
  for (const d of s.details) {
    const row = byStage.get(d.stage) ?? { hit: 0, miss: 0, blocked: 0 };
    row[d.status] = (row[d.status] ?? 0) + 1;
    byStage.set(d.stage, row);
  }
  print(`plan: ${points} point(s), ${s.instances} unique stage instance(s)`);
  print(formatTable(
    ["stage", "instances", "cached", "to run", "after upstream"],
    [...byStage].map(([stage, r]) => [
      stage,
      r.hit + r.miss + r.blocked,
      r.hit,
      r.miss,
      r.blocked,
    ]),
  ));
  if (explain && !full) {
    print("why they miss (details: --explain=full):");
    for (const line of summarizeExplain(s.details)) print(`  ${line}`);
  }
  if (full) {
    for (const d of s.details) {
      if (d.status === "hit") continue;
      print(`${d.label}: ${d.status}${d.key ? ` (key ${d.key.slice(0, 12)})` : ""}`);
      for (const w of d.why ?? []) print(`    ${w}`);
    }
  }
}

function printSummary(s: ExecuteSummary, print: (s: string) => void): void {
  print(
    `${s.instances} instance(s): ${s.computed} computed, ${s.cached} cached, ${s.failed} failed in ${
      s.seconds.toFixed(1)
    }s`,
  );
  const counts = { done: 0, failed: 0, pending: 0 };
  for (const r of s.runs) counts[r.status]++;
  print(`points: ${counts.done} done, ${counts.failed} failed, ${counts.pending} pending`);
  for (const r of s.runs) {
    if (r.status !== "done") {
      print(`  ${r.status}: ${r.label || r.runId}${r.error ? ` — ${r.error}` : ""}`);
    }
  }
}
