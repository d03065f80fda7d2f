/**
 * `deno task runs`: listing runs (tags, wall time, computed instances, the
 * primary metric) and comparing runs side by side, on real toy runs.
 */
import assert from "node:assert/strict";
import { runCli } from "../../pipeline/run_cli.ts";
import { runsMain } from "../../cli/runs.ts";
import { registry } from "../fixtures/toy_stages.ts";

const TOY = Deno.readTextFileSync(new URL("../fixtures/toy_loop.yaml", import.meta.url));
const cliOpts = {
  registry,
  registryModule: new URL("../fixtures/toy_stages.ts", import.meta.url).href,
};

async function runs(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runsMain(args, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

/** Parses runsMain's CSV (no quoted commas in these tests). */
function csv(text: string): Record<string, string>[] {
  const [head, ...lines] = text.trim().split("\n");
  const cols = head.split(",");
  return lines.map((l) => Object.fromEntries(l.split(",").map((v, i) => [cols[i], v])));
}

Deno.test("runs: lists runs with tags, computed instances and the compare: metric; compare shows what differs", async () => {
  const dir = Deno.makeTempDirSync();
  const file = `${dir}/toy.yaml`;
  const log = console.log;
  console.log = () => {}; // the run's summary
  try {
    // YAML tags, a compare: block (primary metric final/value), two deltas as two conditions.
    Deno.writeTextFileSync(
      file,
      TOY.replace("name: toy", "name: toy\ntags: [nightly]") +
        `sweep:\n  grid: { acc.delta: [2, 4] }\ncompare:\n  metric: { stage: final, name: value }\n  baseline: "2"\n  aggregate: last\n`,
    );
    const quiet = ["--results", `${dir}/res`, "--quiet", "--jobs", "1"];
    assert.equal(await runCli([file, ...quiet, "--tag", "first"], cliOpts), 0);
    // A second file version: acc's delta grid edited in the file; tagged differently.
    Deno.writeTextFileSync(file, Deno.readTextFileSync(file).replace("[2, 4]", "[2, 6]"));
    assert.equal(await runCli([file, ...quiet], cliOpts), 0);

    const list = await runs(["--results", `${dir}/res`, "--csv"]);
    assert.equal(list.code, 0, list.err);
    const rows = csv(list.out);
    assert.equal(rows.length, 3); // delta 2 (shared by both versions), 4 and 6
    const byLabel = new Map(rows.map((r) => [r.label, r]));
    assert.deepEqual([...byLabel.keys()].sort(), [
      "acc.delta=2 seed=3",
      "acc.delta=4 seed=3",
      "acc.delta=6 seed=3",
    ]);
    assert.equal(byLabel.get("acc.delta=4 seed=3")!.tags, "nightly first"); // YAML + --tag
    assert.equal(byLabel.get("acc.delta=2 seed=3")!.tags, "nightly"); // rerun without --tag
    // Computed over its history: delta=2 ran once (10 instances), then was all cached.
    assert.equal(byLabel.get("acc.delta=2 seed=3")!.computed, "10");
    assert.equal(byLabel.get("acc.delta=6 seed=3")!.metric, "final value");
    // final = acc at the last step + init = (10 + 6·6) + 10 with delta 6.
    assert.equal(Number(byLabel.get("acc.delta=6 seed=3")!.value), 56);

    const tagged = csv((await runs(["--results", `${dir}/res`, "--csv", "--tag", "first"])).out);
    assert.deepEqual(tagged.map((r) => r.label), ["acc.delta=4 seed=3"]);

    const a = byLabel.get("acc.delta=4 seed=3")!.run;
    const b = byLabel.get("acc.delta=6 seed=3")!.run;
    const cmp = await runs(["--results", `${dir}/res`, "compare", a.slice(0, 6), b]);
    assert.equal(cmp.code, 0, cmp.err);
    assert.match(cmp.out, /acc\.delta\s+\|\s+4\s+\|\s+6\s+\|/);
    assert.match(cmp.out, /final value\s+\|\s+44\s+\|\s+56 \(\+12\)\s+\|/);
    assert.doesNotMatch(cmp.out, /acc\.kind/); // equal paths are left out

    const bad = await runs(["--results", `${dir}/res`, "compare", a, "zzz"]);
    assert.equal(bad.code, 2);
    assert.equal(bad.err, "error: no run with id zzz");
  } finally {
    console.log = log;
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("runs: help and bad input", async () => {
  const help = await runs(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.out, /runs compare RUN RUN/);
  const one = await runs(["compare", "abc"]);
  assert.equal(one.code, 2);
  assert.match(one.err, /at least two run ids/);
  const missing = await runs(["--results", "/nonexistent/x"]);
  assert.equal(missing.code, 2);
  assert.match(missing.err, /no results database/);
});
