/**
 * `report --metric NAME [--by PARAM]` (issue 15): the values behind a custom
 * panel come from real toy runs (a sweep × two seeds in DuckDB), grouped as
 * asked; bad names are user errors; and the panels render in real headless
 * Chromium with data, legends, axes and a non-blank screenshot.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { reportMain } from "../../cli/report.ts";
import { UserError } from "../../pipeline/errors.ts";
import { ResultsStore } from "../../pipeline/store.ts";
import { loadCustomData } from "../../report/custom_panel.ts";
import { chromium } from "./chromium.ts";
import { colorStats, decodePng } from "./png.ts";
import { toyResults } from "../pipeline/helpers.ts";

/** Toy runs: acc.delta ∈ {2, 3} × seeds {3, 4}, init seeded (value 10 + seed % 7). */
/** The toy sweep whose results the panels draw: two deltas × two seeds, seeded init. */
const SWEEP = ["acc.delta=2,3", "seed=3,4", "init.mode=seeded"];

Deno.test("custom panel data: every stage recording the metric, runs grouped --by a swept param", async () => {
  const dir = await toyResults(SWEEP);
  const store = await ResultsStore.open(dir, { readOnly: true });
  try {
    const data = await loadCustomData(store, { metrics: ["value"], by: "acc.delta" });
    assert.deepEqual(data.map((d) => d.stage), ["acc", "final", "init", "probe"]);
    const acc = data[0];
    assert.deepEqual(acc.groups, ["2", "3"]);
    // acc@5 = 10 + seed % 7 + 6·delta, for seeds 3 and 4.
    const last = (g: string) =>
      acc.rows.filter((r) => r.group === g && r.step === 5).map((r) => r.value).sort();
    assert.deepEqual(last("2"), [25, 26]);
    assert.deepEqual(last("3"), [31, 32]);
    // init has no loop step (a bar chart); by seed groups the runs by seed instead.
    assert.ok(data[2].rows.every((r) => r.step === null));
    const bySeed = await loadCustomData(store, { metrics: ["value"], by: "seed" });
    assert.deepEqual(bySeed[0].groups, ["3", "4"]);
    // Default grouping: the method (label without seed=N).
    const byMethod = await loadCustomData(store, { metrics: ["value"] });
    assert.deepEqual(byMethod[0].groups, [
      "acc.delta=2 init.mode=seeded",
      "acc.delta=3 init.mode=seeded",
    ]);
    await assert.rejects(
      () => loadCustomData(store, { metrics: ["valeu"] }),
      (e) =>
        e instanceof UserError &&
        /--metric valeu: no such metric.*did you mean "value"/.test(e.message),
    );
    await assert.rejects(
      () => loadCustomData(store, { metrics: ["value"], by: "acc.dleta" }),
      (e) => e instanceof UserError && /--by acc\.dleta: .*acc\.delta/.test(e.message),
    );
  } finally {
    await store.close();
  }
});

Deno.test("report --metric --by renders the custom panels in headless Chromium", async () => {
  const dir = await toyResults(SWEEP);
  const file = join(dir, "custom.html");
  const args = ["--results", dir, "--out", file, "--metric", "value", "--by", "acc.delta"];
  assert.equal(await reportMain(args), 0);
  assert.equal(await reportMain(["--results", dir, "--out", file, "--metric", "nope"]), 2);
  assert.equal(await reportMain(args), 0);
  const html = await Deno.readTextFile(file);
  assert.ok(!/<script/i.test(html) && !/\b(src|href)\s*=/i.test(html), "self-contained");
  const url = new URL(`file://${file}`).href;
  const dom = (await chromium(["--dump-dom"], url)).stdout;
  const svgs = [...dom.matchAll(/<svg\b([^>]*)>([\s\S]*?)<\/svg>/g)]
    .map((m) => ({ name: /data-plot="([^"]*)"/.exec(m[1])?.[1] ?? "", attrs: m[1], body: m[2] }))
    .filter((p) => p.name.startsWith("custom/"));
  assert.deepEqual(svgs.map((p) => p.name), [
    "custom/acc/value",
    "custom/final/value",
    "custom/init/value",
    "custom/probe/value",
  ]);
  for (const p of svgs) {
    assert.ok(!/data-empty="true"/.test(p.attrs), `${p.name} is empty`);
    assert.match(p.body, /<text data-axis-title="y"[^>]*>value</, `${p.name}: y-axis title`);
  }
  for (const name of ["custom/acc/value", "custom/probe/value"]) {
    const body = svgs.find((p) => p.name === name)!.body;
    const series = [...body.matchAll(/<g data-series="([^"]*)">([\s\S]*?)<\/g>/g)];
    assert.deepEqual(series.map((s) => s[1]), ["2", "3"], name);
    for (const s of series) assert.match(s[2], /<path [^>]*\bd="M\s*[\d.-]+/, `${name}/${s[1]}`);
    assert.match(body, /<g data-legend="">/, `${name}: legend`);
    const ticks = [...body.matchAll(/<text data-tick="x"[^>]*>([^<]*)<\/text>/g)].map((t) => t[1]);
    assert.ok(
      ticks.length >= 2 && ticks.every((t) => /^\d+$/.test(t)),
      `${name}: x ticks ${ticks}`,
    );
  }
  // The panels sit at the top of the page: a screenshot of it is not blank.
  const png = join(dir, "custom.png");
  await chromium([`--screenshot=${png}`, "--window-size=1200,900"], url);
  const img = decodePng(await Deno.readFile(png));
  assert.equal(img.width, 1200);
  const stats = colorStats(img);
  assert.ok(stats.distinct > 50, `only ${stats.distinct} distinct colors`);
  assert.ok(stats.nonBackground > 0.03, `only ${stats.nonBackground} non-background pixels`);
});
