/**
 * Cache care (issue 15): `gc` keeps exactly the entries kept runs need (real
 * toy runs into DuckDB), frees their bytes, leaves a rerun of a kept run fully
 * cached, refuses while a run holds the lock; `du` sums per stage kind.
 */
import assert from "node:assert/strict";
import { gcMain } from "../../cli/gc.ts";
import { collectGarbage, diskUsage, listEntries, treeBytes } from "../../pipeline/gc.ts";
import { runToyInto } from "./helpers.ts";

const HOLDER = new URL("./lock_holder.ts", import.meta.url).pathname;

/** Runs the toy experiment with `sets` into `dir` (cache + DuckDB); returns its run id and summary. */
const keys = (s: Awaited<ReturnType<typeof runToyInto>>["summary"]) =>
  new Set(s.details.map((d) => d.key!));

/** Runs the gc command, capturing what it prints. */
async function gc(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const error = console.error;
  console.error = (s: string) => void err.push(s);
  try {
    const code = await gcMain(args, (s) => void out.push(s));
    return { code, out: out.join("\n"), err: err.join("\n") };
  } finally {
    console.error = error;
  }
}

Deno.test("gc --keep-runs removes exactly the entries only other runs needed; the kept run stays cached", async () => {
  const dir = Deno.makeTempDirSync();
  const a = await runToyInto(dir);
  const b = await runToyInto(dir, ["acc.delta=3"]);
  const ka = keys(a.summary);
  const kb = keys(b.summary);
  const onlyA = [...ka].filter((k) => !kb.has(k)).sort();
  assert.ok(onlyA.length > 0 && kb.size > 0 && [...ka].some((k) => kb.has(k)), "runs share init");
  assert.equal(listEntries(dir).length, new Set([...ka, ...kb]).size);
  // A leftover of a killed run.
  Deno.mkdirSync(`${dir}/cache/tmp/x-123`, { recursive: true });
  Deno.writeTextFileSync(`${dir}/cache/tmp/x-123/junk`, "12345");

  const before = listEntries(dir);
  const bytesOf = (ks: string[]) =>
    before.filter((e) => ks.includes(e.key)).reduce((s, e) => s + e.bytes, 0);

  // Dry run: the same report, nothing removed.
  const dry = await collectGarbage(dir, { keepRuns: [b.runId.slice(0, 6)], dryRun: true });
  assert.deepEqual(dry.removed.map((e) => e.key).sort(), onlyA);
  assert.equal(dry.removedBytes, bytesOf(onlyA));
  assert.equal(dry.leftoverBytes, 5);
  assert.equal(listEntries(dir).length, before.length);

  const r = await gc(["--results", dir, "--keep-runs", b.runId]);
  assert.equal(r.code, 0, r.err);
  assert.match(
    r.out,
    new RegExp(`kept ${kb.size} of ${before.length} entries \\(needed by 1 run\\)`),
  );
  assert.match(r.out, new RegExp(`removed ${onlyA.length} entries`));
  assert.deepEqual(listEntries(dir).map((e) => e.key).sort(), [...kb].sort());
  assert.equal(treeBytes(`${dir}/cache/tmp`), 0);

  // Run b again: all hits. Run a again: exactly the removed entries are recomputed.
  assert.equal((await runToyInto(dir, ["acc.delta=3"])).summary.computed, 0);
  const again = await runToyInto(dir);
  assert.equal(again.summary.computed, onlyA.length);
  // Default: keep every run in the database, so nothing needed goes.
  const all = await collectGarbage(dir);
  assert.equal(all.removed.length, 0);
  assert.equal(all.keptRuns.length, 2);
});

Deno.test("gc removes entries no run in the database lists, and refuses unknown --keep-runs", async () => {
  const dir = Deno.makeTempDirSync();
  const a = await runToyInto(dir);
  // An orphan entry: a copy of a real entry under a key no run used.
  const entry = listEntries(dir)[0];
  const orphan = `${dir}/cache/entries/ff/${"f".repeat(64)}`;
  Deno.mkdirSync(orphan, { recursive: true });
  for (const f of ["manifest.json", "metrics.json"]) {
    Deno.copyFileSync(`${entry.dir}/${f}`, `${orphan}/${f}`);
  }
  const r = await collectGarbage(dir);
  assert.deepEqual(r.removed.map((e) => e.key), ["f".repeat(64)]);
  assert.equal(r.kept, a.summary.instances);
  const bad = await gc(["--results", dir, "--keep-runs", "nosuchrun"]);
  assert.equal(bad.code, 2);
  assert.match(
    bad.err,
    /^error: --keep-runs nosuchrun: no run id starts with it .*experiments: toy/,
  );
  // Experiment names work too.
  assert.equal((await collectGarbage(dir, { keepRuns: ["toy"], dryRun: true })).removed.length, 0);
});

Deno.test("gc refuses while another process holds the results directory lock", async () => {
  const dir = Deno.makeTempDirSync();
  await runToyInto(dir);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", HOLDER, dir, "20000"],
    stdout: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) text += (await reader.read()).value ?? "";
  try {
    const before = listEntries(dir).length;
    const r = await gc(["--results", dir]);
    assert.equal(r.code, 2);
    assert.match(
      r.err,
      new RegExp(`^error: results directory ${dir} is locked by PID ${child.pid}`),
    );
    assert.equal(listEntries(dir).length, before);
  } finally {
    child.kill();
    await reader.cancel();
    await child.status;
  }
});

Deno.test("du sums entries and bytes per stage kind and what no run needs", async () => {
  const dir = Deno.makeTempDirSync();
  const a = await runToyInto(dir);
  const rows = diskUsage(dir, null);
  const counts = Object.fromEntries(rows.map((r) => [r.kind, r.entries]));
  // init (source), 6 acc (step), probe at steps 2 and 5 (scale), final (report).
  assert.deepEqual(counts, { source: 1, step: 6, scale: 2, report: 1 });
  assert.equal(rows.reduce((s, r) => s + r.bytes, 0), treeBytes(`${dir}/cache/entries`));
  const r = await gc(["--du", "--results", dir]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /\| kind +\| entries \| pruned \| size/);
  assert.match(r.out, new RegExp(`in ${a.summary.instances} entries; 0 B not needed by any run`));
  const help = await gc(["--help"]);
  for (const opt of ["--results", "--keep-runs", "--dry-run", "--du"]) {
    assert.ok(help.out.includes(opt));
  }
});
