/** Unit tests of the report's SVG chart kit and statistics helpers. */
import assert from "node:assert/strict";
import {
  barChart,
  emptyChart,
  escapeXml,
  fmtTick,
  lineChart,
  niceTicks,
} from "../../report/svg.ts";
import { summarize, t975 } from "../../report/stats.ts";
import { aggregateCurve, shortNames } from "../../report/panels.ts";

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

Deno.test("summarize: mean, min–max and t-based 95% CI; shortNames and aggregateCurve", () => {
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
  const key = { stage: "sample", name: "reward/mean" };
  const v = (runId: string, step: number, value: number) => ({
    method: "m",
    runId,
    step,
    value,
    ...key,
  });
  const curve = aggregateCurve([v("a", 0, 1), v("b", 0, 3), v("a", 1, 2)], "m", key);
  assert.deepEqual(curve.points, [{ x: 0, y: 2 }, { x: 1, y: 2 }]);
  assert.deepEqual(curve.band, [{ x: 0, lo: 1, hi: 3 }, { x: 1, lo: 2, hi: 2 }]);
});
