/**
 * Core types of the generic pipeline engine. Nothing here knows what a stage
 * computes: a stage kind is an opaque, versioned function from params and input
 * artifacts (directories) to one output artifact (a directory) plus metrics and
 * row tables.
 *
 * @module
 */

/** A JSON-compatible value (what params, runtime settings and metrics rows hold). */
export type Json = null | boolean | number | string | Json[] | {
  [key: string]: Json;
};

/** A JSON object. */
export type JsonObject = { [key: string]: Json };

/**
 * Schema of one stage parameter. `doc` is shown by `--help` and in errors.
 * Numeric domains are checked at load time: `min` / `max` are inclusive bounds,
 * `exclusiveMin` / `exclusiveMax` strict ones (e.g. a fraction in (0, 1]).
 */
export type ParamSpec =
  & ParamCommon
  & (
    | {
      type: "number";
      default?: number;
      min?: number;
      max?: number;
      exclusiveMin?: number;
      exclusiveMax?: number;
      doc: string;
    }
    | {
      type: "integer";
      default?: number;
      min?: number;
      max?: number;
      exclusiveMin?: number;
      exclusiveMax?: number;
      doc: string;
    }
    | { type: "string"; default?: string; doc: string }
    | { type: "boolean"; default?: boolean; doc: string }
    | { type: "enum"; values: readonly string[]; default?: string; doc: string }
    | { type: "number[]"; default?: number[]; doc: string }
    | { type: "string[]"; default?: string[]; doc: string }
    /** Free-form JSON (validated by the stage itself). */
    | { type: "json"; default?: Json; doc: string }
  );

/** Fields every {@linkcode ParamSpec} may carry. */
export interface ParamCommon {
  /**
   * Left out of cache keys while at its default. For a param added to an existing
   * kind whose default reproduces the behaviour from before it existed: adding it
   * then keeps every earlier entry valid (no version bump, no recompute).
   */
  omitAtDefault?: boolean;
}

/** Parameter schema of a stage kind: name → spec. A spec without default is required. */
export type ParamsSchema = Record<string, ParamSpec>;

/** Declared input of a stage kind. */
export interface InputSpec {
  /** What the input is, for `--help` and errors. */
  doc: string;
  /** When true the YAML may leave this input unwired. */
  optional?: boolean;
}

/** An input artifact handed to a running stage. */
export interface InputArtifact {
  /** Directory holding the upstream output files (read only). */
  dir: string;
  /** Content hash of the upstream output. */
  hash: string;
  /** Upstream stage name. */
  stage: string;
  /** Upstream loop step (null outside the loop). */
  step: number | null;
}

/** Everything a stage sees while it runs. */
export interface StageContext {
  /** Stage name in the experiment file (e.g. "sample"). */
  stage: string;
  /** Loop step (0-based) or null for stages outside the loop. */
  step: number | null;
  /** Params after defaults were applied and validated. */
  params: JsonObject;
  /** Seed of this instance (already mixed with the loop step). */
  seed: number;
  /** Experiment-wide runtime settings (e.g. a tensor backend); part of every key. */
  runtime: JsonObject;
  /** Wired inputs by input name. */
  inputs: Record<string, InputArtifact>;
  /** Fresh, empty directory the stage writes its output files into. */
  outDir: string;
  /**
   * Absolute folder of the experiment file: relative file paths in params are relative to
   * it (resolve them with `resolveIn` of `key_files.ts`). Not part of the key: declare the
   * files with `StageKind.keyFiles`. Undefined: the working directory.
   */
  dir?: string;
  /**
   * CPU threads this instance may use: the cores no other running or ready instance will take
   * (all of them when it runs alone, e.g. a shared warm start before the sweep fans out; 1 when
   * the pool is full). A hint for intra-op parallelism only: it is not part of the cache key,
   * so a stage's results must not depend on it.
   */
  threads: number;
  /** Records a scalar metric for this instance. */
  metric(name: string, value: number): void;
  /** Appends rows to a named results table (e.g. "rollouts"). Columns are the union of row keys. */
  rows(table: string, rows: JsonObject[]): void;
  /** Reports progress inside the stage (e.g. training iterations). */
  progress(done: number, total: number, note?: string): void;
  /** Writes a log line (shown on the console, kept in the entry's log). */
  log(message: string): void;
}

/** A stage kind: the unit the engine caches and runs. */
export interface StageKind {
  /** Registry name, used as `kind:` in YAML. */
  name: string;
  /** Bump when the semantics of the output change: invalidates cached entries. */
  version: number;
  /** One-line description. */
  doc: string;
  /** The params it takes, with their types, defaults and docs. */
  params: ParamsSchema;
  /** Named inputs (upstream artifacts) it reads. */
  inputs: Record<string, InputSpec>;
  /**
   * Optional extra validation after defaults are applied; return messages
   * (one per problem, naming the param) or an empty list. A message that starts
   * with `PARAM:` is reported at that param's value when the file sets it.
   */
  check?(params: JsonObject): string[];
  /**
   * Optional: the params as far as they matter for these settings (e.g. an
   * estimator that ignores `alpha`), with every ignored param replaced by its
   * default (see `ignoreParams` in `key_params.ts`). The planner uses the
   * result for cache keys, for merging instances across sweep points and as
   * the params the instance runs with, so points that differ only in ignored
   * params share instances. Params that matter must be returned unchanged.
   */
  keyParams?(params: JsonObject): JsonObject;
  /**
   * Optional: whether an instance with these params reads input `name` (default
   * true). An input it does not read stays out of its cache key and is not rebuilt
   * after retention, so wiring an input that only some settings use keeps the keys
   * of the others.
   */
  readsInput?(name: string, params: JsonObject): boolean;
  /**
   * Optional: the files or directories these params name that `run` reads (paths as
   * written; relative ones are relative to the experiment file, see `StageContext.dir`).
   * Their contents are hashed into the instance key (`key_files.ts`), so a file
   * rewritten in place is recomputed, not a stale hit; a missing one is an error
   * before anything runs. `dir` is the experiment file's folder, for a list that
   * depends on what exists there (an optional file).
   */
  keyFiles?(params: JsonObject, dir: string): string[];
  /** Computes the output: writes files into `ctx.outDir`, metrics and rows through `ctx`. */
  run(ctx: StageContext): Promise<void>;
  /**
   * Source hashes of the plug-ins that define or change this kind (the path as
   * the experiment file writes it → hash; see `plugins.ts`). Set by the loader,
   * never by a kind itself; part of its instances' cache keys when present.
   */
  sources?: Record<string, string>;
}

/** Looks up stage kinds by name. */
export interface StageRegistry {
  /** The kind registered under `name`, if any. */
  get(name: string): StageKind | undefined;
  /** Every registered name. */
  names(): string[];
  /**
   * Schema of the experiment's `runtime:` settings, when the stages declare
   * one: keys and values are then checked at load time like stage params
   * (no defaults are filled in, so cache keys do not change).
   */
  runtime?: Record<string, ParamSpec>;
  /** Plug-in modules loaded into this registry (worker threads load them too). */
  plugins?: { path: string; url: string; hash: string }[];
}

/** A position in a source file (1-based). */
export interface SourcePos {
  /** File path as given. */
  file: string;
  /** Line, from 1. */
  line: number;
  /** Column, from 1. */
  col: number;
}

/** One problem found while loading a config. */
export interface ConfigProblem extends SourcePos {
  /** What is wrong and what to do. */
  message: string;
}

/**
 * A reference from one stage to another inside `needs`:
 * `same`: the named stage (same loop step when both are in the loop; the final
 * step when a top-level stage names a loop stage); `prev`: the previous loop
 * step (`prev.NAME`), resolved through `loop.init` at step 0.
 */
export interface StageRef {
  /** The stage named. */
  stage: string;
  /** `same` step or `prev` step (see above). */
  when: "same" | "prev";
}

/** A stage as declared in the experiment, after validation and defaults. */
export interface StageSpec {
  /** Stage name in the file. */
  name: string;
  /** Its stage kind. */
  kind: string;
  /** Validated params with defaults applied. */
  params: JsonObject;
  /** Input name → reference. */
  needs: Record<string, StageRef>;
  /** Fixed seed for this stage, overriding the experiment seed (e.g. a shared warm start). */
  seed: number | null;
  /** Loop stages only: run at steps t with (t+1) % every == 0, and at the last step. */
  every: number;
  /** True for stages declared under `loop.stages`. */
  inLoop: boolean;
}

/** The loop block: per-iteration stages unrolled over `steps`. */
export interface LoopSpec {
  /** Number of loop steps. */
  steps: number;
  /** `prev.X` at step 0 resolves to the top-level stage `init[X]`. */
  init: Record<string, string>;
  /** Retention: keep loop outputs of steps with (t+1) % keepEvery == 0 and the last; 0 keeps all. */
  keepEvery: number;
}

/** A validated, fully resolved experiment (one sweep point). */
export interface Experiment {
  /** The experiment's `name` (runs are grouped by it). */
  name: string;
  /** The file's `description`, or "". */
  description: string;
  /** SQL file (relative to the experiment file) printed after a run, or null. */
  summary: string | null;
  /** Source file path (for messages). */
  file: string;
  /** The point seed. */
  seed: number;
  /** Runtime settings (e.g. the tensor backend); part of every instance key. */
  runtime: JsonObject;
  /** Top-level stages and loop stages, by name (names are unique across both). */
  stages: Record<string, StageSpec>;
  /** The loop block, or null without one. */
  loop: LoopSpec | null;
}

/** One sweep point: a resolved experiment plus how it differs from the file. */
export interface SweepPoint {
  /** Stable id: hash of the resolved experiment. */
  runId: string;
  /** Short human label, e.g. "assign-credit.estimator=hicra seed=1". */
  label: string;
  /** The override values that produced this point (path → value). */
  overrides: JsonObject;
  /** The resolved experiment of this point. */
  experiment: Experiment;
  /** Names given to the run (YAML `tags:`, `run --tag`); not part of the run id. */
  tags?: string[];
}
