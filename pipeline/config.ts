/**
 * Loading and validating experiment files.
 *
 * An experiment is a YAML file declaring a DAG of stages, an optional loop of
 * per-step stages and an optional sweep. Loading checks everything at once and
 * throws a {@linkcode ConfigError} listing every problem as
 * `FILE:LINE:COL: message`.
 *
 * ## Experiment file format
 *
 * ```yaml
 * name: my-experiment         # required string
 * description: "..."          # optional string
 * summary: sql/compare.sql    # optional: a SQL file (relative to this file) whose
 *                             # result the run command prints when it finishes
 * seed: 0                     # integer, default 0: the point seed (sweeps vary it)
 * runtime: { backend: wasm }  # optional map of scalars, passed to every stage
 *                             # and part of every cache key
 * stages:                     # top-level stages, run once per point: name -> stage
 *   prepare:
 *     kind: prepare           # required: a registered stage kind
 *     with: { size: 400 }     # params, checked against the kind's schema;
 *                             # omitted params take their defaults
 *     needs: [other]          # inputs: a list of stage names (input name =
 *                             # stage name) or a map { input: ref }, where ref
 *                             # is "NAME" or (in the loop) "prev.NAME"
 *     seed: 0                 # optional integer: fixed seed for this stage,
 *                             # used instead of the point seed
 * loop:                       # optional: stages unrolled over steps
 *   steps: 30                 # required integer >= 1
 *   init: { state: prepare }  # "prev.state" at step 0 reads top-level stage "prepare"
 *   keep_every: 10            # optional integer >= 0: keep loop outputs of every
 *                             # k-th step and the last; 0 (default) keeps all
 *   stages:                   # same syntax as top-level stages, plus:
 *     state:
 *       kind: step
 *       every: 1              # integer >= 1, default 1: run at steps t with
 *                             # (t+1) % every == 0, and at the last step
 *       needs: { previous: prev.state, data: prepare }
 * sweep:                      # optional: one run per point
 *   seeds: [0, 1, 2]          # integers; varies `seed`
 *   grid: { "state.lr": [0.1, 0.2] }   # cartesian product over the axes
 *   zip: { "a.x": [1, 2], "b.y": [3, 4] }  # paired lists of equal length
 *   ablation:                 # a baseline plus one change per condition
 *     baseline: { "state.mode": plain }  # optional, applied to every condition
 *     conditions:
 *       fancy: { "state.mode": fancy }
 *       slow: { "state.lr": 0.01 }
 * plugins: [./my_stages.ts]   # optional: TypeScript modules (relative to this
 *                             # file) that add stage kinds; see plugins.ts
 *                             # (loaded by loadExperimentFile, not by
 *                             # loadExperimentText)
 * tags: [baseline, lr-scan]   # optional: names for this file's runs (`deno task
 *                             # runs --tag T`); not part of the run id
 * compare:                    # optional: a paired comparison of conditions,
 *                             # printed after every run (`deno task compare`)
 *   metric: { stage: final-eval, name: pass@1/id }  # required: the primary
 *                             # metric (the stage that records it, its name)
 *   baseline: grpo            # required: the condition the others are compared with
 *   aggregate: last           # required: last (the value at the last step
 *                             # recorded) | mean (mean over the recorded steps)
 *   alpha: 0.05               # optional number in (0, 1), default 0.05
 *   secondary:                # optional list of metrics, descriptive only
 *     - { stage: final-eval, name: pass@1/ood }
 * ```
 *
 * Stage names match `^[a-z][a-z0-9_-]*$` and are unique across `stages` and
 * `loop.stages`.
 *
 * Params are checked against their kind's schema: type, enum values and the
 * numeric domain (`min` / `max` inclusive, `exclusiveMin` / `exclusiveMax`
 * strict), then the kind's `check` (a message "PARAM: …" points at that
 * param's value). Sizes are bounded ({@linkcode LIMITS}): `loop.steps` at most
 * 100,000, at most 10,000 sweep points and 1,000,000 stage instances per plan.
 * {@linkcode loadExperimentFile} also checks that `summary:` names an existing
 * file. YAML syntax errors caused by an unclosed bracket or quote are reported
 * where it opened, naming where parsing failed.
 *
 * Needs: a ref names an existing stage; input names must be declared by the
 * kind, and every non-optional input must be wired. In a loop stage, "NAME"
 * means the same step and "prev.NAME" the previous step (NAME must be a loop
 * stage with `every: 1`, and `loop.init` must give its step-0 value). A
 * top-level stage may need a loop stage: it then reads the final step and runs
 * after the whole loop. A loop stage may need (same step) another loop stage
 * only if that stage runs at every step it runs (its `every` divides the
 * needing stage's `every`). Same-step needs must not form a cycle.
 *
 * Override paths (sweep axes, ablation conditions, `--set`): a full dotted path
 * (`seed`, `name`, `description`, `loop.steps`, `loop.keep_every`,
 * `loop.init.NAME`, `runtime.KEY`, `stages.NAME.with.PARAM`,
 * `loop.stages.NAME.with.PARAM`, `stages.NAME.seed`) or the shorthand `NAME.PARAM` / `NAME.seed` /
 * `NAME.kind` / `NAME.every`. Values replace the file's values before
 * validation, so they get the ordinary checks.
 *
 * `--set PATH=VALUE` overrides a setting for every point; `--set PATH=V1,V2`
 * makes it a grid axis (replacing the file's axis for the same setting;
 * `--set seed=0,1` replaces `sweep.seeds`). Values are YAML scalars or flow
 * lists (`[1, 2]`).
 *
 * Compare: a run's condition is its label without the `seed=N` part (e.g.
 * `condition=hicra` for an ablation, `state.lr=0.1` for a grid axis, several
 * `key=value` parts for several axes; as in `experiments/sql/compare_methods.sql`).
 * `baseline` matches a condition written out in full (`condition=grpo`,
 * `"a.x=1 b.y=2"`), or the value after `=` of a one-part condition (`grpo`
 * matches `condition=grpo` and `assign-credit.estimator=grpo`); a full match
 * wins, and a baseline that matches several conditions is an error when the
 * comparison is made. Runs are paired by seed (`runs.seed`); only the done
 * runs of the plan's own points take part. `metric.stage` and every
 * `secondary[].stage` must name a stage of the file. The primary metric is
 * tested (paired t, sign-flip permutation, Holm over the conditions at
 * `alpha`); secondary metrics get a paired difference with its 95% CI only.
 *
 * Points: conditions × grid × zip rows × seeds, in file order. Each point gets
 * a run id (hash of its resolved experiment, without `file` and
 * `description`); points with equal run ids are kept once.
 *
 * @module
 */
import { LineCounter, parseDocument } from "yaml";
import type {
  ConfigProblem,
  Experiment,
  Json,
  JsonObject,
  LoopSpec,
  ParamSpec,
  SourcePos,
  StageKind,
  StageRef,
  StageRegistry,
  StageSpec,
  SweepPoint,
} from "./types.ts";
import { hashJson } from "./hash.ts";
import { experimentDir, resolveIn } from "./key_files.ts";
import { loadPlugins, PluginError } from "./plugins.ts";
import { didYouMean, suggest, suggestFile } from "./suggest.ts";
import { unclosedConstructs } from "./yaml_syntax.ts";
import {
  applyOverride,
  entryOf,
  type Origin,
  type ParamNames,
  parseSet,
  type RawEntry,
  type RawNode,
  resolvePath,
  toJson,
  toRaw,
} from "./overrides.ts";
import {
  type Assign,
  checkZip,
  describe,
  expandSweep,
  keyPath,
  labelValue,
  mergeSets,
  readSweep,
  type Report,
  type SetAxis,
  sweepAxes,
  type SweepSpec,
} from "./sweep.ts";

/** Every problem found while loading an experiment; the message lists them all. */
export class ConfigError extends Error {
  /** The problems, sorted by file and position. */
  problems: ConfigProblem[];

  /** Builds the error; the message holds one `FILE:LINE:COL: message` line per problem. */
  constructor(problems: ConfigProblem[]) {
    super(formatProblems(problems));
    this.name = "ConfigError";
    this.problems = problems;
  }
}

/** A metric recorded by a stage: `metrics.stage` and `metrics.name`. */
export interface MetricRef {
  /** Stage name in the experiment file. */
  stage: string;
  /** Metric name, e.g. "pass@1/id". */
  name: string;
}

/** How a run's per-step values of a metric become one number. */
export type CompareAggregate = "last" | "mean";

/** The experiment's `compare:` block (see the module documentation). */
export interface CompareSpec {
  /** The primary metric, tested. */
  metric: MetricRef;
  /** The condition every other condition is compared with, as written. */
  baseline: string;
  /** `last`: value at the last recorded step; `mean`: mean over recorded steps. */
  aggregate: CompareAggregate;
  /** Family-wise significance level (Holm), default 0.05. */
  alpha: number;
  /** Metrics reported descriptively (paired difference and CI, no test). */
  secondary: MetricRef[];
}

/** The points of an experiment: the file as written, and one run per point. */
export interface SweepPlan {
  /** The experiment without sweep overrides (single-value `--set`s applied). */
  base: Experiment;
  /** Deduplicated points in expansion order (one point when nothing is swept). */
  points: SweepPoint[];
  /** Override paths that vary across points (short form; "condition", "seed"). */
  axes: string[];
  /** The file's `compare:` block, or null when it has none. */
  compare: CompareSpec | null;
  /** The registry the plan was checked against: the given one plus the file's `plugins:`. */
  registry: StageRegistry;
}

/** One `FILE:LINE:COL: message` line per problem. */
export function formatProblems(problems: ConfigProblem[]): string {
  return problems.map((p) => `${p.file}:${p.line}:${p.col}: ${p.message}`)
    .join("\n");
}

const ROOT_KEYS = [
  "name",
  "description",
  "summary",
  "seed",
  "runtime",
  "stages",
  "loop",
  "sweep",
  "compare",
  "plugins",
  "tags",
];
const COMPARE_KEYS = ["metric", "baseline", "aggregate", "alpha", "secondary"];
const METRIC_KEYS = ["stage", "name"];
const AGGREGATES: readonly CompareAggregate[] = ["last", "mean"];
const LOOP_KEYS = ["steps", "init", "keep_every", "stages"];
const STAGE_KEYS = ["kind", "with", "needs", "seed"];
const LOOP_STAGE_KEYS = [...STAGE_KEYS, "every"];
const NAME_RE = /^[a-z][a-z0-9_-]*$/;

/**
 * Size limits checked at load time, so an absurd value is refused with the
 * limit named instead of exhausting memory while planning: the largest
 * `loop.steps`, the most sweep points, and the most stage instances of one
 * plan (points × instances per point, before identical ones are merged; the
 * planner handles 100,000 steps in about a second).
 */
export const LIMITS = { loopSteps: 100_000, points: 10_000, instances: 1_000_000 } as const;

/** Collects problems, deduplicated, with the override that supplied a value. */
function problemList(): { list: ConfigProblem[]; report: Report } {
  const list: ConfigProblem[] = [];
  const seen = new Set<string>();
  const report: Report = (at, message) => {
    const text = at.via && !message.startsWith("--set") ? `${message} (from ${at.via})` : message;
    const key = `${at.file}:${at.line}:${at.col}:${text}`;
    if (seen.has(key)) return;
    seen.add(key);
    list.push({ file: at.file, line: at.line, col: at.col, message: text });
  };
  return { list, report };
}

/** Sorts problems by position, the experiment file first, then `--set`. */
function sortProblems(
  problems: ConfigProblem[],
  file: string,
): ConfigProblem[] {
  const rank = (p: SourcePos) => p.file === file ? 0 : 1;
  return [...problems].sort((a, b) => rank(a) - rank(b) || a.line - b.line || a.col - b.col);
}

const SYNTAX_HINTS: Record<string, string> = {
  TAB_AS_INDENT: "indent with spaces, not tabs",
  BAD_INDENT: "check the indentation and that every [ or { is closed",
  MISSING_CHAR: "a closing quote or bracket is missing",
  DUPLICATE_KEY: "each key may appear only once in a map",
};

/** Parser errors that follow from an unclosed bracket or quote. */
const FOLLOW_ON = new Set([
  "BAD_INDENT",
  "MISSING_CHAR",
  "UNEXPECTED_TOKEN",
  "MULTILINE_IMPLICIT_KEY",
  "BLOCK_AS_IMPLICIT_KEY",
  "BAD_SCALAR_START",
  "IMPOSSIBLE",
]);

/**
 * The line of the earlier `key:` in the same block map as the duplicate at
 * `line`:`col` (same column, no less-indented line between), or undefined.
 */
function earlierKeyLine(text: string, line: number, col: number, key: string): number | undefined {
  const rows = text.split("\n");
  for (let i = line - 2; i >= 0; i--) {
    const row = rows[i];
    const indent = row.length - row.trimStart().length;
    if (row.trim() === "" || row.trimStart().startsWith("#")) continue;
    if (indent < col - 1) return undefined;
    if (indent === col - 1 && row.slice(indent).split(":")[0].trim() === key) return i + 1;
  }
  return undefined;
}

/** Parses YAML text into a raw tree, reporting syntax errors. */
function parseRoot(
  text: string,
  file: string,
  report: Report,
): RawNode | undefined {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const start: Origin = { file, line: 1, col: 1 };
  if (doc.errors.length > 0) {
    // An unclosed bracket or quote: one problem where it opened (the thing to
    // fix), naming where the parser gave up; the follow-on errors are dropped.
    const first = Math.min(...doc.errors.map((e) => e.pos[0]));
    const open = unclosedConstructs(text).filter((o) => o.offset <= first).at(-1);
    for (const error of doc.errors) {
      const pos = lines.linePos(error.pos[0]);
      let message = error.message.split("\n")[0].replace(/ at line \d+.*$/, "");
      if (open && error.pos[0] >= open.offset && FOLLOW_ON.has(error.code)) {
        const at = lines.linePos(open.offset);
        const failed = lines.linePos(first);
        report(
          { file, line: at.line, col: at.col },
          `YAML syntax error: this ${open.what} is never closed (parsing failed at line ${failed.line}, column ${failed.col}); add the closing ${open.close}`,
        );
        continue;
      }
      if (error.code === "DUPLICATE_KEY") {
        const key = text.slice(error.pos[0]).split(/[:\n]/)[0].trim();
        const earlier = earlierKeyLine(text, pos.line, pos.col, key);
        message = `duplicate key "${key}"${earlier ? ` (first at line ${earlier})` : ""}`;
      }
      const hint = SYNTAX_HINTS[error.code];
      report(
        { file, line: pos.line, col: pos.col },
        `YAML syntax error (${error.code}): ${message}${hint ? `; ${hint}` : ""}`,
      );
    }
    return undefined;
  }
  if (doc.contents === null) {
    report(
      start,
      'the experiment file is empty; it needs at least "name" and "stages"',
    );
    return undefined;
  }
  const root = toRaw(doc.contents, doc, lines, file, start);
  if (root.type !== "map") {
    report(
      start,
      `expected a map at the top level (name, stages, ...), got ${describe(root)}`,
    );
    return undefined;
  }
  return root;
}

/** Reports unknown keys of a map, with a suggestion. */
function checkKeys(
  node: RawNode,
  allowed: string[],
  where: string,
  report: Report,
  what = "key",
): void {
  if (node.type !== "map") return;
  for (const entry of node.entries) {
    if (allowed.includes(entry.key)) continue;
    const hint = didYouMean(entry.key, allowed) ||
      `; expected one of ${allowed.join(", ")}`;
    report(entry.keyAt, `${where}: unknown ${what} "${entry.key}"${hint}`);
  }
}

/** An integer (optionally bounded), or undefined after a report. */
function readInteger(
  node: RawNode,
  path: string,
  min: number | undefined,
  report: Report,
  max?: { value: number; why: string },
): number | undefined {
  if (
    node.type !== "scalar" || typeof node.value !== "number" ||
    !Number.isSafeInteger(node.value)
  ) {
    report(node.at, `${path}: expected an integer, got ${describe(node)}`);
    return undefined;
  }
  if (min !== undefined && node.value < min) {
    report(node.at, `${path}: must be >= ${min}, got ${node.value}`);
    return undefined;
  }
  if (max !== undefined && node.value > max.value) {
    report(node.at, `${path}: must be <= ${max.value}, got ${node.value} (${max.why})`);
    return undefined;
  }
  return node.value;
}

/** A string, or undefined after a report. */
function readString(
  node: RawNode,
  path: string,
  report: Report,
): string | undefined {
  if (node.type !== "scalar" || typeof node.value !== "string") {
    report(node.at, `${path}: expected a string, got ${describe(node)}`);
    return undefined;
  }
  return node.value;
}

/** The type a param spec expects, for messages. */
function expected(spec: ParamSpec): string {
  switch (spec.type) {
    case "number":
      return "a number";
    case "integer":
      return "an integer";
    case "string":
      return "a string";
    case "boolean":
      return "true or false";
    case "enum":
      return `one of ${spec.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "number[]":
      return "a list of numbers";
    case "string[]":
      return "a list of strings";
    case "json":
      return "a JSON value";
  }
}

/** Whether a raw node is a scalar accepted for a scalar param type. */
function scalarFits(node: RawNode, type: string): boolean {
  if (node.type !== "scalar") return false;
  const v = node.value;
  if (type === "number") return typeof v === "number" && Number.isFinite(v);
  if (type === "integer") {
    return typeof v === "number" && Number.isSafeInteger(v);
  }
  if (type === "string") return typeof v === "string";
  if (type === "boolean") return typeof v === "boolean";
  return false;
}

/** The first numeric bound `v` breaks (e.g. "> 0"), or undefined when it is in the domain. */
function outOfDomain(
  spec: { min?: number; max?: number; exclusiveMin?: number; exclusiveMax?: number },
  v: number,
): string | undefined {
  if (spec.min !== undefined && v < spec.min) return `>= ${spec.min}`;
  if (spec.exclusiveMin !== undefined && v <= spec.exclusiveMin) return `> ${spec.exclusiveMin}`;
  if (spec.max !== undefined && v > spec.max) return `<= ${spec.max}`;
  if (spec.exclusiveMax !== undefined && v >= spec.exclusiveMax) return `< ${spec.exclusiveMax}`;
  return undefined;
}

/** Checks one param value against its spec; returns the value or undefined. */
function readParam(
  spec: ParamSpec,
  node: RawNode,
  path: string,
  report: Report,
): Json | undefined {
  const bad = (extra = "") => {
    report(
      node.at,
      `${path}: expected ${expected(spec)}, got ${describe(node)}${extra}`,
    );
    return undefined;
  };
  switch (spec.type) {
    case "number":
    case "integer": {
      if (!scalarFits(node, spec.type)) return bad();
      const v = (node as { value: number }).value;
      const broken = outOfDomain(spec, v);
      if (broken) {
        report(node.at, `${path}: must be ${broken}, got ${v} (${spec.doc})`);
        return undefined;
      }
      return v;
    }
    case "string":
      if (!scalarFits(node, "string")) {
        return bad(
          node.type === "scalar" && node.value !== null
            ? `; quote it to make it a string: "${String(node.value)}"`
            : "",
        );
      }
      return toJson(node);
    case "boolean":
      return scalarFits(node, "boolean") ? toJson(node) : bad();
    case "enum": {
      if (
        node.type === "scalar" && typeof node.value === "string" &&
        spec.values.includes(node.value)
      ) return node.value;
      const word = node.type === "scalar" ? String(node.value) : "";
      return bad(didYouMean(word, spec.values));
    }
    case "number[]":
    case "string[]": {
      if (node.type !== "seq") return bad();
      const itemType = spec.type === "number[]" ? "number" : "string";
      let ok = true;
      node.items.forEach((item, i) => {
        if (!scalarFits(item, itemType)) {
          report(
            item.at,
            `${path}[${i}]: expected a ${itemType}, got ${describe(item)}`,
          );
          ok = false;
        }
      });
      return ok ? toJson(node) : undefined;
    }
    case "json":
      return toJson(node);
  }
}

/** Validates `with` against the kind's params; applies defaults and `check`. */
function readParams(
  kind: StageKind,
  withEntry: RawEntry | undefined,
  stagePath: string,
  stageAt: Origin,
  report: Report,
): JsonObject | undefined {
  const path = `${stagePath}.with`;
  let node = withEntry?.value;
  if (node?.type === "scalar" && node.value === null) node = undefined;
  if (node !== undefined && node.type !== "map") {
    report(node.at, `${path}: expected a map of params, got ${describe(node)}`);
    return undefined;
  }
  const at = withEntry?.keyAt ?? stageAt;
  const names = Object.keys(kind.params);
  const params: JsonObject = {};
  // Params that an unknown key looks like a misspelling of: not also "missing".
  const misspelt = new Set<string>();
  let ok = true;
  for (const entry of node?.entries ?? []) {
    const spec = kind.params[entry.key];
    if (spec === undefined) {
      const known = names.length
        ? `params of "${kind.name}": ${names.join(", ")}`
        : `kind "${kind.name}" takes no params`;
      const match = suggest(entry.key, names);
      if (match !== undefined) misspelt.add(match);
      const hint = match === undefined ? "" : `; did you mean "${match}"?`;
      report(
        entry.keyAt,
        `${path}: unknown param "${entry.key}"${hint} (${known})`,
      );
      ok = false;
      continue;
    }
    const value = readParam(
      spec,
      entry.value,
      `${path}.${keyPath(entry.key)}`,
      report,
    );
    if (value === undefined) ok = false;
    else params[entry.key] = value;
  }
  for (const [name, spec] of Object.entries(kind.params)) {
    if (name in params || node?.entries.some((e) => e.key === name)) continue;
    if (misspelt.has(name)) {
      ok = false;
      continue;
    }
    if (spec.default === undefined) {
      report(
        at,
        `${path}: missing required param "${name}" (${expected(spec)}: ${spec.doc})`,
      );
      ok = false;
    } else {
      params[name] = structuredClone(spec.default) as Json;
    }
  }
  if (!ok) return undefined;
  for (const message of kind.check?.(params) ?? []) {
    // "PARAM: ..." points at that param's value, the thing to fix.
    const named = node?.entries.find((e) => message.startsWith(`${e.key}:`));
    report(named?.value.at ?? at, `${path}: ${message}`);
    ok = false;
  }
  return ok ? params : undefined;
}

/** One `needs` entry before refs are resolved. */
interface NeedDraft {
  input: string;
  inputAt: Origin;
  ref: string;
  refAt: Origin;
  path: string;
}

/** A stage after its own fields were read (refs not yet resolved). */
interface StageDraft {
  name: string;
  path: string;
  at: Origin;
  inLoop: boolean;
  kind: StageKind | undefined;
  params: JsonObject | undefined;
  seed: number | null;
  every: number;
  needs: NeedDraft[];
  needsAt: Origin;
}

/** Reads `needs` (list or map form) into drafts. */
function readNeeds(
  entry: RawEntry | undefined,
  stagePath: string,
  report: Report,
): NeedDraft[] {
  const node = entry?.value;
  if (!entry || !node || (node.type === "scalar" && node.value === null)) {
    return [];
  }
  const path = `${stagePath}.needs`;
  const out: NeedDraft[] = [];
  if (node.type === "seq") {
    node.items.forEach((item, i) => {
      const ref = readString(item, `${path}[${i}]`, report);
      if (ref === undefined) return;
      const input = ref.startsWith("prev.") ? ref.slice(5) : ref;
      out.push({
        input,
        inputAt: item.at,
        ref,
        refAt: item.at,
        path: `${path}[${i}]`,
      });
    });
  } else if (node.type === "map") {
    for (const e of node.entries) {
      const ref = readString(e.value, `${path}.${keyPath(e.key)}`, report);
      if (ref === undefined) continue;
      out.push({
        input: e.key,
        inputAt: e.keyAt,
        ref,
        refAt: e.value.at,
        path: `${path}.${keyPath(e.key)}`,
      });
    }
  } else {
    report(
      node.at,
      `${path}: expected a list of stage names or a map of input name to stage, got ${
        describe(node)
      }`,
    );
  }
  return out;
}

/** Reads one stage's own fields (kind, params, seed, every, needs). */
function readStage(
  entry: RawEntry,
  section: string,
  inLoop: boolean,
  registry: StageRegistry,
  report: Report,
): StageDraft | undefined {
  const path = `${section}.${keyPath(entry.key)}`;
  const node = entry.value;
  if (node.type !== "map") {
    report(
      node.at,
      `${path}: expected a map with "kind" (and optional with, needs, seed${
        inLoop ? ", every" : ""
      }), got ${describe(node)}`,
    );
    return undefined;
  }
  for (const e of node.entries) {
    if (e.key === "every" && !inLoop) {
      report(
        e.keyAt,
        `${path}: "every" is only allowed on loop stages (under loop.stages); top-level stages run once`,
      );
    }
  }
  checkKeys(
    { ...node, entries: node.entries.filter((e) => e.key !== "every") },
    inLoop ? LOOP_STAGE_KEYS : STAGE_KEYS,
    path,
    report,
  );
  const kindEntry = entryOf(node, "kind");
  let kind: StageKind | undefined;
  if (!kindEntry) {
    report(
      entry.keyAt,
      `${path}: missing required key "kind"; known kinds: ${registry.names().join(", ")}`,
    );
  } else {
    const name = readString(kindEntry.value, `${path}.kind`, report);
    if (name !== undefined) {
      kind = registry.get(name);
      const hint = didYouMean(name, registry.names());
      if (kind === undefined) {
        report(
          kindEntry.value.at,
          `${path}.kind: unknown stage kind "${name}"${hint ? `${hint} Known` : "; known"} kinds: ${
            registry.names().join(", ")
          }`,
        );
      }
    }
  }
  const seedEntry = entryOf(node, "seed");
  let seed: number | null = null;
  if (seedEntry) {
    const s = readInteger(seedEntry.value, `${path}.seed`, undefined, report);
    if (s !== undefined) seed = s;
  }
  let every = 1;
  const everyEntry = inLoop ? entryOf(node, "every") : undefined;
  if (everyEntry) {
    const e = readInteger(everyEntry.value, `${path}.every`, 1, report);
    if (e !== undefined) every = e;
  }
  const withEntry = entryOf(node, "with");
  const params = kind ? readParams(kind, withEntry, path, entry.keyAt, report) : undefined;
  const needsEntry = entryOf(node, "needs");
  return {
    name: entry.key,
    path,
    at: entry.keyAt,
    inLoop,
    kind,
    params,
    seed,
    every,
    needs: readNeeds(needsEntry, path, report),
    needsAt: needsEntry?.keyAt ?? entry.keyAt,
  };
}

/** A same-step dependency edge used for cycle detection. */
interface Edge {
  to: string;
  at: Origin;
  path: string;
  /** True when the edge stands for "runs after the whole loop". */
  implicit: boolean;
}

/** Checks one needs entry; returns the resolved ref or undefined. */
function resolveNeed(
  stage: StageDraft,
  need: NeedDraft,
  byName: Map<string, StageDraft>,
  init: Record<string, string>,
  initKeys: Set<string>,
  report: Report,
): StageRef | undefined {
  const prev = need.ref.startsWith("prev.");
  const name = prev ? need.ref.slice(5) : need.ref;
  const target = byName.get(name);
  if (target === undefined) {
    report(
      need.refAt,
      `${need.path}: no stage named "${name}"${didYouMean(name, byName.keys())}`,
    );
    return undefined;
  }
  if (!prev) {
    if (target === stage) {
      report(
        need.refAt,
        `${need.path}: stage "${name}" needs itself; ${
          stage.inLoop
            ? `use "prev.${name}" for its output of the previous step`
            : "remove the entry"
        }`,
      );
      return undefined;
    }
    if (stage.inLoop && target.inLoop && stage.every % target.every !== 0) {
      report(
        need.refAt,
        `${need.path}: "${stage.name}" runs every ${stage.every} step(s) but "${name}" only every ${target.every}, so "${name}" has no output at some steps where "${stage.name}" runs; make the every of "${stage.name}" a multiple of ${target.every}`,
      );
      return undefined;
    }
    return { stage: name, when: "same" };
  }
  if (!stage.inLoop) {
    report(
      need.refAt,
      `${need.path}: "${need.ref}" is only allowed in loop stages (it means the previous loop step); write "${name}"`,
    );
    return undefined;
  }
  if (!target.inLoop) {
    report(
      need.refAt,
      `${need.path}: "${need.ref}" must name a loop stage, but "${name}" is a top-level stage; write "${name}"`,
    );
    return undefined;
  }
  if (target.every !== 1) {
    report(
      need.refAt,
      `${need.path}: "${need.ref}" needs "${name}" at every step, but it runs every ${target.every} steps; set \`every: 1\` on ${target.path} (line ${target.at.line})`,
    );
    return undefined;
  }
  if (!(name in init) && !initKeys.has(name)) {
    report(
      need.refAt,
      `${need.path}: "${need.ref}" has no value at step 0; add loop.init: { ${name}: STAGE } naming a top-level stage`,
    );
    return undefined;
  }
  return { stage: name, when: "prev" };
}

/** Reports same-step dependency cycles with their path. */
function checkCycles(
  drafts: StageDraft[],
  edges: Map<string, Edge[]>,
  report: Report,
): void {
  const loopNames = drafts.filter((d) => d.inLoop).map((d) => d.name);
  const all = new Map<string, Edge[]>();
  for (const d of drafts) {
    const own = edges.get(d.name) ?? [];
    const list = [...own];
    const toLoop = !d.inLoop && own.find((e) => loopNames.includes(e.to));
    if (toLoop) {
      for (const l of loopNames) {
        if (!own.some((e) => e.to === l)) {
          list.push({ ...toLoop, to: l, implicit: true });
        }
      }
    }
    all.set(d.name, list);
  }
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const reported = new Set<string>();
  const visit = (name: string) => {
    state.set(name, "open");
    stack.push(name);
    for (const edge of all.get(name) ?? []) {
      const s = state.get(edge.to);
      if (s === "open") {
        const cycle = [...stack.slice(stack.indexOf(edge.to)), edge.to];
        const key = [...new Set(cycle)].sort().join(",");
        if (reported.has(key)) continue;
        reported.add(key);
        const note = edge.implicit ||
            cycle.some((n, i) =>
              i > 0 && !drafts.find((d) => d.name === cycle[i - 1])?.inLoop &&
              loopNames.includes(n)
            )
          ? " (a top-level stage that needs a loop stage runs after the whole loop)"
          : "";
        report(
          edge.at,
          `${edge.path}: cycle: ${cycle.join(" -> ")}${note}; remove one of these needs${
            loopNames.includes(edge.to) ? ' or use "prev." in the loop' : ""
          }`,
        );
      } else if (s === undefined) visit(edge.to);
    }
    stack.pop();
    state.set(name, "done");
  };
  for (const d of drafts) if (!state.has(d.name)) visit(d.name);
}

/** Reads `loop.init`: loop stage name -> top-level stage name. */
function readInit(
  node: RawNode | undefined,
  byName: Map<string, StageDraft>,
  report: Report,
): Record<string, string> {
  const init: Record<string, string> = {};
  if (!node || (node.type === "scalar" && node.value === null)) return init;
  if (node.type !== "map") {
    report(
      node.at,
      `loop.init: expected a map of loop stage to top-level stage, got ${describe(node)}`,
    );
    return init;
  }
  for (const e of node.entries) {
    const path = `loop.init.${keyPath(e.key)}`;
    const stage = byName.get(e.key);
    if (!stage) {
      report(
        e.keyAt,
        `loop.init: no stage named "${e.key}"${didYouMean(e.key, byName.keys())}`,
      );
    } else if (!stage.inLoop) {
      report(
        e.keyAt,
        `loop.init: "${e.key}" is a top-level stage; init keys name loop stages whose "prev." value at step 0 comes from a top-level stage`,
      );
    }
    const source = readString(e.value, path, report);
    if (source === undefined) continue;
    const from = byName.get(source);
    if (!from) {
      report(
        e.value.at,
        `${path}: no stage named "${source}"${didYouMean(source, byName.keys())}`,
      );
    } else if (from.inLoop) {
      report(
        e.value.at,
        `${path}: "${source}" is a loop stage; the step-0 value must come from a top-level stage`,
      );
    } else if (stage?.inLoop) init[e.key] = source;
  }
  return init;
}

/** Reads the stages of one section (`stages` or `loop.stages`). */
function readSection(
  node: RawNode | undefined,
  section: string,
  inLoop: boolean,
  byName: Map<string, StageDraft>,
  registry: StageRegistry,
  report: Report,
): StageDraft[] {
  if (!node || (node.type === "scalar" && node.value === null)) return [];
  if (node.type !== "map") {
    report(
      node.at,
      `${section}: expected a map of stage name to stage, got ${describe(node)}`,
    );
    return [];
  }
  const out: StageDraft[] = [];
  for (const entry of node.entries) {
    if (!NAME_RE.test(entry.key)) {
      report(
        entry.keyAt,
        `${section}: invalid stage name ${
          JSON.stringify(entry.key)
        }; use lowercase letters, digits, "-" and "_", starting with a letter`,
      );
    }
    const other = byName.get(entry.key);
    if (other) {
      report(
        entry.keyAt,
        `${section}.${
          keyPath(entry.key)
        }: stage name "${entry.key}" is already used by ${other.path} (line ${other.at.line}); stage names must be unique`,
      );
      continue;
    }
    const draft = readStage(entry, section, inLoop, registry, report);
    if (draft) {
      byName.set(draft.name, draft);
      out.push(draft);
    }
  }
  return out;
}

/** Validates a raw experiment tree; returns it resolved or undefined after reports. */
function validate(
  root: RawNode,
  file: string,
  registry: StageRegistry,
  report: Report,
): Experiment | undefined {
  let failed = false;
  const r: Report = (at, message) => {
    failed = true;
    report(at, message);
  };
  const start: Origin = { file, line: 1, col: 1 };
  if (root.type !== "map") {
    r(start, `expected a map at the top level, got ${describe(root)}`);
    return undefined;
  }
  checkKeys(root, ROOT_KEYS, "top level", r);
  const nameEntry = entryOf(root, "name");
  let name = "";
  if (!nameEntry) {
    r(
      root.at,
      'missing required key "name" (a string naming the experiment); add `name: <text>` at the top',
    );
  } else name = readString(nameEntry.value, "name", r) ?? "";
  const descEntry = entryOf(root, "description");
  const description = descEntry ? readString(descEntry.value, "description", r) ?? "" : "";
  const summaryEntry = entryOf(root, "summary");
  const summary = summaryEntry ? readString(summaryEntry.value, "summary", r) ?? null : null;
  const seedEntry = entryOf(root, "seed");
  const seed = seedEntry ? readInteger(seedEntry.value, "seed", undefined, r) ?? 0 : 0;
  const runtime: JsonObject = {};
  const runtimeNode = entryOf(root, "runtime")?.value;
  if (
    runtimeNode &&
    !(runtimeNode.type === "scalar" && runtimeNode.value === null)
  ) {
    if (runtimeNode.type !== "map") {
      r(
        runtimeNode.at,
        `runtime: expected a map of settings, got ${describe(runtimeNode)}`,
      );
    } else {
      const schema = registry.runtime;
      for (const e of runtimeNode.entries) {
        const spec = schema?.[e.key];
        if (schema && !spec) {
          const known = Object.keys(schema);
          r(
            e.keyAt,
            `runtime: unknown setting "${e.key}"${didYouMean(e.key, known)} (settings: ${
              known.join(", ")
            })`,
          );
        } else if (spec) {
          const v = readParam(spec, e.value, `runtime.${keyPath(e.key)}`, r);
          if (v !== undefined) runtime[e.key] = v;
        } else if (e.value.type !== "scalar") {
          r(
            e.value.at,
            `runtime.${keyPath(e.key)}: expected a scalar (string, number or boolean), got ${
              describe(e.value)
            }`,
          );
        } else runtime[e.key] = e.value.value;
      }
    }
  }

  const byName = new Map<string, StageDraft>();
  const drafts = readSection(
    entryOf(root, "stages")?.value,
    "stages",
    false,
    byName,
    registry,
    r,
  );
  let loop: LoopSpec | null = null;
  let initNode: RawNode | undefined;
  const loopEntry = entryOf(root, "loop");
  if (loopEntry) {
    const node = loopEntry.value;
    if (node.type !== "map") {
      r(
        node.at,
        `loop: expected a map with steps and stages, got ${describe(node)}`,
      );
    } else {
      checkKeys(node, LOOP_KEYS, "loop", r);
      const stepsEntry = entryOf(node, "steps");
      let steps = 1;
      if (!stepsEntry) {
        r(
          loopEntry.keyAt,
          'loop: missing required key "steps" (an integer >= 1)',
        );
      } else {
        steps = readInteger(stepsEntry.value, "loop.steps", 1, r, {
          value: LIMITS.loopSteps,
          why: "the most steps the lab plans; use fewer steps",
        }) ?? 1;
      }
      const keepEntry = entryOf(node, "keep_every");
      const keepEvery = keepEntry ? readInteger(keepEntry.value, "loop.keep_every", 0, r) ?? 0 : 0;
      const stagesEntry = entryOf(node, "stages");
      if (!stagesEntry) {
        r(
          loopEntry.keyAt,
          'loop: missing required key "stages" (a map of stage name to stage)',
        );
      }
      drafts.push(
        ...readSection(
          stagesEntry?.value,
          "loop.stages",
          true,
          byName,
          registry,
          r,
        ),
      );
      initNode = entryOf(node, "init")?.value;
      loop = { steps, init: {}, keepEvery };
    }
  }
  if (drafts.length === 0 && !failed) {
    r(root.at, 'no stages declared; add a "stages" map (or loop.stages)');
  }
  const init = readInit(initNode, byName, r);
  // Keys written under loop.init (even invalid ones) count as initialised, so
  // a bad init entry is reported once rather than again at each "prev." use.
  const initKeys = new Set(
    initNode?.type === "map" ? initNode.entries.map((e) => e.key) : [],
  );
  if (loop) loop.init = init;

  const stages: Record<string, StageSpec> = {};
  const edges = new Map<string, Edge[]>();
  for (const d of drafts) {
    const needs: Record<string, StageRef> = {};
    const list: Edge[] = [];
    // Inputs an unknown input name looks like a misspelling of: not also "missing".
    const misspelt = new Set<string>();
    for (const need of d.needs) {
      if (d.kind && !(need.input in d.kind.inputs)) {
        const inputs = Object.keys(d.kind.inputs);
        const known = inputs.length
          ? `inputs of "${d.kind.name}": ${inputs.join(", ")}`
          : `kind "${d.kind.name}" takes no inputs`;
        const hint = didYouMean(need.input, inputs);
        const match = suggest(need.input, inputs);
        if (match !== undefined) misspelt.add(match);
        // In a list each stage name is also the input name.
        const listHint = !hint && need.path.endsWith("]") && inputs.length
          ? `; name the input with a map, e.g. needs: { ${inputs[0]}: ${need.ref} }`
          : "";
        r(need.inputAt, `${need.path}: unknown input "${need.input}"${hint} (${known})${listHint}`);
      } else if (need.input in needs) {
        r(need.inputAt, `${need.path}: input "${need.input}" is wired twice`);
      }
      const ref = resolveNeed(d, need, byName, init, initKeys, r);
      if (ref === undefined) continue;
      needs[need.input] = ref;
      if (ref.when === "same") {
        list.push({
          to: ref.stage,
          at: need.refAt,
          path: need.path,
          implicit: false,
        });
      }
    }
    edges.set(d.name, list);
    if (d.kind) {
      for (const [input, spec] of Object.entries(d.kind.inputs)) {
        if (spec.optional || misspelt.has(input) || d.needs.some((n) => n.input === input)) {
          continue;
        }
        r(
          d.needsAt,
          `${d.path}.needs: missing input "${input}" of kind "${d.kind.name}" (${spec.doc}); wire it, e.g. needs: { ${input}: STAGE }`,
        );
      }
    }
    stages[d.name] = {
      name: d.name,
      kind: d.kind?.name ?? "",
      params: d.params ?? {},
      needs,
      seed: d.seed,
      every: d.every,
      inLoop: d.inLoop,
    };
  }
  checkCycles(drafts, edges, r);
  if (failed) return undefined;
  return { name, description, summary, file, seed, runtime, stages, loop };
}

/** Stage names declared in a raw tree (`stages` and `loop.stages`). */
function rawStageNames(root: RawNode): string[] {
  const keys = (node: RawNode | undefined) =>
    node?.type === "map" ? node.entries.map((e) => e.key) : [];
  const loop = entryOf(root, "loop")?.value;
  return [...keys(entryOf(root, "stages")?.value), ...keys(loop && entryOf(loop, "stages")?.value)];
}

/** Reads one `{ stage, name }` metric reference, or undefined after a report. */
function readMetricRef(
  node: RawNode,
  path: string,
  stages: string[],
  report: Report,
): MetricRef | undefined {
  if (node.type !== "map") {
    report(
      node.at,
      `${path}: expected a map { stage: STAGE, name: METRIC }, got ${describe(node)}`,
    );
    return undefined;
  }
  checkKeys(node, METRIC_KEYS, path, report);
  const get = (key: string, what: string) => {
    const e = entryOf(node, key);
    if (!e) {
      report(node.at, `${path}: missing required key "${key}" (${what})`);
      return undefined;
    }
    const v = readString(e.value, `${path}.${key}`, report);
    if (v === "") {
      report(e.value.at, `${path}.${key}: must not be empty`);
      return undefined;
    }
    return v;
  };
  const stage = get("stage", "the stage that records the metric");
  const name = get("name", 'the metric name, e.g. "pass@1/id"');
  if (stage !== undefined && !stages.includes(stage)) {
    report(
      entryOf(node, "stage")!.value.at,
      `${path}.stage: no stage named "${stage}"${didYouMean(stage, stages)} (stages: ${
        stages.join(", ")
      })`,
    );
    return undefined;
  }
  return stage === undefined || name === undefined ? undefined : { stage, name };
}

/** Reads the top-level `compare:` block; null when absent or invalid (after reports). */
function readCompare(root: RawNode, report: Report): CompareSpec | null {
  const entry = entryOf(root, "compare");
  if (!entry) return null;
  const node = entry.value;
  if (node.type !== "map") {
    report(
      node.at,
      `compare: expected a map with metric, baseline and aggregate (optional alpha, secondary), got ${
        describe(node)
      }`,
    );
    return null;
  }
  checkKeys(node, COMPARE_KEYS, "compare", report);
  const stages = rawStageNames(root);
  let ok = true;
  const required = (key: string, what: string) => {
    const e = entryOf(node, key);
    if (!e) {
      report(entry.keyAt, `compare: missing required key "${key}" (${what})`);
      ok = false;
    }
    return e;
  };
  const metricEntry = required("metric", "the primary metric: { stage: STAGE, name: METRIC }");
  const metric = metricEntry && readMetricRef(metricEntry.value, "compare.metric", stages, report);
  if (metricEntry && !metric) ok = false;

  const baselineEntry = required("baseline", "the condition the others are compared with");
  let baseline = "";
  if (baselineEntry) {
    const v = baselineEntry.value;
    if (v.type !== "scalar" || v.value === null || v.value === "") {
      report(
        v.at,
        `compare.baseline: expected a condition (e.g. grpo or "condition=grpo"), got ${
          describe(v)
        }`,
      );
      ok = false;
    } else baseline = String(v.value);
  }

  const aggregateEntry = required(
    "aggregate",
    "last (the value at the last step recorded) or mean (the mean over steps)",
  );
  let aggregate: CompareAggregate = "last";
  if (aggregateEntry) {
    const v = aggregateEntry.value;
    const word = v.type === "scalar" ? v.value : undefined;
    if (typeof word === "string" && (AGGREGATES as readonly string[]).includes(word)) {
      aggregate = word as CompareAggregate;
    } else {
      report(
        v.at,
        `compare.aggregate: expected "last" or "mean", got ${describe(v)}${
          typeof word === "string" ? didYouMean(word, AGGREGATES) : ""
        }`,
      );
      ok = false;
    }
  }

  let alpha = 0.05;
  const alphaEntry = entryOf(node, "alpha");
  if (alphaEntry) {
    const v = alphaEntry.value;
    if (
      v.type !== "scalar" || typeof v.value !== "number" || !(v.value > 0 && v.value < 1)
    ) {
      report(
        v.at,
        `compare.alpha: expected a number between 0 and 1 (e.g. 0.05), got ${describe(v)}`,
      );
      ok = false;
    } else alpha = v.value;
  }

  const secondary: MetricRef[] = [];
  const secondaryNode = entryOf(node, "secondary")?.value;
  if (secondaryNode && !(secondaryNode.type === "scalar" && secondaryNode.value === null)) {
    if (secondaryNode.type !== "seq") {
      report(
        secondaryNode.at,
        `compare.secondary: expected a list of { stage: STAGE, name: METRIC }, got ${
          describe(secondaryNode)
        }`,
      );
      ok = false;
    } else {
      secondaryNode.items.forEach((item, i) => {
        const ref = readMetricRef(item, `compare.secondary[${i}]`, stages, report);
        if (!ref) {
          ok = false;
          return;
        }
        const same = (m: MetricRef) => m.stage === ref.stage && m.name === ref.name;
        if ((metric && same(metric)) || secondary.some(same)) {
          report(
            item.at,
            `compare.secondary[${i}]: ${ref.stage} ${ref.name} is listed already; list each metric once`,
          );
          ok = false;
          return;
        }
        secondary.push(ref);
      });
    }
  }
  return ok && metric ? { metric, baseline, aggregate, alpha, secondary } : null;
}

/** The top-level `tags:` list of strings (empty when absent). */
function readTags(root: RawNode, report: Report): string[] {
  const node = entryOf(root, "tags")?.value;
  if (!node || (node.type === "scalar" && node.value === null)) return [];
  if (node.type !== "seq") {
    report(node.at, `tags: expected a list of strings (e.g. [baseline]), got ${describe(node)}`);
    return [];
  }
  return node.items.map((item, i) => readString(item, `tags[${i}]`, report))
    .filter((t): t is string => t !== undefined);
}

/** Stage instances of one point: top-level stages once, loop stages at their steps. */
function instancesPerPoint(e: Experiment): number {
  let n = 0;
  for (const stage of Object.values(e.stages)) {
    if (!stage.inLoop || !e.loop) n++;
    else n += Math.ceil(e.loop.steps / stage.every);
  }
  return n;
}

/**
 * Reports a sweep whose points or stage instances exceed {@linkcode LIMITS}
 * (counted before expansion, from the axis lengths); true when it did.
 */
function planTooBig(spec: SweepSpec, base: Experiment, report: Report): boolean {
  const sizes: { at: Origin; n: number; what: string }[] = [];
  if (spec.ablation) {
    const c = spec.ablation.conditions;
    if (c.length) sizes.push({ at: c[0].at, n: c.length + 1, what: "ablation conditions" });
  }
  for (const a of [...spec.grid, spec.zip[0]]) {
    if (a) sizes.push({ at: a.at, n: a.values.length, what: `values of ${a.target.display}` });
  }
  if (spec.seeds) sizes.push({ at: spec.seeds.at, n: spec.seeds.values.length, what: "seeds" });
  const points = sizes.reduce((p, s) => p * s.n, 1);
  const fallback = { n: 1, at: { file: base.file, line: 1, col: 1 } };
  const largest = sizes.reduce((a, b) => (b.n > a.n ? b : a), fallback);
  if (points > LIMITS.points) {
    report(
      largest.at,
      `the sweep has up to ${points} points (${
        sizes.map((s) => `${s.n} ${s.what}`).join(" × ")
      }), more than the limit of ${LIMITS.points}; sweep fewer values`,
    );
    return true;
  }
  const per = instancesPerPoint(base);
  if (points * per > LIMITS.instances) {
    report(
      largest.at,
      `the plan has up to ${
        points * per
      } stage instances (${points} point(s) × ${per} per point), more than the limit of ${LIMITS.instances}; use fewer loop steps or points`,
    );
    return true;
  }
  return false;
}

/** Applies overrides in order to a raw tree. */
function applyAll(root: RawNode, assigns: Assign[]): RawNode {
  return assigns.reduce(
    (tree, a) => applyOverride(tree, a.target.segments, a.value),
    root,
  );
}

/** The run id of a resolved experiment: 12 hex chars of its hash. */
function runIdOf(experiment: Experiment): string {
  const { file: _file, description: _description, summary: _summary, ...rest } = experiment;
  return hashJson(rest as unknown as Json).slice(0, 12);
}

/** Options of {@linkcode loadExperimentText}. */
export interface LoadOptions {
  /**
   * Check that the files the experiment names (`summary:`) exist, relative to
   * `file`'s directory, so a typo is found before anything runs
   * ({@linkcode loadExperimentFile} sets it).
   */
  checkFiles?: boolean;
}

/** Reports a `summary:` SQL file (`node` its value) that is missing or not a file. */
function checkSummaryFile(node: RawNode, file: string, summary: string, report: Report): void {
  const dir = file.includes("/") ? file.slice(0, file.lastIndexOf("/")) : ".";
  const path = summary.startsWith("/") ? summary : `${dir}/${summary}`;
  let problem = "";
  try {
    if (!Deno.statSync(path).isFile) problem = "is a directory, not a SQL file";
  } catch (e) {
    problem = e instanceof Deno.errors.NotFound ? "does not exist" : `cannot be read (${e})`;
  }
  if (!problem) return;
  const hint = suggestFile(path, [".sql"]);
  report(
    node.at,
    `summary: ${path} ${problem} (the path is relative to the experiment file); ${
      hint ? `did you mean ${hint}?` : "fix the path or remove summary:"
    }`,
  );
}

/**
 * Reports the key files (`StageKind.keyFiles`) of `exp`'s stages that do not exist, at the param
 * that names them (sweep points are checked by the executor before anything runs).
 */
function checkKeyFiles(
  root: RawNode,
  exp: Experiment,
  registry: StageRegistry,
  report: Report,
): void {
  const dir = experimentDir(exp.file);
  for (const spec of Object.values(exp.stages)) {
    const paths = registry.get(spec.kind)?.keyFiles?.(spec.params, dir) ?? [];
    const where = spec.inLoop ? `loop.stages.${spec.name}` : `stages.${spec.name}`;
    const parent = spec.inLoop ? entryOf(root, "loop")?.value : root;
    const stage = parent && entryOf(parent, "stages")?.value;
    const node = stage && entryOf(stage, spec.name)?.value;
    const withNode = node && entryOf(node, "with")?.value;
    for (const p of paths) {
      const abs = resolveIn(dir, p);
      try {
        Deno.statSync(abs);
        continue;
      } catch {
        // reported below
      }
      const entry = withNode?.type === "map"
        ? withNode.entries.find((e) => e.value.type === "scalar" && e.value.value === p)
        : undefined;
      const rel = p.startsWith("/") ? "" : " (relative paths are relative to the experiment file)";
      report(
        entry?.value.at ?? node?.at ?? root.at,
        `${where}.with${entry ? `.${entry.key}` : ""}: ${abs} does not exist${rel}; fix the path`,
      );
    }
  }
}

/**
 * Loads an experiment from YAML text: validates it, applies `--set`
 * arguments (`path=value` or `path=v1,v2`) and expands its sweep.
 * Throws {@linkcode ConfigError} with every problem found.
 */
export function loadExperimentText(
  text: string,
  file: string,
  registry: StageRegistry,
  sets: string[] = [],
  options: LoadOptions = {},
): SweepPlan {
  const { list, report } = problemList();
  const fail = () => new ConfigError(sortProblems(list, file));
  const root = parseRoot(text, file, report);
  if (root === undefined) throw fail();
  const params: ParamNames = (k) => {
    const kind = registry.get(k);
    return kind ? Object.keys(kind.params) : undefined;
  };
  const setAxes: SetAxis[] = [];
  sets.forEach((arg, i) => {
    const parsed = parseSet(arg, i);
    const at: Origin = { file: "--set", line: 1, col: i + 1 };
    if (typeof parsed === "string") return report(at, parsed);
    const target = resolvePath(root, parsed.path, params);
    if (typeof target === "string") {
      return report(at, `${parsed.label}: ${target}`);
    }
    setAxes.push({ target, values: parsed.values, at: parsed.at });
  });
  const fileSpec = readSweep(
    entryOf(root, "sweep")?.value,
    root,
    params,
    report,
  );
  const { spec, singles } = mergeSets(fileSpec, setAxes);
  checkZip(spec, report);

  const base = validate(applyAll(root, singles), file, registry, report);
  const summaryNode = entryOf(applyAll(root, singles), "summary")?.value;
  if (
    options.checkFiles && summaryNode?.type === "scalar" && typeof summaryNode.value === "string"
  ) {
    checkSummaryFile(summaryNode, file, summaryNode.value, report);
  }
  if (options.checkFiles && base) checkKeyFiles(applyAll(root, singles), base, registry, report);
  const compare = readCompare(root, report);
  const tags = readTags(root, report);
  const points: SweepPoint[] = [];
  const seen = new Set<string>();
  const tooBig = base !== undefined && planTooBig(spec, base, report);
  for (const draft of tooBig ? [] : expandSweep(spec)) {
    const tree = applyAll(root, [...draft.assigns, ...singles]);
    const experiment = validate(tree, file, registry, report);
    if (!experiment) continue;
    const runId = runIdOf(experiment);
    if (seen.has(runId)) continue;
    seen.add(runId);
    const overrides: JsonObject = { ...draft.overrides };
    for (const s of singles) overrides[s.target.display] = toJson(s.value);
    points.push({
      runId,
      // Single-value --set overrides follow the sweep axes in the label, so
      // runs of a modified experiment do not group with the file's own runs.
      label: [
        ...draft.labelParts,
        ...singles.filter((a) => a.target.display !== "seed").map((a) =>
          `${a.target.display}=${labelValue(a.value)}`
        ),
        `seed=${experiment.seed}`,
      ].join(" "),
      overrides,
      experiment,
      tags,
    });
  }
  if (list.length > 0 || base === undefined) throw fail();
  return { base, points, axes: sweepAxes(spec), compare, registry };
}

/**
 * Reads and loads an experiment file (see {@linkcode loadExperimentText}).
 * A file that cannot be read is reported as a {@linkcode ConfigError}.
 */
export async function loadExperimentFile(
  path: string,
  registry: StageRegistry,
  sets: string[] = [],
): Promise<SweepPlan> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    throw new ConfigError([{ file: path, line: 1, col: 1, message: unreadable(path, error) }]);
  }
  const text = decodeText(bytes);
  if (typeof text !== "string") {
    throw new ConfigError([{
      file: path,
      ...text,
      message: "not a text YAML file (binary content: a NUL or control byte, or invalid UTF-8)",
    }]);
  }
  let withPlugins: StageRegistry;
  try {
    withPlugins = await loadPlugins(text, path, registry);
  } catch (e) {
    if (e instanceof PluginError) throw new ConfigError(e.problems);
    throw e;
  }
  return loadExperimentText(text, path, withPlugins, sets, { checkFiles: true });
}

/** Why an experiment file cannot be read, ending with what to do. */
function unreadable(path: string, error: unknown): string {
  // The file the user probably meant: in its directory, the working
  // directory or a folder of it (e.g. experiments/).
  const near = () => {
    let dirs: string[] = [];
    try {
      dirs = [...Deno.readDirSync(".")].filter((e) => e.isDirectory && !e.name.startsWith("."))
        .map((e) => e.name).sort();
    } catch {
      // No listing: no suggestion from there.
    }
    const hit = suggestFile(path, [".yaml", ".yml"], [".", ...dirs]);
    return hit ? `; did you mean ${hit}?` : "";
  };
  if (error instanceof Deno.errors.NotFound) {
    return `Cannot read experiment file: file not found; expected FILE.yaml${near()}`;
  }
  if (error instanceof Deno.errors.IsADirectory) {
    let files: string[] = [];
    try {
      files = [...Deno.readDirSync(path)].filter((e) => e.isFile && /\.ya?ml$/.test(e.name))
        .map((e) => `${path.replace(/\/$/, "")}/${e.name}`).sort();
    } catch {
      // Unlistable: no examples.
    }
    return `Cannot read experiment file: it is a directory; expected FILE.yaml${
      files.length ? `, e.g. ${files.slice(0, 6).join(", ")}` : ""
    }`;
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return `Cannot read experiment file: permission denied; make it readable (chmod +r ${path})`;
  }
  return `Cannot read experiment file: ${error instanceof Error ? error.message : String(error)}`;
}

/**
 * The UTF-8 text of a file, or the position of the first byte that makes it
 * binary: invalid UTF-8, NUL or another control character than tab, line
 * feed and carriage return (YAML allows none of them).
 */
function decodeText(bytes: Uint8Array): string | { line: number; col: number } {
  let bad = bytes.findIndex((b) =>
    (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) || b === 0x7f
  );
  if (bad < 0) {
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      // The first sequence the lenient decoder replaces.
      const text = new TextDecoder().decode(bytes);
      bad = new TextEncoder().encode(text.slice(0, Math.max(0, text.indexOf("\uFFFD")))).length;
    }
  }
  const lines = new TextDecoder().decode(bytes.subarray(0, bad)).split("\n");
  return { line: lines.length, col: lines[lines.length - 1].length + 1 };
}
