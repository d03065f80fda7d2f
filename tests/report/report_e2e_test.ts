/**
 * End-to-end: runs the smoke experiment in-process, writes the HTML report
 * and loads it in real headless Chromium: every plot must render with data,
 * the screenshot must not be blank and the console must stay clean.
 * Chromium is required (`apt-get install -y chromium`); without it this test fails.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { reportMain } from "../../cli/report.ts";
import { ResultsStore } from "../../pipeline/store.ts";
import { renderReport, writeReport } from "../../report/mod.ts";
import { chromium } from "./chromium.ts";
import { colorStats, decodePng } from "./png.ts";
import { smokeResults } from "../fixtures/smoke.ts";

/**
 * The plots the smoke report must have, given which optional metrics its
 * database holds: 6 comparison curves (+ strategy diversity, eval and train),
 * 3 paired differences (+ diversity), 2 methods × 4 two-phase columns (+ exec
 * accuracy, first-strategy correctness), 3 bar charts.
 */
async function expectedPlots(dir: string): Promise<number> {
  const store = await ResultsStore.open(dir, { readOnly: true });
  try {
    const r = await store.query(
      `SELECT DISTINCT stage || ' ' || name FROM metrics WHERE step IS NOT NULL`,
    );
    const has = new Set(r.rows.map((row) => String(row[0])));
    const n = (k: string) => has.has(k) ? 1 : 0;
    const divEval = n("evaluate strategy/diversity/id");
    const divTrain = n("sample strategy/diversity");
    return 6 + divEval + divTrain + 3 + Math.max(divEval, divTrain) +
      2 * (4 + n("evaluate exec/accuracy/id") + n("evaluate strategy/first_correct/id")) + 3;
  } finally {
    await store.close();
  }
}

/** Extra Chromium flags here: the page's console messages on stderr (see consoleErrors), no QUIC. */
const CONSOLE_TO_STDERR = ["--disable-quic", "--enable-logging=stderr", "--v=0"];

/** Lines of Chromium's log that report page (console / script) errors. */
function consoleErrors(stderr: string): string[] {
  return stderr.split("\n").filter((l) =>
    /Uncaught|ERROR:CONSOLE|:CONSOLE\(\d+\)\].*error/i.test(l)
  );
}

/** One `<svg data-plot>` of a DOM dump. */
interface Plot {
  name: string;
  empty: boolean;
  /** Path data per `data-series`. */
  series: Map<string, string[]>;
  /** Y-axis title, if any. */
  yTitle?: string;
  /** X tick labels. */
  xTicks: string[];
  /** Whether it has a dashed zero line. */
  zeroLine: boolean;
  legend: boolean;
}

/** Every `<svg data-plot>` of a DOM dump. */
function plots(dom: string): Plot[] {
  return [...dom.matchAll(/<svg\b([^>]*)>([\s\S]*?)<\/svg>/g)].map((m) => {
    const name = /data-plot="([^"]*)"/.exec(m[1])?.[1] ?? "";
    const series = new Map<string, string[]>();
    for (const g of m[2].matchAll(/<g data-series="([^"]*)">([\s\S]*?)<\/g>/g)) {
      series.set(g[1], [...g[2].matchAll(/<path [^>]*\bd="([^"]*)"/g)].map((p) => p[1]));
    }
    return {
      name,
      empty: /data-empty="true"/.test(m[1]),
      series,
      yTitle: /<text data-axis-title="y"[^>]*>([^<]*)/.exec(m[2])?.[1],
      xTicks: [...m[2].matchAll(/<text data-tick="x"[^>]*>([^<]*)<\/text>/g)].map((t) => t[1]),
      zeroLine: /<line data-ref="0"/.test(m[2]),
      legend: /<g data-legend="">/.test(m[2]),
    };
  });
}

Deno.test("report of the smoke run renders in headless Chromium with every plot populated", async () => {
  const dir = await smokeResults();
  const file = await writeReport(dir);
  assert.equal(file, join(dir, "report.html"));
  const html = await Deno.readTextFile(file);
  // Self-contained: no scripts, no external resources.
  assert.ok(!/<script/i.test(html), "report contains a script");
  assert.ok(!/\b(src|href)\s*=/i.test(html), "report references an external resource");
  assert.deepEqual(
    [...html.matchAll(/https?:\/\/[^\s"'<>]+/g)].map((m) => m[0]).filter((u) =>
      u !== "http://www.w3.org/2000/svg"
    ),
    [],
  );
  assert.ok(!html.includes("could not build"), "a report section failed");

  const url = new URL(`file://${file}`).href;
  const dump = await chromium([...CONSOLE_TO_STDERR, "--dump-dom"], url);
  assert.deepEqual(consoleErrors(dump.stderr), []);
  const found = plots(dump.stdout);
  assert.equal(found.length, await expectedPlots(dir), found.map((p) => p.name).join(", "));
  for (const p of found) {
    assert.ok(!p.empty, `plot ${p.name} has no data`);
    assert.ok(p.series.size >= 1, `plot ${p.name} has no series`);
    for (const [name, ds] of p.series) {
      assert.ok(ds.length >= 1 && ds.every((d) => /^M\s*[\d.-]+/.test(d)), `${p.name}/${name}`);
    }
    assert.match(p.yTitle ?? "", /\(.+\)$/, `plot ${p.name}: y-axis title with units`);
    if (!p.name.startsWith("final/")) {
      assert.ok(p.legend, `plot ${p.name} has no legend`);
      assert.ok(p.xTicks.length >= 1, `plot ${p.name} has no x ticks`);
      assert.ok(p.xTicks.every((t) => /^\d+$/.test(t)), `${p.name}: step ticks ${p.xTicks}`);
    }
    assert.equal(p.zeroLine, p.name.startsWith("paired/"), `${p.name}: zero line`);
  }
  for (
    const name of [
      "two-phase/hicra/rel-ppl",
      "two-phase/grpo/token-entropy",
      "two-phase/hicra/accuracy",
      "compare/pass1-ood",
      "paired/pass1-id",
      "paired/semantic-entropy",
      "final/final-pass1-id",
    ]
  ) assert.ok(found.some((p) => p.name === name), name);
  // The paired panels compare hicra with the default baseline, grpo.
  const paired = found.find((p) => p.name === "paired/pass1-id")!;
  assert.deepEqual([...paired.series.keys()], ["hicra"]);
  assert.equal(paired.yTitle, "Δ pass@1 (fraction)");
  assert.match(dump.stdout, /<table class="runs">/);
  assert.ok((dump.stdout.match(/<td[^>]*>done<\/td>/g) ?? []).length >= 2, "run table rows");

  const png = join(dir, "report.png");
  const shot = await chromium(
    [...CONSOLE_TO_STDERR, `--screenshot=${png}`, "--window-size=1200,3000"],
    url,
  );
  assert.deepEqual(consoleErrors(shot.stderr), []);
  const bytes = await Deno.readFile(png);
  assert.ok(bytes.length > 20_000, `screenshot only ${bytes.length} bytes`);
  const img = decodePng(bytes);
  assert.equal(img.width, 1200);
  const stats = colorStats(img);
  assert.ok(stats.distinct > 200, `only ${stats.distinct} distinct colors`);
  assert.ok(stats.nonBackground > 0.05, `only ${stats.nonBackground} non-background pixels`);
});

Deno.test("renderReport shows 'no data' panels for an empty results database", async () => {
  const dir = await Deno.makeTempDir({ prefix: "report_empty_" });
  await (await ResultsStore.open(dir)).close();
  const store = await ResultsStore.open(dir, { readOnly: true });
  try {
    const html = await renderReport(store, { title: "empty <lab>" });
    assert.ok(html.includes("<title>empty &lt;lab&gt;</title>"));
    assert.ok(html.includes(">no data</text>"));
    assert.ok(!html.includes("data-series"));
  } finally {
    await store.close();
  }
});

Deno.test("report CLI: --out writes the file; a missing database is exit code 2", async () => {
  const dir = await smokeResults();
  const out = join(await Deno.makeTempDir(), "r.html");
  assert.equal(await reportMain(["--results", dir, "--out", out]), 0);
  assert.match(await Deno.readTextFile(out), /data-plot="compare\/pass1-id"/);
  assert.equal(await reportMain(["--results", join(dir, "nowhere")]), 2);
  assert.equal(await reportMain(["--help"]), 0);
  assert.equal(await reportMain(["--bogus"]), 2);
});
