/**
 * The HTML report of a results directory: two-phase dynamics (paper Fig. 3),
 * method comparison curves (Fig. 6–7), final-metric bars with 95% CIs and
 * the run table, in one self-contained file (inline SVG and CSS, no scripts).
 *
 * @module
 */
import { join } from "node:path";
import { ResultsStore } from "../pipeline/store.ts";
import {
  loadFinalValues,
  loadMethods,
  loadStepValues,
  type MetricKey,
  runSqlFile,
} from "./data.ts";
import { grid, note, page, resultTable, section } from "./html.ts";
import {
  BAR_PANELS,
  COMPARE_PANELS,
  compareCharts,
  finalBarCharts,
  methodColors,
  shortNames,
  TWO_PHASE_PANELS,
  twoPhaseCharts,
} from "./panels.ts";
import { escapeXml } from "./svg.ts";

/** Options of `renderReport`. */
export interface ReportOptions {
  /** Page title (default: "HICRA lab report — <experiments>"). */
  title?: string;
  /** Results directory shown in the header. */
  resultsDir?: string;
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

/** Renders the report of the runs in `store` as one HTML document. */
export async function renderReport(
  store: ResultsStore,
  opts: ReportOptions = {},
): Promise<string> {
  const methods = await loadMethods(store);
  const experiments = (await store.query("SELECT DISTINCT experiment FROM runs ORDER BY 1"))
    .rows.map((r) => String(r[0]));
  const { names, axis } = shortNames(methods);
  const colors = methodColors(methods);
  const keys: MetricKey[] = [
    ...TWO_PHASE_PANELS.flatMap((p) => p.curves),
    ...COMPARE_PANELS.map((p) => p.key),
  ];
  const title = opts.title ?? `HICRA lab report — ${experiments.join(", ") || "no runs"}`;
  const counts = (await store.query(
    `SELECT count(*)::INTEGER, count(DISTINCT seed)::INTEGER,
       count(*) FILTER (WHERE status = 'done')::INTEGER FROM runs`,
  )).rows[0];
  const header = [
    `<h1>${escapeXml(title)}</h1>`,
    note(
      `${counts[0]} run(s) (${counts[2]} done), ${methods.length} method(s), ${counts[1]} seed(s)` +
        (opts.resultsDir ? ` — results: ${opts.resultsDir}` : "") +
        (axis ? ` — methods differ in ${axis}` : ""),
      "meta",
    ),
  ];

  const twoPhase = await guarded("the two-phase panels", async () => {
    const values = await loadStepValues(store, keys);
    if (methods.length === 0) return [note("no runs in this results database")];
    return methods.flatMap((m) => [
      `<h3>${escapeXml(m)}</h3>`,
      grid(twoPhaseCharts(values, m, names.get(m) ?? m)),
    ]);
  });
  const compare = await guarded("the method comparison", async () => {
    const values = await loadStepValues(store, COMPARE_PANELS.map((p) => p.key));
    return [grid(compareCharts(values, methods, names, colors))];
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

  return page(title, [
    ...header,
    section("two-phase", "Two-phase dynamics (cf. paper Fig. 3)", [
      note(
        "Per method, means over seeds (shaded: min–max over seeds). Token entropy uses oracle " +
          "planning/execution labels on training rollouts; relative perplexity is normalised by " +
          "the warm-start policy and only recorded on evaluate steps. Phase 1: execution entropy " +
          "and perplexity drop; phase 2: semantic entropy rises with accuracy and length.",
      ),
      ...twoPhase,
    ]),
    section("compare", "Method comparison over training (cf. paper Fig. 6–7)", [
      note("One line per method: mean over seeds; shaded band: min–max over seeds."),
      ...compare,
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

/**
 * Writes the report of `resultsDir` to `outFile` (default
 * `<resultsDir>/report.html`) and returns that path. Opens the results
 * database read-only (reusing this process's open instance, if any).
 */
export async function writeReport(resultsDir: string, outFile?: string): Promise<string> {
  const out = outFile ?? join(resultsDir, REPORT_FILE);
  const store = await ResultsStore.open(resultsDir, { readOnly: true });
  try {
    const html = await renderReport(store, { resultsDir });
    await Deno.writeTextFile(out, html);
  } finally {
    await store.close();
  }
  return out;
}
