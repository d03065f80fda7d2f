/**
 * HICRA lab: a declarative experiment lab for hierarchy-aware credit
 * assignment in RL for LLM reasoning.
 *
 * - `pipeline/`: the generic engine (config, sweeps, cache, executor, DuckDB).
 * - `stages/`: the lab's stage kinds.
 * - `algorithms/`: the pure algorithms (policy, tasks, credit, planning, metrics).
 * - `stats/`: generic statistics for paired comparisons (t, permutation, bootstrap, Holm).
 *
 * @module
 */

// Engine.
export type {
  Experiment,
  InputArtifact,
  Json,
  JsonObject,
  ParamSpec,
  ParamsSchema,
  StageContext,
  StageKind,
  StageRegistry,
  SweepPoint,
} from "./pipeline/types.ts";
export { ConfigError, loadExperimentFile, loadExperimentText } from "./pipeline/config.ts";
export type { CompareAggregate, CompareSpec, MetricRef, SweepPlan } from "./pipeline/config.ts";
export {
  compareMetric,
  COMPARISON_COLUMNS,
  conditionOf,
  formatComparison,
  formatComparisonCsv,
  matchBaseline,
  reportComparison,
  runComparison,
  writeComparisons,
} from "./pipeline/compare.ts";
export type {
  ComparisonQuery,
  ComparisonReport,
  ConditionComparison,
  MetricComparison,
  RunValue,
} from "./pipeline/compare.ts";
export { compareCli } from "./pipeline/compare_cli.ts";
export { createRegistry } from "./pipeline/registry.ts";
export { execute } from "./pipeline/executor.ts";
export type { ExecuteOptions, ExecuteSummary, ResultsSink } from "./pipeline/executor.ts";
export { Cache, instanceKey } from "./pipeline/cache.ts";
export type { KeyParts, Manifest } from "./pipeline/cache.ts";
export { ResultsStore } from "./pipeline/store.ts";
export { acquireLock } from "./pipeline/lock.ts";
export { runCli } from "./pipeline/run_cli.ts";
export {
  defaultReporter,
  PlainReporter,
  SilentReporter,
  TtyReporter,
} from "./pipeline/progress.ts";
export type { Reporter } from "./pipeline/progress.ts";

// The lab's stages.
export { registry } from "./stages/mod.ts";

// Statistics (pure; paired comparisons of conditions).
export * as stats from "./stats/mod.ts";

// Algorithms.
export * as credit from "./algorithms/credit/mod.ts";
export * as planning from "./algorithms/planning/mod.ts";
export * as metrics from "./algorithms/metrics/mod.ts";
export * as tasks from "./algorithms/tasks/mod.ts";
export * as policy from "./algorithms/policy/mod.ts";
export { Rng } from "./algorithms/rng.ts";
