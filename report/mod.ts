/**
 * The HTML report of a results directory: the statistical comparisons table
 * (when the database has one), method comparison curves with 95% CI bands
 * (Fig. 6–7), paired differences from the baseline method, the two-phase
 * figure (paper Fig. 3), final-metric bars with 95% CIs and the run table, in
 * one self-contained file (inline SVG and CSS, no scripts).
 *
 * @module
 */
import { join } from "node:path";
import { UserError } from "../pipeline/errors.ts";
import { ResultsStore } from "../pipeline/store.ts";
import {
  loadComparisons,
  loadExperiments,
  loadFinalValues,
  loadMethods,
  loadStepKeys,
  loadStepValues,
  runSqlFile,
  scopeToExperiment,
  type StepValue,
} from "./data.ts";
import { grid, note, page, resultTable, section } from "./html.ts";
import { chooseBaseline } from "./paired.ts";
import {
  BAR_PANELS,
  COMPARE_PANELS,
  compareCharts,
  finalBarCharts,
  methodColors,
  PAIRED_PANELS,
  pairedCharts,
  resolveColumns,
  resolvePanels,
  shortNames,
  stepMetricKeys,
  TWO_PHASE_COLUMNS,
  twoPhaseFigure,
} from "./panels.ts";
import { escapeXml } from "./svg.ts";
import { type CustomPanelOptions, customPanels } from "./custom_panel.ts";

/** Options of `renderReport`. */
export interface ReportOptions {
  /** Page title (default: "HICRA lab report — <experiments>"). */
  title?: string;
  /** Results directory shown in the header. */
  resultsDir?: string;
  /** Only the runs of this experiment (`runs.experiment`); default: all runs. */
  experiment?: string;
  /**
   * The baseline method of the paired differences: the method equal to this
   * name or ending with `=name`. Default: the method named `grpo` (or
   * containing it), else the first method.
   */
  baseline?: string;
  /** Extra curve panels of any metrics (`--metric`), grouped by `by` (see `custom_panel.ts`). */
  custom?: CustomPanelOptions;
}

/** Default report file name inside a results directory. */
export const REPORT_FILE = "report.html";

/** Runs `build`; on failure returns an error paragraph instead of throwing. */
async function guarded(what: string, build: () => Promise<string[]>): Promise<string[]> {
  try {
    return await build();
  } catch (e) {
    const msg = e instanceof Error ? e.message.split("\n")[0] : String(e);
    return [note(`could not build ${what}: ${msg}`, "error")];
  }
}

/**
 * Renders the report of the runs in `store` (those of `opts.experiment`
 * only, when given) as one HTML document. An unknown experiment or baseline
 * is a `UserError`.
 */
export async function renderReport(
  store: ResultsStore,
  opts: ReportOptions = {},
): Promise<string> {
  if (opts.experiment === undefined) return await renderScoped(store, opts);
  const all = await loadExperiments(store);
  if (!all.includes(opts.experiment)) {
    throw new UserError(
      `--experiment ${opts.experiment}: no runs of that experiment ` +
        `(experiments: ${all.join(", ") || "none"})`,
    );
  }
  const unscope = await scopeToExperiment(store, opts.experiment);
  try {
    return await renderScoped(store, opts);
  } finally {
    await unscope();
  }
}

/** `renderReport` on a store whose tables are already restricted to the runs to show. */
async function renderScoped(store: ResultsStore, opts: ReportOptions): Promise<string> {
  const methods = await loadMethods(store);
  const baseline = chooseBaseline(methods, opts.baseline);
  const experiments = await loadExperiments(store);
  const { names, axis, common } = shortNames(methods);
  const colors = methodColors(methods);
  const title = opts.title ?? `HICRA lab report — ${experiments.join(", ") || "no runs"}`;
  const counts = (await store.query(
    `SELECT count(*)::INTEGER, count(DISTINCT seed)::INTEGER,
       count(*) FILTER (WHERE status = 'done')::INTEGER FROM runs`,
  )).rows[0];
  const header = [
    `<h1>${escapeXml(title)}</h1>`,
    note(
      `${counts[0]} run(s) (${counts[2]} done), ${methods.length} method(s), ${counts[1]} seed(s)` +
        (opts.experiment !== undefined ? ` — experiment: ${opts.experiment}` : "") +
        (opts.resultsDir ? ` — results: ${opts.resultsDir}` : "") +
        (axis ? ` — methods differ in ${axis}` : "") +
        (common ? ` — all runs: ${common}` : "") +
        (baseline !== null ? ` — baseline: ${baseline}` : ""),
      "meta",
    ),
  ];

  // Asked for by name: an unknown metric or --by is the user's error, not a note.
  const custom = opts.custom?.metrics.length ? [await customPanels(store, opts.custom)] : [];

  const comparisons = await guarded("the comparisons table", async () => {
    const table = await loadComparisons(store, opts.experiment);
    if (!table) return [];
    return [
      section("comparisons", "Statistical comparisons against the baseline", [
        note(
          "From the comparisons table: per metric, each condition against its baseline over " +
            "seeds — mean difference (diff) with its 95% t-CI (ci_lo, ci_hi), paired t-test " +
            "(p_t) and permutation (p_perm) p-values, bootstrap CI (boot_lo, boot_hi), " +
            "Holm-adjusted p-value (p_holm), minimum detectable effect (mde).",
        ),
        table.rows.length ? resultTable(table, "comparisons") : note("no rows"),
      ]),
    ];
  });

  let values: StepValue[] = [];
  let present = new Set<string>();
  const loaded = await guarded("the step metrics", async () => {
    values = await loadStepValues(store, stepMetricKeys());
    present = await loadStepKeys(store);
    return [];
  });
  const compare = await guarded("the method comparison", () => {
    const panels = resolvePanels(COMPARE_PANELS, present);
    return Promise.resolve([grid(compareCharts(values, methods, names, colors, panels))]);
  });
  const paired = await guarded("the paired differences", () => {
    if (baseline === null) return Promise.resolve([note("no runs in this results database")]);
    const panels = resolvePanels(PAIRED_PANELS, present);
    return Promise.resolve([
      grid(pairedCharts(values, methods, baseline, names, colors, panels)),
    ]);
  });
  const twoPhase = await guarded("the two-phase figure", () => {
    if (methods.length === 0) return Promise.resolve([note("no runs in this results database")]);
    const rows = twoPhaseFigure(
      values,
      methods,
      names,
      resolveColumns(TWO_PHASE_COLUMNS, present),
    );
    return Promise.resolve(rows.flatMap((r) => [
      `<h3>${escapeXml(r.method)}</h3>`,
      grid(r.charts, "row"),
    ]));
  });
  const bars = await guarded("the final-metric bars", async () => {
    const finals = await loadFinalValues(store, BAR_PANELS.map((p) => p.name));
    const table = await runSqlFile(store, "compare_methods");
    return [
      grid(finalBarCharts(finals, methods, names, colors)),
      ...table.map((t) => resultTable(t)),
    ];
  });
  const runs = await guarded("the run table", async () => {
    const results = await runSqlFile(store, "runs");
    return results.map((r) => resultTable(r, "runs"));
  });

  const baseName = baseline === null ? "the baseline" : names.get(baseline) ?? baseline;
  return page(title, [
    ...header,
    ...custom,
    ...comparisons,
    ...loaded,
    section("compare", "Method comparison over training (cf. paper Fig. 6–7)", [
      note(
        "One line per method: mean over seeds at each step; shaded band: 95% confidence " +
          "interval of that mean (Student t, n = seeds), clipped to the metric's valid range " +
          "(fractions to [0, 1], entropies to ≥ 0). No band with a single seed.",
      ),
      ...compare,
    ]),
    section("paired", `Paired differences from the baseline (${baseName})`, [
      note(
        `Per method, (method − ${baseName}) computed per seed at the same step (runs of the ` +
          "same seed share the warm start and evaluation problems), then the mean over seeds " +
          "with its 95% t-CI band; dashed line: no difference. A band that excludes 0 at a " +
          "step is a difference at that step (no correction for multiple steps). Choose the " +
          "baseline with `report --baseline NAME`.",
      ),
      ...paired,
    ]),
    section("two-phase", "Two-phase dynamics (cf. paper Fig. 3)", [
      note(
        "One row per method, one column per metric (evaluate stage, on the policy's own " +
          "samples); the rows of a column share their y range. Means over seeds with 95% " +
          "t-CI bands. Planning/execution tokens by the oracle labels; relative perplexity is " +
          "normalised by the warm-start policy. Phase 1: execution entropy and perplexity " +
          "drop; phase 2: semantic entropy rises with accuracy.",
      ),
      ...twoPhase,
    ]),
    section("final", "Final metrics by method / ablation condition", [
      note(
        "Final evaluation (final-eval stage, else the last evaluate step); bars are means over " +
          "seeds, whiskers the 95% CI (Student t); base = the warm-start policy (evaluate-base).",
      ),
      ...bars,
    ]),
    section("runs", "Runs", [note("experiments/sql/runs.sql"), ...runs]),
  ]);
}

/** Options of `writeReport`. */
export interface WriteOptions {
  /** Output file (default `<resultsDir>/report.html`). */
  out?: string;
  /** Only the runs of this experiment (see `ReportOptions.experiment`). */
  experiment?: string;
  /** Baseline method of the paired differences (see `ReportOptions.baseline`). */
  baseline?: string;
  /** Extra curve panels of any metric (`report --metric NAME [--by PARAM]`). */
  custom?: CustomPanelOptions;
}

/**
 * Writes the report of `resultsDir` to `opts.out` (default
 * `<resultsDir>/report.html`) and returns that path. Opens the results
 * database read-only (reusing this process's open instance, if any; during
 * a run, the run's live snapshot). A
 * string second argument is the output file.
 */
export async function writeReport(
  resultsDir: string,
  opts: WriteOptions | string = {},
): Promise<string> {
  const o: WriteOptions = typeof opts === "string" ? { out: opts } : opts;
  const out = o.out ?? join(resultsDir, REPORT_FILE);
  // During a run: the run's live snapshot of its committed results.
  const { store } = await ResultsStore.openForReading(resultsDir);
  try {
    const html = await renderReport(store, {
      resultsDir,
      experiment: o.experiment,
      baseline: o.baseline,
      custom: o.custom,
    });
    await Deno.writeTextFile(out, html);
  } finally {
    await store.close();
  }
  return out;
}
