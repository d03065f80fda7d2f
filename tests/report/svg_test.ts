/** Unit tests of the report's SVG chart kit and statistics helpers. */
import assert from "node:assert/strict";
import {
  barChart,
  emptyChart,
  escapeXml,
  fmtTick,
  integerTicks,
  lineChart,
  niceTicks,
} from "../../report/svg.ts";
import { clamp, differenceBounds, meanCI, summarize, t975 } from "../../report/stats.ts";
import { FRACTION, NON_NEGATIVE, shortNames } from "../../report/panels.ts";

/** The `d` attributes of all paths inside `<g data-series>` groups, per series name. */
function seriesPaths(svg: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const m of svg.matchAll(/<g data-series="([^"]*)">([\s\S]*?)<\/g>/g)) {
    out.set(m[1], [...m[2].matchAll(/<path [^>]*\bd="([^"]*)"/g)].map((p) => p[1]));
  }
  return out;
}

Deno.test("lineChart draws one path per series through every point, with band and legend", () => {
  const svg = lineChart([
    {
      name: "grpo",
      points: [{ x: 0, y: 1 }, { x: 1, y: 2 }, { x: 2, y: 1.5 }],
      band: [{ x: 0, lo: 0.5, hi: 1.5 }, { x: 1, lo: 1.5, hi: 2.5 }, { x: 2, lo: 1, hi: 2 }],
    },
    { name: "hicra", points: [{ x: 0, y: 0.5 }, { x: 2, y: NaN }, { x: 1, y: 3 }] },
  ], { id: "demo", title: "Demo", xLabel: "step" });
  assert.match(svg, /^<svg [^>]*data-plot="demo"/);
  const paths = seriesPaths(svg);
  assert.deepEqual([...paths.keys()], ["grpo", "hicra"]);
  const grpo = paths.get("grpo")![0];
  assert.equal(grpo.split("L").length, 3, grpo);
  assert.match(grpo, /^M[\d.]+ [\d.]+ L/);
  // NaN dropped; points sorted by x.
  assert.equal(paths.get("hicra")![0].split("L").length, 2);
  assert.equal((svg.match(/data-band="grpo"/g) ?? []).length, 1);
  assert.ok(!svg.includes('data-band="hicra"'));
  assert.ok(svg.includes(">grpo</text>") && svg.includes(">hicra</text>"), "legend entries");
  assert.ok(!/NaN|undefined|Infinity/.test(svg));
  // Deterministic.
  assert.equal(
    svg,
    lineChart([
      {
        name: "grpo",
        points: [{ x: 0, y: 1 }, { x: 1, y: 2 }, { x: 2, y: 1.5 }],
        band: [{ x: 0, lo: 0.5, hi: 1.5 }, { x: 1, lo: 1.5, hi: 2.5 }, { x: 2, lo: 1, hi: 2 }],
      },
      { name: "hicra", points: [{ x: 0, y: 0.5 }, { x: 2, y: NaN }, { x: 1, y: 3 }] },
    ], { id: "demo", title: "Demo", xLabel: "step" }),
  );
});

Deno.test("chart text is escaped: <&> in titles, series names and labels", () => {
  const evil = `a<b & "c"> 'd'`;
  const line = lineChart([{ name: evil, points: [{ x: 0, y: 0 }, { x: 1, y: 1 }] }], {
    id: evil,
    title: evil,
    xLabel: evil,
    yLabel: evil,
  });
  const bars = barChart([{ label: evil, value: 1, lo: 0.5, hi: 1.5, note: evil }], {
    id: "b",
    title: evil,
  });
  for (const svg of [line, bars, emptyChart({ id: evil, title: evil })]) {
    assert.ok(!svg.includes(evil), "raw text leaked");
    assert.ok(svg.includes("a&lt;b &amp; &quot;c&quot;&gt; &#39;d&#39;"));
    assert.ok(!/<b\b/.test(svg));
  }
  assert.equal(escapeXml(`<&>"'`), "&lt;&amp;&gt;&quot;&#39;");
});

Deno.test("barChart: one series per bar, zero bars keep a non-empty path, whiskers from lo/hi", () => {
  const svg = barChart([
    { label: "grpo", value: 0.25, lo: 0.2, hi: 0.3, note: "n=3" },
    { label: "hicra", value: 0 },
  ], { id: "bars", title: "Final" });
  const paths = seriesPaths(svg);
  assert.deepEqual([...paths.keys()], ["grpo", "hicra"]);
  assert.equal(paths.get("grpo")!.length, 2, "bar + whisker");
  assert.equal(paths.get("hicra")!.length, 1);
  for (const [, ds] of paths) assert.match(ds[0], /^M[\d.]+ [\d.]+ H/);
  assert.ok(svg.includes(">n=3</text>"));
});

Deno.test("empty input renders a 'no data' panel instead of throwing", () => {
  for (
    const svg of [
      lineChart([], { id: "x", title: "X" }),
      lineChart([{ name: "s", points: [{ x: 1, y: NaN }] }], { id: "x", title: "X" }),
      barChart([], { id: "x", title: "X" }),
    ]
  ) {
    assert.match(svg, /data-plot="x" data-empty="true"/);
    assert.ok(svg.includes(">no data</text>"));
    assert.ok(!svg.includes("data-series"));
  }
});

Deno.test("niceTicks covers the range with round steps; degenerate ranges widen", () => {
  assert.deepEqual(niceTicks(0, 1, 4), [0, 0.25, 0.5, 0.75, 1]);
  assert.deepEqual(niceTicks(0.3, 9.2, 4), [0, 2.5, 5, 7.5, 10]);
  assert.deepEqual(niceTicks(0, 0, 4), [0, 0.25, 0.5, 0.75, 1]);
  const t = niceTicks(4.5875, 4.5933, 4);
  assert.ok(t[0] <= 4.5875 && t[t.length - 1] >= 4.5933 && t.length <= 7, String(t));
  assert.equal(fmtTick(0.30000000000000004), "0.3");
  assert.equal(fmtTick(12345), "12350");
});

Deno.test("summarize: mean, min–max and t-based 95% CI; shortNames", () => {
  assert.equal(t975(1), 12.706);
  assert.equal(t975(45), 1.96);
  const s = summarize([1, 2, 3, NaN])!;
  assert.equal(s.n, 3);
  assert.equal(s.mean, 2);
  assert.ok(Math.abs(s.ci - 4.303 / Math.sqrt(3)) < 1e-9);
  assert.equal(summarize([5])!.ci, 0);
  assert.equal(summarize([]), null);
  const short = shortNames(["assign-credit.estimator=grpo", "assign-credit.estimator=hicra"]);
  assert.equal(short.axis, "assign-credit.estimator");
  assert.equal(short.names.get("assign-credit.estimator=hicra"), "hicra");
  assert.equal(shortNames(["a=1 b=2"]).names.get("a=1 b=2"), "a=1 b=2");
  // Parts shared by every method (a --set of all runs) are dropped first.
  const set = shortNames(["e=grpo loop.steps=5", "e=hicra loop.steps=5"]);
  assert.equal(set.axis, "e");
  assert.equal(set.common, "loop.steps=5");
  assert.deepEqual([...set.names.values()], ["grpo", "hicra"]);
  const mixed = shortNames(["a=1 b=2", "a=1 c=3"]);
  assert.deepEqual([...mixed.names.values()], ["b=2", "c=3"]);
  assert.equal(mixed.axis, undefined);
});

Deno.test("meanCI: 95% t-CI of the mean, clamped to the metric's valid range", () => {
  const free = meanCI([0.9, 1, 1])!;
  assert.ok(Math.abs(free.mean - 29 / 30) < 1e-12);
  // sd = 0.057735, t(2) = 4.303: half-width 0.143 would reach 1.11.
  assert.ok(free.hi > 1.1, String(free.hi));
  const p = meanCI([0.9, 1, 1], FRACTION)!;
  assert.equal(p.hi, 1);
  assert.ok(Math.abs(p.lo - (29 / 30 - 4.303 * Math.sqrt(1 / 300) / Math.sqrt(3))) < 1e-9);
  const low = meanCI([0, 0, 0.1], FRACTION)!;
  assert.equal(low.lo, 0);
  assert.ok(low.hi < 1 && low.hi > 0.1);
  const ent = meanCI([0.01, 0.3], NON_NEGATIVE)!;
  assert.equal(ent.lo, 0);
  assert.deepEqual(meanCI([0.4], FRACTION), { n: 1, mean: 0.4, lo: 0.4, hi: 0.4 });
  assert.equal(meanCI([NaN]), null);
  assert.equal(clamp(-0.2, FRACTION), 0);
  assert.deepEqual(differenceBounds(FRACTION), [-1, 1]);
  assert.deepEqual(differenceBounds(NON_NEGATIVE), [-Infinity, Infinity]);
});

Deno.test("integerTicks: integer steps only (1, 2, 5 × 10^k), covering the range", () => {
  assert.deepEqual(integerTicks(0, 3, 6), [0, 1, 2, 3]);
  assert.deepEqual(integerTicks(0, 14, 6), [0, 5, 10]);
  assert.deepEqual(integerTicks(1, 19, 6), [5, 10, 15]);
  assert.deepEqual(integerTicks(0, 99, 6), [0, 20, 40, 60, 80]);
  assert.deepEqual(integerTicks(2.5, 3.5, 6), [3]);
  assert.deepEqual(integerTicks(0.2, 0.4, 6), [0]);
  for (const [lo, hi] of [[0, 7], [3, 250], [0, 1], [10, 11], [0, 1999]]) {
    const t = integerTicks(lo, hi, 6);
    assert.ok(t.length >= 1 && t.every(Number.isInteger), `${lo}..${hi}: ${t}`);
    assert.ok(t.every((v) => v >= lo && v <= hi), `${lo}..${hi}: ${t}`);
  }
});

/** Text of the tick labels of one axis of a chart. */
function ticks(svg: string, axis: "x" | "y"): string[] {
  return [...svg.matchAll(new RegExp(`<text data-tick="${axis}"[^>]*>([^<]*)</text>`, "g"))]
    .map((m) => m[1]);
}

Deno.test("lineChart: integer x ticks, axis titles, a reference line and a legend", () => {
  const points = [0, 1, 2, 3].map((x) => ({ x, y: x / 10 }));
  const plain = lineChart([{ name: "m", points }], { id: "p", title: "P" });
  assert.ok(ticks(plain, "x").some((t) => !Number.isInteger(Number(t))), "fractional by default");
  const svg = lineChart([{ name: "grpo", points }, { name: "hicra", points }], {
    id: "s",
    title: "S",
    xLabel: "step",
    yLabel: "pass@1 (fraction)",
    integerX: true,
    refY: 0,
  });
  assert.deepEqual(ticks(svg, "x"), ["0", "1", "2", "3"]);
  assert.match(svg, /<text data-axis-title="y"[^>]*rotate\(-90\)[^>]*>pass@1 \(fraction\)<\/text>/);
  assert.match(svg, /<text data-axis-title="x"[^>]*>step<\/text>/);
  assert.match(svg, /<line data-ref="0" /);
  const legend = /<g data-legend="">([\s\S]*?)<\/g>/.exec(svg)![1];
  assert.ok(legend.includes(">grpo</text>") && legend.includes(">hicra</text>"));
  // A single step still gets one integer tick.
  const one = lineChart([{ name: "m", points: [{ x: 4, y: 1 }] }], {
    id: "o",
    title: "O",
    integerX: true,
  });
  assert.deepEqual(ticks(one, "x"), ["4"]);
  // Long titles are cut to fit, with the whole text as a tooltip.
  const long = "a very long y-axis title that cannot fit the height of this small chart";
  const small = lineChart([{ name: "m", points }], { id: "t", title: "T", yLabel: long });
  assert.ok(small.includes(`<title>${long}</title>`));
});

Deno.test("lineChart: charts given the same yRange get the same y ticks", () => {
  const a = lineChart([{ name: "a", points: [{ x: 0, y: 0.2 }, { x: 1, y: 0.3 }] }], {
    id: "a",
    title: "A",
    yRange: [0.1, 0.9],
  });
  const b = lineChart([{ name: "b", points: [{ x: 0, y: 0.7 }, { x: 1, y: 0.8 }] }], {
    id: "b",
    title: "B",
    yRange: [0.1, 0.9],
  });
  assert.deepEqual(ticks(a, "y"), ticks(b, "y"));
  assert.notDeepEqual(
    ticks(
      lineChart([{ name: "a", points: [{ x: 0, y: 0.2 }, { x: 1, y: 0.3 }] }], {
        id: "a",
        title: "A",
      }),
      "y",
    ),
    ticks(a, "y"),
  );
});
