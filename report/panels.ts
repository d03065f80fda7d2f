/**
 * The report's figures: turns per-step and final metric values into chart
 * series (mean over seeds with a min–max band; bars with 95% CI whiskers).
 *
 * @module
 */
import { BASE_METHOD, type FinalValue, type MetricKey, type StepValue } from "./data.ts";
import { summarize } from "./stats.ts";
import { type Bar, barChart, lineChart, type LineSeries, PALETTE } from "./svg.ts";

/** One curve of a panel: which metric, its legend name and style. */
export interface CurveSpec extends MetricKey {
  label: string;
  color?: string;
  dashed?: boolean;
}

/** Colors for planning vs execution tokens (kept fixed across panels). */
export const PLANNING_COLOR = "#e15759";
/** Color of execution-token curves. */
export const EXECUTION_COLOR = "#4e79a7";

/** Every metric key used by the two-phase panels. */
export const TWO_PHASE_PANELS: { slug: string; title: string; curves: CurveSpec[] }[] = [
  {
    slug: "token-entropy",
    title: "Token entropy (train)",
    curves: [
      { stage: "sample", name: "token_entropy/planning", label: "planning", color: PLANNING_COLOR },
      {
        stage: "sample",
        name: "token_entropy/execution",
        label: "execution",
        color: EXECUTION_COLOR,
      },
    ],
  },
  {
    slug: "rel-ppl",
    title: "Relative PPL (eval)",
    curves: [
      { stage: "evaluate", name: "rel_ppl/planning", label: "planning", color: PLANNING_COLOR },
      { stage: "evaluate", name: "rel_ppl/execution", label: "execution", color: EXECUTION_COLOR },
    ],
  },
  {
    slug: "semantic-entropy",
    title: "Semantic entropy",
    curves: [{
      stage: "cluster-entropy",
      name: "semantic_entropy",
      label: "semantic entropy",
      color: "#b07aa1",
    }],
  },
  {
    slug: "accuracy",
    title: "Reward / pass@1",
    curves: [
      { stage: "sample", name: "reward/mean", label: "train reward", color: "#59a14f" },
      { stage: "evaluate", name: "pass@1/id", label: "pass@1 id", color: "#f28e2b", dashed: true },
    ],
  },
  {
    slug: "length",
    title: "Response length",
    curves: [{ stage: "sample", name: "length/mean", label: "mean length", color: "#9c755f" }],
  },
];

/** Metrics compared across methods (one line per method). */
export const COMPARE_PANELS: { slug: string; title: string; key: MetricKey }[] = [
  {
    slug: "pass1-id",
    title: "Validation pass@1 (id)",
    key: { stage: "evaluate", name: "pass@1/id" },
  },
  {
    slug: "semantic-entropy",
    title: "Semantic entropy (train)",
    key: { stage: "cluster-entropy", name: "semantic_entropy" },
  },
  { slug: "reward", title: "Train reward", key: { stage: "sample", name: "reward/mean" } },
  {
    slug: "token-entropy",
    title: "Token entropy, all (train)",
    key: { stage: "sample", name: "token_entropy/all" },
  },
];

/** Final metrics shown as bars. */
export const BAR_PANELS: { slug: string; title: string; name: string }[] = [
  { slug: "final-pass1-id", title: "Final pass@1 (id)", name: "pass@1/id" },
  { slug: "final-pass1-ood", title: "Final pass@1 (ood)", name: "pass@1/ood" },
  {
    slug: "final-semantic-entropy",
    title: "Final semantic entropy (eval)",
    name: "semantic_entropy",
  },
];

/**
 * Mean over runs per step of one metric of one method, with the min–max
 * band over runs (omitted when every step has a single run).
 */
export function aggregateCurve(
  values: StepValue[],
  method: string,
  key: MetricKey,
): Pick<LineSeries, "points" | "band"> {
  const bySteps = new Map<number, number[]>();
  for (const v of values) {
    if (v.method !== method || v.stage !== key.stage || v.name !== key.name) continue;
    const list = bySteps.get(v.step) ?? [];
    list.push(v.value);
    bySteps.set(v.step, list);
  }
  const steps = [...bySteps.keys()].sort((a, b) => a - b);
  const stats = steps.map((s) => ({ step: s, sum: summarize(bySteps.get(s)!)! }));
  const multi = stats.some((s) => s.sum.n > 1);
  return {
    points: stats.map((s) => ({ x: s.step, y: s.sum.mean })),
    band: multi ? stats.map((s) => ({ x: s.step, lo: s.sum.min, hi: s.sum.max })) : undefined,
  };
}

/**
 * Short display names: when every method is `key=value` with the same key,
 * the values alone (and that key as `axis`); otherwise the methods as they are.
 */
export function shortNames(methods: string[]): { names: Map<string, string>; axis?: string } {
  const parts = methods.map((m) => /^([^\s=]+)=(\S+)$/.exec(m));
  const keys = new Set(parts.map((p) => p?.[1]));
  if (methods.length > 0 && parts.every((p) => p) && keys.size === 1) {
    return {
      names: new Map(methods.map((m, i) => [m, parts[i]![2]])),
      axis: [...keys][0],
    };
  }
  return { names: new Map(methods.map((m) => [m, m])) };
}

/** A stable color per method, by its position in the sorted method list. */
export function methodColors(methods: string[]): Map<string, string> {
  return new Map(methods.map((m, i) => [m, PALETTE[i % PALETTE.length]]));
}

/** The five two-phase small multiples of one method. */
export function twoPhaseCharts(values: StepValue[], method: string, display: string): string[] {
  return TWO_PHASE_PANELS.map((p) =>
    lineChart(
      p.curves.map((c) => ({
        name: c.label,
        color: c.color,
        dashed: c.dashed,
        ...aggregateCurve(values, method, c),
      })),
      {
        id: `two-phase/${display}/${p.slug}`,
        title: p.title,
        xLabel: "step",
        width: 212,
        plotHeight: 120,
      },
    )
  );
}

/** Method-comparison curves: one line (mean over seeds, min–max band) per method. */
export function compareCharts(
  values: StepValue[],
  methods: string[],
  names: Map<string, string>,
  colors: Map<string, string>,
): string[] {
  return COMPARE_PANELS.map((p) =>
    lineChart(
      methods.map((m) => ({
        name: names.get(m) ?? m,
        color: colors.get(m),
        ...aggregateCurve(values, m, p.key),
      })),
      { id: `compare/${p.slug}`, title: p.title, xLabel: "step", width: 268, plotHeight: 150 },
    )
  );
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
      const s = summarize(
        finals.filter((f) => f.method === m && f.name === p.name).map((f) => f.value),
      );
      if (!s) continue;
      bars.push({
        label: m === BASE_METHOD ? "base" : names.get(m) ?? m,
        value: s.mean,
        lo: s.n > 1 ? s.mean - s.ci : undefined,
        hi: s.n > 1 ? s.mean + s.ci : undefined,
        color: m === BASE_METHOD ? "#9aa0a6" : colors.get(m),
        note: `n=${s.n}`,
      });
    }
    return barChart(bars, { id: `final/${p.slug}`, title: p.title, width: 362, plotHeight: 170 });
  });
}
