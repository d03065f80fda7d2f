/**
 * HICRA lab (`@hicra/lab`): a declarative experiment lab for hierarchy-aware
 * credit assignment in RL for LLM reasoning.
 *
 * This root module is the API a plug-in or another project needs: the stage
 * contract and registries (to add stage kinds and advantage estimators), the
 * engine (load, plan, execute, cache, results store), run provenance and
 * comparison, the report, and the pure statistics and algorithms. Subpath
 * exports carry the rest: `@hicra/lab/policy` (the tiny GPT, its trainer and
 * checkpoints), `@hicra/lab/artifacts` (the files the lab's stages exchange),
 * `@hicra/lab/compare` (paired comparisons of conditions).
 *
 * - `pipeline/`: the generic engine (config, sweeps, cache, executor, DuckDB).
 * - `stages/`: the lab's stage kinds.
 * - `algorithms/`: the pure algorithms (policy, tasks, credit, planning, metrics).
 * - `stats/`: generic statistics for paired comparisons (t, permutation, bootstrap, Holm).
 * - `report/`: the HTML report.
 *
 * @module
 */
import type { StageRegistry } from "./pipeline/types.ts";
import { registry as labRegistry } from "./stages/mod.ts";

// The stage contract.
export type {
  ConfigProblem,
  Experiment,
  InputArtifact,
  InputSpec,
  Json,
  JsonObject,
  LoopSpec,
  ParamCommon,
  ParamSpec,
  ParamsSchema,
  SourcePos,
  StageContext,
  StageKind,
  StageRef,
  StageRegistry,
  StageSpec,
  SweepPoint,
} from "./pipeline/types.ts";
export { createRegistry } from "./pipeline/registry.ts";
export { ignoreParams } from "./pipeline/key_params.ts";

/** The lab's stage kinds (warmstart, sample, cluster-entropy, assign-credit, update, evaluate). */
export const registry: StageRegistry = labRegistry;

// Loading experiments.
export { ConfigError, loadExperimentFile, loadExperimentText } from "./pipeline/config.ts";
export type {
  CompareAggregate,
  CompareSpec,
  LoadOptions,
  MetricRef,
  SweepPlan,
} from "./pipeline/config.ts";

// Executing them.
export { execute } from "./pipeline/executor.ts";
export type {
  ExecuteOptions,
  ExecuteSummary,
  ExecutorBackend,
  InstanceReport,
  ResultsSink,
  RunOutcome,
} from "./pipeline/executor.ts";
export { Cache, instanceKey } from "./pipeline/cache.ts";
export type { KeyParts, Lookup, Manifest, MetricRecord } from "./pipeline/cache.ts";
export { LIVE_FILE, ResultsStore } from "./pipeline/store.ts";
export type {
  InstanceRow,
  MetricRow,
  OpenOptions,
  QueryResult,
  ReadingStore,
  RowExtra,
  RunRecord,
} from "./pipeline/store.ts";
export { runCli } from "./pipeline/run_cli.ts";
export type { BackendRequest, RunCliOptions } from "./pipeline/run_cli.ts";
export type { InstanceHooks, InstanceJob } from "./pipeline/run_instance.ts";
export {
  CountingReporter,
  defaultReporter,
  PlainReporter,
  SilentReporter,
  TtyReporter,
} from "./pipeline/progress.ts";
export type { Reporter } from "./pipeline/progress.ts";

// Runs: provenance, listing and comparison.
export {
  configDiff,
  configHash,
  flattenConfig,
  runConfig,
  variantLabel,
} from "./pipeline/provenance.ts";
export type { ConfigChange } from "./pipeline/provenance.ts";
export { compareRuns, listRuns } from "./pipeline/runs.ts";
export type { RunComparison, RunFilter, RunSummary } from "./pipeline/runs.ts";

// The report.
export { renderReport, writeReport } from "./report/mod.ts";
export type { ReportOptions, WriteOptions } from "./report/mod.ts";
export type { CustomPanelOptions } from "./report/custom_panel.ts";

// Statistics (pure; paired comparisons of conditions).
export * as stats from "./stats/mod.ts";

// Algorithms (pure). `credit.registerEstimator` adds an advantage estimator.
export * as credit from "./algorithms/credit/mod.ts";
export * as planning from "./algorithms/planning/mod.ts";
export * as metrics from "./algorithms/metrics/mod.ts";
export * as tasks from "./algorithms/tasks/mod.ts";
export { Rng } from "./algorithms/rng.ts";
