/**
 * The report's figures: turns per-step and final metric values into chart
 * series — per method the mean over seeds with its 95% t-CI band (clamped to
 * the metric's valid range), paired differences from the baseline method,
 * the Fig. 3-style two-phase grid (rows share y ranges per column), and bars
 * with 95% CI whiskers.
 *
 * @module
 */
import { BASE_METHOD, type FinalValue, type MetricKey, stepKey, type StepValue } from "./data.ts";
import { pairedDifferences, seedValues } from "./paired.ts";
import { type Bounds, differenceBounds, meanCI, UNBOUNDED } from "./stats.ts";
import {
  type BandPoint,
  type Bar,
  barChart,
  type ChartOptions,
  emptyChart,
  lineChart,
  type LineSeries,
  PALETTE,
} from "./svg.ts";

/** Valid range of a probability, accuracy or fraction. */
export const FRACTION: Bounds = [0, 1];
/** Valid range of an entropy, perplexity or length. */
export const NON_NEGATIVE: Bounds = [0, Infinity];

/** A plotted metric: where it is stored, its panel title, its y-axis title (with units) and range. */
export interface MetricSpec extends MetricKey {
  /** Stable part of the `data-plot` id. */
  slug: string;
  title: string;
  /** Y-axis title with units, e.g. "pass@1 (fraction)". */
  unit: string;
  /** Valid range; CI bands are clamped to it. */
  bounds: Bounds;
}

/** The metrics of the report. */
export const METRICS = {
  pass1Id: {
    stage: "evaluate",
    name: "pass@1/id",
    slug: "pass1-id",
    title: "pass@1, id (eval)",
    unit: "pass@1 (fraction)",
    bounds: FRACTION,
  },
  pass1Ood: {
    stage: "evaluate",
    name: "pass@1/ood",
    slug: "pass1-ood",
    title: "pass@1, ood (eval)",
    unit: "pass@1 (fraction)",
    bounds: FRACTION,
  },
  semanticEntropy: {
    stage: "evaluate",
    name: "semantic_entropy",
    slug: "semantic-entropy",
    title: "Semantic entropy (eval)",
    unit: "semantic entropy (nats)",
    bounds: NON_NEGATIVE,
  },
  semanticEntropyTrain: {
    stage: "cluster-entropy",
    name: "semantic_entropy",
    slug: "semantic-entropy-train",
    title: "Semantic entropy (train)",
    unit: "semantic entropy (nats)",
    bounds: NON_NEGATIVE,
  },
  diversity: {
    stage: "evaluate",
    name: "strategy/diversity/id",
    slug: "strategy-diversity",
    title: "Strategy diversity, id (eval)",
    unit: "strategy entropy (nats)",
    bounds: NON_NEGATIVE,
  },
  diversityTrain: {
    stage: "sample",
    name: "strategy/diversity",
    slug: "strategy-diversity-train",
    title: "Strategy diversity (train)",
    unit: "strategy entropy (nats)",
    bounds: NON_NEGATIVE,
  },
  reward: {
    stage: "sample",
    name: "reward/mean",
    slug: "reward",
    title: "Train reward",
    unit: "mean reward (fraction)",
    bounds: FRACTION,
  },
  tokenEntropy: {
    stage: "sample",
    name: "token_entropy/all",
    slug: "token-entropy",
    title: "Token entropy, all (train)",
    unit: "token entropy (nats)",
    bounds: NON_NEGATIVE,
  },
} as const satisfies Record<string, MetricSpec>;

/** A panel that is drawn only when the database has the metric (e.g. one being added). */
export interface OptionalPanel {
  /** Candidates in order of preference; the first one with data is drawn. */
  metrics: MetricSpec[];
  optional?: boolean;
}

/** Method-comparison curves (one line per method, 95% CI band). */
export const COMPARE_PANELS: OptionalPanel[] = [
  { metrics: [METRICS.pass1Id] },
  { metrics: [METRICS.pass1Ood] },
  { metrics: [METRICS.semanticEntropy] },
  { metrics: [METRICS.semanticEntropyTrain] },
  { metrics: [METRICS.reward] },
  { metrics: [METRICS.tokenEntropy] },
  { metrics: [METRICS.diversity], optional: true },
  { metrics: [METRICS.diversityTrain], optional: true },
];

/** Main metrics of the paired-difference panels (diversity: eval, else train, when present). */
export const PAIRED_PANELS: OptionalPanel[] = [
  { metrics: [METRICS.pass1Id] },
  { metrics: [METRICS.pass1Ood] },
  { metrics: [METRICS.semanticEntropy] },
  { metrics: [METRICS.diversity, METRICS.diversityTrain], optional: true },
];

/**
 * The metric each panel draws, given the (stage, name) keys with data
 * (`loadStepKeys`): the first candidate present, else the first candidate
 * (drawn as "no data"); optional panels without data are left out.
 */
export function resolvePanels(panels: OptionalPanel[], present: Set<string>): MetricSpec[] {
  const out: MetricSpec[] = [];
  for (const p of panels) {
    const hit = p.metrics.find((m) => present.has(stepKey(m)));
    if (hit) out.push(hit);
    else if (!p.optional) out.push(p.metrics[0]);
  }
  return out;
}

/** One curve of a two-phase column: which metric, its legend name and style. */
export interface CurveSpec extends MetricKey {
  label: string;
  color?: string;
  dashed?: boolean;
}

/** One column of the two-phase figure (paper Fig. 3): curves sharing a y axis. */
export interface ColumnSpec {
  slug: string;
  title: string;
  unit: string;
  bounds: Bounds;
  curves: CurveSpec[];
  /** Drawn only when one of its metrics has data. */
  optional?: boolean;
}

/** Colors for planning vs execution tokens (kept fixed across panels). */
export const PLANNING_COLOR = "#e15759";
/** Color of execution-token curves. */
export const EXECUTION_COLOR = "#4e79a7";

/**
 * The columns of the two-phase figure, as in the paper's Fig. 3: relative
 * perplexity and token entropy of planning vs execution tokens, semantic
 * entropy and accuracy; plus execution accuracy and first-strategy
 * correctness where recorded. All from the `evaluate` stage.
 */
export const TWO_PHASE_COLUMNS: ColumnSpec[] = [
  {
    slug: "rel-ppl",
    title: "Relative perplexity",
    unit: "relative perplexity (× initial)",
    bounds: NON_NEGATIVE,
    curves: [
      { stage: "evaluate", name: "rel_ppl/planning", label: "planning", color: PLANNING_COLOR },
      { stage: "evaluate", name: "rel_ppl/execution", label: "execution", color: EXECUTION_COLOR },
    ],
  },
  {
    slug: "token-entropy",
    title: "Token entropy",
    unit: "token entropy (nats)",
    bounds: NON_NEGATIVE,
    curves: [
      {
        stage: "evaluate",
        name: "token_entropy/planning",
        label: "planning",
        color: PLANNING_COLOR,
      },
      {
        stage: "evaluate",
        name: "token_entropy/execution",
        label: "execution",
        color: EXECUTION_COLOR,
      },
    ],
  },
  {
    slug: "semantic-entropy",
    title: "Semantic entropy",
    unit: "semantic entropy (nats)",
    bounds: NON_NEGATIVE,
    curves: [{
      stage: "evaluate",
      name: "semantic_entropy",
      label: "semantic entropy",
      color: "#b07aa1",
    }],
  },
  {
    slug: "accuracy",
    title: "Accuracy (pass@1 id)",
    unit: "pass@1 (fraction)",
    bounds: FRACTION,
    curves: [{ stage: "evaluate", name: "pass@1/id", label: "pass@1 id", color: "#f28e2b" }],
  },
  {
    slug: "exec-accuracy",
    title: "Execution accuracy (id)",
    unit: "exec. accuracy (fraction)",
    bounds: FRACTION,
    optional: true,
    curves: [{
      stage: "evaluate",
      name: "exec/accuracy/id",
      label: "exec. accuracy",
      color: "#59a14f",
    }],
  },
  {
    slug: "first-correct",
    title: "First strategy correct",
    unit: "first strategy correct (fraction)",
    bounds: FRACTION,
    optional: true,
    curves: [{
      stage: "evaluate",
      name: "strategy/first_correct/id",
      label: "1st strategy correct",
      color: "#9c755f",
    }],
  },
];

/** The two-phase columns to draw: optional ones only when they have data. */
export function resolveColumns(columns: ColumnSpec[], present: Set<string>): ColumnSpec[] {
  return columns.filter((c) => !c.optional || c.curves.some((k) => present.has(stepKey(k))));
}

/** Every metric key the step-value panels read. */
export function stepMetricKeys(): MetricKey[] {
  const keys = [
    ...TWO_PHASE_COLUMNS.flatMap((c) => c.curves),
    ...COMPARE_PANELS.flatMap((p) => p.metrics),
    ...PAIRED_PANELS.flatMap((p) => p.metrics),
  ];
  const seen = new Map(keys.map((k) => [stepKey(k), { stage: k.stage, name: k.name }]));
  return [...seen.values()];
}

/** Final metrics shown as bars. */
export const BAR_PANELS: {
  slug: string;
  title: string;
  name: string;
  unit: string;
  bounds: Bounds;
}[] = [
  {
    slug: "final-pass1-id",
    title: "Final pass@1 (id)",
    name: "pass@1/id",
    unit: "pass@1 (fraction)",
    bounds: FRACTION,
  },
  {
    slug: "final-pass1-ood",
    title: "Final pass@1 (ood)",
    name: "pass@1/ood",
    unit: "pass@1 (fraction)",
    bounds: FRACTION,
  },
  {
    slug: "final-semantic-entropy",
    title: "Final semantic entropy (eval)",
    name: "semantic_entropy",
    unit: "semantic entropy (nats)",
    bounds: NON_NEGATIVE,
  },
];

/**
 * Per step, the mean over seeds of one metric of one method, with its 95%
 * t-CI band clamped to `bounds` (runs of one method sharing a seed are
 * averaged first). The band is omitted when every step has a single seed.
 */
export function aggregateCurve(
  values: StepValue[],
  method: string,
  key: MetricKey,
  bounds: Bounds = UNBOUNDED,
): Pick<LineSeries, "points" | "band"> {
  const bySteps = seedValues(values, method, key);
  const steps = [...bySteps.keys()].sort((a, b) => a - b);
  const stats = steps.map((s) => ({ step: s, ci: meanCI([...bySteps.get(s)!.values()], bounds)! }));
  const multi = stats.some((s) => s.ci.n > 1);
  return {
    points: stats.map((s) => ({ x: s.step, y: s.ci.mean })),
    band: multi ? stats.map((s) => ({ x: s.step, lo: s.ci.lo, hi: s.ci.hi })) : undefined,
  };
}

/**
 * Short display names. Space-separated `key=value` parts that every method
 * has (e.g. a `--set loop.steps=5` of all runs) are dropped and returned as
 * `common`; then, when every method is a single `key=value` with the same
 * key, the values alone (and that key as `axis`). Falls back to the methods
 * as they are when that would make two names equal or one empty.
 */
export function shortNames(
  methods: string[],
): { names: Map<string, string>; axis?: string; common?: string } {
  const tokens = methods.map((m) => m.split(/\s+/).filter((t) => t !== ""));
  const shared = methods.length > 1
    ? tokens[0].filter((t) => /=/.test(t) && tokens.every((ts) => ts.includes(t)))
    : [];
  let rest = tokens.map((ts) => ts.filter((t) => !shared.includes(t)).join(" "));
  if (rest.some((r) => r === "") || new Set(rest).size !== methods.length) {
    rest = methods;
  }
  const common = rest === methods || shared.length === 0 ? undefined : shared.join(" ");
  const parts = rest.map((m) => /^([^\s=]+)=(\S+)$/.exec(m));
  const keys = new Set(parts.map((p) => p?.[1]));
  if (methods.length > 0 && parts.every((p) => p) && keys.size === 1) {
    const values = parts.map((p) => p![2]);
    if (new Set(values).size === methods.length) {
      return {
        names: new Map(methods.map((m, i) => [m, values[i]])),
        axis: [...keys][0],
        common,
      };
    }
  }
  return { names: new Map(methods.map((m, i) => [m, rest[i]])), common };
}

/** A stable color per method, by its position in the sorted method list. */
export function methodColors(methods: string[]): Map<string, string> {
  return new Map(methods.map((m, i) => [m, PALETTE[i % PALETTE.length]]));
}

/** Options of the step-curve charts (x: loop step, integer ticks). */
function stepChart(opts: ChartOptions): ChartOptions {
  return { xLabel: "step", integerX: true, ...opts };
}

/** The smallest range holding every point and band value of `curves` (null when empty). */
export function curvesRange(
  curves: Pick<LineSeries, "points" | "band">[],
): [number, number] | null {
  const ys = curves.flatMap((c) => [
    ...c.points.map((p) => p.y),
    ...(c.band ?? []).flatMap((b: BandPoint) => [b.lo, b.hi]),
  ]).filter(Number.isFinite);
  return ys.length ? [Math.min(...ys), Math.max(...ys)] : null;
}

/** One row of the two-phase figure: a method and its charts, one per column. */
export interface TwoPhaseRow {
  method: string;
  charts: string[];
}

/**
 * The two-phase figure (paper Fig. 3): one row per method, one column per
 * `columns` entry; every row of a column gets the same y range (the union
 * over methods of means and CI bands), so rows compare at a glance.
 */
export function twoPhaseFigure(
  values: StepValue[],
  methods: string[],
  names: Map<string, string>,
  columns: ColumnSpec[],
  width = 194,
): TwoPhaseRow[] {
  const curves = columns.map((col) =>
    methods.map((m) =>
      col.curves.map((c) => ({
        name: c.label,
        color: c.color,
        dashed: c.dashed,
        ...aggregateCurve(values, m, c, col.bounds),
      }))
    )
  );
  const ranges = curves.map((perMethod) => curvesRange(perMethod.flat()));
  return methods.map((m, mi) => ({
    method: m,
    charts: columns.map((col, ci) =>
      lineChart(
        curves[ci][mi],
        stepChart({
          id: `two-phase/${names.get(m) ?? m}/${col.slug}`,
          title: col.title,
          yLabel: col.unit,
          yRange: ranges[ci] ?? undefined,
          width,
          plotHeight: 140,
        }),
      )
    ),
  }));
}

/** Method-comparison curves: one line per method (mean over seeds, 95% CI band). */
export function compareCharts(
  values: StepValue[],
  methods: string[],
  names: Map<string, string>,
  colors: Map<string, string>,
  panels: MetricSpec[],
): string[] {
  return panels.map((p) =>
    lineChart(
      methods.map((m) => ({
        name: names.get(m) ?? m,
        color: colors.get(m),
        ...aggregateCurve(values, m, p, p.bounds),
      })),
      stepChart({
        id: `compare/${p.slug}`,
        title: p.title,
        yLabel: p.unit,
        width: 300,
        plotHeight: 150,
      }),
    )
  );
}

/**
 * Paired-difference panels: per metric, one line per non-baseline method —
 * the mean over seeds of (method − baseline) at each step, paired by seed,
 * with its 95% t-CI band — and a dashed zero line.
 */
export function pairedCharts(
  values: StepValue[],
  methods: string[],
  baseline: string,
  names: Map<string, string>,
  colors: Map<string, string>,
  panels: MetricSpec[],
): string[] {
  const others = methods.filter((m) => m !== baseline);
  const base = names.get(baseline) ?? baseline;
  return panels.map((p) => {
    const opts = stepChart({
      id: `paired/${p.slug}`,
      title: `${p.title}: Δ vs ${base}`,
      yLabel: `Δ ${p.unit}`,
      refY: 0,
      width: 300,
      plotHeight: 150,
    });
    if (others.length === 0) return emptyChart(opts, "no method besides the baseline");
    const series: LineSeries[] = others.map((m) => {
      const d = pairedDifferences(values, m, baseline, p, differenceBounds(p.bounds));
      return {
        name: names.get(m) ?? m,
        color: colors.get(m),
        points: d.map((s) => ({ x: s.step, y: s.mean })),
        band: d.some((s) => s.n > 1)
          ? d.map((s) => ({ x: s.step, lo: s.lo, hi: s.hi }))
          : undefined,
      };
    });
    // All differences zero: a range around 0 (a tenth of the metric's range, else ±0.1).
    const range = curvesRange(series);
    if (range && range[0] === 0 && range[1] === 0) {
      const w = Number.isFinite(p.bounds[1] - p.bounds[0]) ? p.bounds[1] - p.bounds[0] : 1;
      opts.yRange = [-0.1 * w, 0.1 * w];
    }
    return lineChart(series, opts);
  });
}

/** Bars of final metrics per method (and the warm-start base) with 95% CI whiskers. */
export function finalBarCharts(
  finals: FinalValue[],
  methods: string[],
  names: Map<string, string>,
  colors: Map<string, string>,
): string[] {
  const order = [...methods, BASE_METHOD];
  return BAR_PANELS.map((p) => {
    const bars: Bar[] = [];
    for (const m of order) {
      const s = meanCI(
        finals.filter((f) => f.method === m && f.name === p.name).map((f) => f.value),
        p.bounds,
      );
      if (!s) continue;
      bars.push({
        label: m === BASE_METHOD ? "base" : names.get(m) ?? m,
        value: s.mean,
        lo: s.n > 1 ? s.lo : undefined,
        hi: s.n > 1 ? s.hi : undefined,
        color: m === BASE_METHOD ? "#9aa0a6" : colors.get(m),
        note: `n=${s.n}`,
      });
    }
    return barChart(bars, {
      id: `final/${p.slug}`,
      title: p.title,
      yLabel: p.unit,
      width: 362,
      plotHeight: 170,
    });
  });
}
