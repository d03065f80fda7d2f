/**
 * The report on a hand-made results database: `--experiment` scoping (every
 * section, the SQL files included), `--baseline`, and the `comparisons` table
 * shown at the top when the database has one and skipped when it does not.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { reportMain } from "../../cli/report.ts";
import { UserError } from "../../pipeline/errors.ts";
import { ResultsStore } from "../../pipeline/store.ts";
import { renderReport } from "../../report/mod.ts";

/** Runs of experiment exA (grpo, hicra × seeds 0, 1) and exB (placebo, seed 0), 2 steps each. */
async function handResults(comparisons: boolean): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "report_db_" });
  const store = await ResultsStore.open(dir);
  try {
    const runs: [string, string, string, number][] = [
      ["g0", "exA", "e=grpo seed=0", 0],
      ["g1", "exA", "e=grpo seed=1", 1],
      ["h0", "exA", "e=hicra seed=0", 0],
      ["h1", "exA", "e=hicra seed=1", 1],
      ["p0", "exB", "e=placebo seed=0", 0],
    ];
    await store.query(
      `INSERT INTO runs (run_id, experiment, label, params, seed, status) VALUES ${
        runs.map(([id, ex, label, seed]) => `('${id}', '${ex}', '${label}', '{}', ${seed}, 'done')`)
          .join(", ")
      }`,
    );
    const pass1: Record<string, number[]> = {
      g0: [0.1, 0.2],
      g1: [0.2, 0.3],
      h0: [0.3, 0.5],
      h1: [0.3, 0.6],
      p0: [0.9, 0.9],
    };
    const rows = Object.entries(pass1).flatMap(([id, ys]) =>
      ys.flatMap((y, step) => [
        `('${id}', ${step}, 'evaluate', 'pass@1/id', ${y})`,
        `('${id}', ${step}, 'evaluate', 'pass@1/ood', ${y / 2})`,
        `('${id}', ${step}, 'evaluate', 'semantic_entropy', ${1 + y})`,
      ])
    );
    await store.query(`INSERT INTO metrics VALUES ${rows.join(", ")}`);
    if (comparisons) {
      await store.query(
        `CREATE TABLE comparisons AS SELECT * FROM (VALUES
          ('exA', 'pass@1/id', 'hicra', 'grpo', 2, 0.55, 0.25, 0.3, 0.1, 0.5, 0.04, 0.03,
           0.2, 0.4, 0.08, 0.2, true),
          ('exB', 'pass@1/id', 'placebo-cond', 'grpo', 1, 0.9, 0.25, 0.65, NULL, NULL, NULL,
           NULL, NULL, NULL, NULL, NULL, false))
         AS t(experiment, metric, condition, baseline, n, mean_condition, mean_baseline, diff,
           ci_lo, ci_hi, p_t, p_perm, boot_lo, boot_hi, p_holm, mde, significant)`,
      );
    }
  } finally {
    await store.close();
  }
  return dir;
}

/** The `data-plot` names of a report. */
function plotNames(html: string): string[] {
  return [...html.matchAll(/data-plot="([^"]*)"/g)].map((m) => m[1]);
}

Deno.test("report --experiment: only that experiment's runs, in every section", async () => {
  const dir = await handResults(true);
  const store = await ResultsStore.open(dir, { readOnly: true });
  try {
    const all = await renderReport(store);
    assert.ok(all.includes("placebo"));
    assert.ok(all.includes("5 run(s)"));
    const html = await renderReport(store, { experiment: "exA" });
    assert.ok(!html.includes("placebo"), "exB leaked into the exA report");
    assert.ok(html.includes("4 run(s) (4 done), 2 method(s), 2 seed(s)"));
    assert.ok(html.includes("baseline: e=grpo"));
    assert.ok(!html.includes("could not build"), "a section failed");
    // The comparisons table comes first, restricted to exA.
    const cmp = html.indexOf('<section id="comparisons">');
    assert.ok(cmp > 0 && cmp < html.indexOf('<section id="compare">'));
    assert.match(html, /<table class="comparisons">/);
    assert.ok(html.includes("<th>p_holm</th>") && html.includes("<td>hicra</td>"));
    assert.ok(!html.includes("placebo-cond"));
    // Paired differences: hicra − grpo, both seeds: step 0: 0.2, 0.1; step 1: 0.3, 0.3.
    const paired = /<svg[^>]*data-plot="paired\/pass1-id"[\s\S]*?<\/svg>/.exec(html)![0];
    assert.ok(paired.includes('data-series="hicra"') && paired.includes('data-band="hicra"'));
    assert.ok(paired.includes("pass@1, id (eval): Δ vs grpo"));
    assert.deepEqual(
      plotNames(html).filter((n) => n.startsWith("two-phase/")).map((n) => n.split("/")[1]),
      [...Array(4).fill("grpo"), ...Array(4).fill("hicra")],
    );
    // The scope is dropped afterwards: the store sees every run again.
    const n = await store.query("SELECT count(*)::INTEGER FROM runs");
    assert.equal(n.rows[0][0], 5);
    await assert.rejects(
      () => renderReport(store, { experiment: "nope" }),
      (e) => e instanceof UserError && /experiments: exA, exB/.test(e.message),
    );
    await assert.rejects(
      () => renderReport(store, { experiment: "exA", baseline: "placebo" }),
      (e) => e instanceof UserError && /no such method/.test(e.message),
    );
    assert.equal((await store.query("SELECT count(*)::INTEGER FROM runs")).rows[0][0], 5);
  } finally {
    await store.close();
  }
});

Deno.test("report --baseline; no comparisons table: no such section", async () => {
  const dir = await handResults(false);
  const out = join(dir, "r.html");
  assert.equal(
    await reportMain([
      "--results",
      dir,
      "--experiment",
      "exA",
      "--baseline",
      "hicra",
      "--out",
      out,
    ]),
    0,
  );
  const html = await Deno.readTextFile(out);
  assert.ok(html.includes("baseline: e=hicra"));
  assert.ok(!html.includes('id="comparisons"'));
  const paired = /<svg[^>]*data-plot="paired\/pass1-id"[\s\S]*?<\/svg>/.exec(html)![0];
  assert.ok(paired.includes('data-series="grpo"') && !paired.includes('data-series="hicra"'));
  assert.equal(await reportMain(["--results", dir, "--experiment", "nope"]), 2);
  assert.equal(await reportMain(["--results", dir, "--baseline", "nope"]), 2);
});
