/**
 * Engine tests on toy, pure-TypeScript stages: cache hit / miss, early cutoff,
 * explain, loop unrolling, retention, corrupt entries, --force, failures,
 * parallel jobs and the DuckDB results.
 */
import assert from "node:assert/strict";
import { loadExperimentText } from "../../pipeline/config.ts";
import { Cache, listFiles } from "../../pipeline/cache.ts";
import { execute, type ExecuteOptions } from "../../pipeline/executor.ts";
import { SilentReporter } from "../../pipeline/progress.ts";
import { ResultsStore } from "../../pipeline/store.ts";
import { registry } from "../fixtures/toy_stages.ts";

const TOY = Deno.readTextFileSync(new URL("../fixtures/toy_loop.yaml", import.meta.url));

function plan(text: string, sets: string[] = []) {
  return loadExperimentText(text, "toy.yaml", registry, sets);
}

function opts(dir: string, extra: Partial<ExecuteOptions> = {}): ExecuteOptions {
  return { resultsDir: dir, registry, reporter: new SilentReporter(), ...extra };
}

/** Value written by the instance `label` (from the details of a summary). */
function valueOf(dir: string, key: string): number {
  const c = new Cache(`${dir}/cache`);
  return JSON.parse(Deno.readTextFileSync(`${c.entryDir(key)}/out/value.json`)).value;
}

function keyOf(summary: Awaited<ReturnType<typeof execute>>, label: string): string {
  const d = summary.details.find((x) => x.label === label);
  assert.ok(d?.key, `no key for ${label}`);
  return d.key;
}

Deno.test("execute() unrolls the loop, runs every instance once, then hits the cache", async () => {
  const dir = Deno.makeTempDirSync();
  const p = plan(TOY);
  const first = await execute(p.points, opts(dir));
  // init + final + 6 acc + probe at steps 2 and 5.
  assert.equal(first.instances, 10);
  assert.equal(first.computed, 10);
  assert.deepEqual(
    first.details.filter((d) => d.stage === "probe").map((d) => d.step),
    [2, 5],
  );
  assert.equal(valueOf(dir, keyOf(first, "acc@5")), 22);
  assert.equal(valueOf(dir, keyOf(first, "probe@2")), 8);
  assert.equal(valueOf(dir, keyOf(first, "final")), 32);
  const second = await execute(p.points, opts(dir));
  assert.equal(second.computed, 0);
  assert.equal(second.cached, 10);
  assert.equal(keyOf(second, "final"), keyOf(first, "final"));
});

Deno.test("a longer loop extends a shorter one: the shorter run's steps are cache hits", async () => {
  const dir = Deno.makeTempDirSync();
  const short = await execute(plan(TOY, ["loop.steps=3"]).points, opts(dir));
  assert.equal(short.computed, 6); // init + 3 acc + probe@2 + final
  const long = await execute(plan(TOY, ["loop.steps=5"]).points, opts(dir));
  // acc@0..2 and probe@2 reused; acc@3, acc@4, probe@4 (the last step) and final computed.
  const hits = long.details.filter((d) => d.status === "hit").map((d) => d.label).sort();
  assert.deepEqual(hits, ["acc@0", "acc@1", "acc@2", "init", "probe@2"]);
  assert.equal(keyOf(long, "acc@2"), keyOf(short, "acc@2"));
  assert.equal(long.computed, 4);
  // And back: the 3-step run is entirely cached (its final included).
  assert.equal((await execute(plan(TOY, ["loop.steps=3"]).points, opts(dir))).computed, 0);
});

Deno.test("an input a kind does not read (readsInput) stays out of the key and is not rebuilt", async () => {
  // `step` reads `extra` only when delta is not 5 (a stand-in for "an estimator
  // that needs the policy"): wiring extra must not change the delta-5 keys.
  const { createRegistry } = await import("../../pipeline/registry.ts");
  const toys = await import("../fixtures/toy_stages.ts");
  const picky = {
    ...toys.step,
    readsInput: (name: string, p: { delta?: unknown }) => name !== "extra" || p.delta !== 5,
  };
  const reg = createRegistry([toys.source, toys.scale, picky, toys.report]);
  const dir = Deno.makeTempDirSync();
  const run = (text: string) =>
    execute(loadExperimentText(text, "toy.yaml", reg, []).points, { ...opts(dir), registry: reg });
  const base = TOY.replace("delta: 2", "delta: 5").replace("steps: 6", "steps: 6\n  keep_every: 3");
  const first = await run(base);
  const wired = base.replace(
    "needs: { state: prev.acc }",
    "needs: { state: prev.acc, extra: init }",
  );
  const second = await run(wired);
  assert.equal(second.computed, 0, "unread input changed keys or forced a rebuild");
  assert.equal(keyOf(second, "acc@4"), keyOf(first, "acc@4"));
  // With a delta that reads it, the input counts.
  const third = await run(wired.replace("delta: 5", "delta: 4"));
  assert.equal(valueOf(dir, keyOf(third, "acc@2")), 10 + 3 * (4 + 10));
});

Deno.test("execute() cuts off early when an upstream rerun yields identical bytes", async () => {
  const dir = Deno.makeTempDirSync();
  const text = `name: cutoff
stages:
  a: { kind: source, with: { base: 1 } }
  b: { kind: scale, needs: { x: a }, with: { factor: 0 } }
  c: { kind: report, needs: { a: b } }
`;
  await execute(plan(text).points, opts(dir));
  const again = await execute(plan(text, ["a.base=5"]).points, opts(dir, { explain: true }));
  const status = Object.fromEntries(again.details.map((d) => [d.label, d.status]));
  assert.deepEqual(status, { a: "ran", b: "ran", c: "hit" });
  const a = again.details.find((d) => d.label === "a")!;
  assert.deepEqual(a.why, ["params.base: 1 → 5"]);
  const b = again.details.find((d) => d.label === "b")!;
  assert.equal(b.why!.length, 1);
  assert.match(b.why![0], /^input x changed \([0-9a-f]{8} → [0-9a-f]{8}\)$/);
});

Deno.test("dry run reports hits, misses and instances waiting on upstream misses", async () => {
  const dir = Deno.makeTempDirSync();
  await execute(plan(TOY).points, opts(dir));
  const dry = await execute(
    plan(TOY, ["acc.delta=3"]).points,
    opts(dir, { dryRun: true, explain: true }),
  );
  const by = (label: string) => dry.details.find((d) => d.label === label)!;
  assert.equal(by("init").status, "hit");
  assert.equal(by("acc@0").status, "miss");
  assert.deepEqual(by("acc@0").why, ["params.delta: 2 → 3"]);
  assert.equal(by("acc@1").status, "blocked");
  assert.equal(dry.computed, 0);
  // Nothing was written by the dry run.
  const after = await execute(plan(TOY).points, opts(dir, { dryRun: true }));
  assert.equal(after.cached, 10);
});

Deno.test("explain names the version bump and seed changes", async () => {
  const dir = Deno.makeTempDirSync();
  const text = `name: s
seed: 1
stages:
  a: { kind: source, with: { mode: seeded } }
`;
  await execute(plan(text).points, opts(dir));
  const r = await execute(plan(text, ["seed=2"]).points, opts(dir, { explain: true }));
  assert.deepEqual(r.details[0].why, ["seed 1 → 2"]);
});

Deno.test("a corrupt cache entry is detected, reported and recomputed to the same bytes", async () => {
  const dir = Deno.makeTempDirSync();
  const p = plan(TOY);
  const first = await execute(p.points, opts(dir));
  const key = keyOf(first, "acc@3");
  const c = new Cache(`${dir}/cache`);
  Deno.writeTextFileSync(`${c.entryDir(key)}/out/value.json`, '{"value":999}');
  const lines: string[] = [];
  const reporter = new SilentReporter();
  reporter.line = (t: string) => void lines.push(t);
  const second = await execute(p.points, opts(dir, { reporter }));
  assert.equal(second.computed, 1);
  assert.ok(lines.some((l) => l.includes("is corrupt") && l.includes("out/value.json")));
  assert.equal(valueOf(dir, key), 18);
  assert.equal(keyOf(second, "final"), keyOf(first, "final"));
});

Deno.test("retention prunes per-step outputs, and a pruned input is rebuilt on demand", async () => {
  const dir = Deno.makeTempDirSync();
  const text = TOY.replace("steps: 6", "steps: 6\n  keep_every: 3");
  const first = await execute(plan(text).points, opts(dir));
  const c = new Cache(`${dir}/cache`);
  const pruned = first.details
    .filter((d) => d.stage === "acc")
    .filter((d) => !listFiles(c.entryDir(d.key!)).some((f) => f.startsWith("out/")))
    .map((d) => d.step);
  assert.deepEqual(pruned, [0, 1, 3, 4]);
  const again = await execute(plan(text).points, opts(dir));
  assert.equal(again.computed, 0);
  // A new downstream consumer of a pruned step forces it to be rebuilt.
  const probeAll = text.replace("      every: 3", "      every: 1");
  const lines: string[] = [];
  const reporter = new SilentReporter();
  reporter.line = (t: string) => void lines.push(t);
  const third = await execute(plan(probeAll).points, opts(dir, { reporter }));
  assert.equal(third.failed, 0);
  assert.ok(lines.some((l) => l.includes("pruned by retention")));
  assert.equal(valueOf(dir, keyOf(third, "probe@0")), 6);
});

Deno.test("--force reruns the stage and everything downstream", async () => {
  const dir = Deno.makeTempDirSync();
  const p = plan(TOY);
  await execute(p.points, opts(dir));
  const r = await execute(p.points, opts(dir, { force: ["probe"] }));
  const ran = r.details.filter((d) => d.status === "ran").map((d) => d.label);
  assert.deepEqual(ran, ["probe@2", "probe@5"]);
  const r2 = await execute(p.points, opts(dir, { force: ["acc"] }));
  assert.equal(r2.computed, 9); // 6 acc + 2 probe + final; init stays cached
});

Deno.test("a failed point does not stop the others; --fail-fast stops", async () => {
  const dir = Deno.makeTempDirSync();
  const text = TOY + `sweep:\n  grid: { acc.fail_at: [-1, 2] }\n`;
  const r = await execute(plan(text).points, opts(dir));
  const status = r.runs.map((x) => x.status);
  assert.deepEqual(status, ["done", "failed"]);
  assert.match(r.runs[1].error!, /acc@2: planned failure at step 2/);
  const dir2 = Deno.makeTempDirSync();
  const text2 = TOY + `sweep:\n  grid: { acc.fail_at: [1, -1] }\n`;
  const r2 = await execute(plan(text2).points, opts(dir2, { failFast: true }));
  assert.deepEqual(r2.runs.map((x) => x.status), ["failed", "pending"]);
});

Deno.test("sweep points share identical instances and write metrics per run into DuckDB", async () => {
  const dir = Deno.makeTempDirSync();
  const text = TOY + `sweep:\n  grid: { probe.factor: [0.5, 2] }\n`;
  const store = await ResultsStore.open(dir);
  try {
    const r = await execute(plan(text).points, opts(dir, { sink: store }));
    // init, 6 acc and final are shared; only the 2 probes differ per point.
    assert.equal(r.instances, 12);
    assert.equal(r.computed, 12);
    const q = await store.query(
      `select r.label, m.stage, m.step, m.value from metrics m join runs r using (run_id)
       where m.stage = 'acc' and m.step = 5 order by r.label`,
    );
    assert.equal(q.rows.length, 2);
    assert.deepEqual(q.rows.map((x) => x[3]), [22, 22]);
    const st = await store.query(`select status, count(*) from runs group by status`);
    assert.deepEqual(st.rows, [["done", 2]]);
    const trace = await store.query(`select count(*) from trace`);
    assert.deepEqual(trace.rows, [[12]]);
    // A rerun re-ingests from the cache without duplicating rows.
    await execute(plan(text).points, opts(dir, { sink: store }));
    const again = await store.query(`select count(*) from metrics`);
    const inst = await store.query(`select count(*), sum(cached::int) from instances`);
    assert.deepEqual(again.rows, [[2 * 10]]);
    assert.deepEqual(inst.rows, [[20, 20]]);
  } finally {
    await store.close();
  }
});

Deno.test("parallel jobs produce the same entries as a sequential run", async () => {
  const text = TOY + `sweep:\n  grid: { probe.factor: [0.5, 2, 3] }\n`;
  const d1 = Deno.makeTempDirSync();
  const d2 = Deno.makeTempDirSync();
  const seq = await execute(plan(text).points, opts(d1));
  const par = await execute(
    plan(text).points,
    opts(d2, {
      jobs: 2,
      registryModule: new URL("../fixtures/toy_stages.ts", import.meta.url).href,
    }),
  );
  assert.equal(par.failed, 0);
  const keys = (s: typeof seq) => s.details.map((d) => d.key).sort();
  assert.deepEqual(keys(par), keys(seq));
});

Deno.test("parallel jobs lose no results while buffers are flushed to DuckDB", async () => {
  const text = TOY + `sweep:\n  grid: { probe.factor: [0.5, 2, 3, 4] }\n`;
  const dir = Deno.makeTempDirSync();
  const store = await ResultsStore.open(dir);
  try {
    const r = await execute(
      plan(text).points,
      opts(dir, {
        jobs: 2,
        registryModule: new URL("../fixtures/toy_stages.ts", import.meta.url).href,
        sink: store,
        flushEveryMs: 0, // flush after every instance: flushes overlap new results
      }),
    );
    assert.equal(r.failed, 0);
    // 4 runs × 10 instances, one "value" metric each; 6 trace rows per run.
    assert.deepEqual((await store.query("select count(*) from metrics")).rows, [[40]]);
    assert.deepEqual((await store.query("select count(*) from instances")).rows, [[40]]);
    assert.deepEqual((await store.query("select count(*) from trace")).rows, [[24]]);
  } finally {
    await store.close();
  }
});

Deno.test("the thread hint: all slots for an instance running alone, 1 when the pool is full", async () => {
  // One shared source, then three independent consumers: the source runs alone (2 threads);
  // the three scales are ready together and share the two slots (1 thread each).
  const text = `name: threads
stages:
  src: { kind: source, with: { sleep_ms: 50 } }
  a: { kind: scale, needs: { x: src }, with: { factor: 2, sleep_ms: 50 } }
  b: { kind: scale, needs: { x: src }, with: { factor: 3, sleep_ms: 50 } }
  c: { kind: scale, needs: { x: src }, with: { factor: 4, sleep_ms: 50 } }
`;
  const log = Deno.makeTempFileSync();
  Deno.env.set("TOY_THREADS_LOG", log);
  try {
    const r = await execute(
      plan(text).points,
      opts(Deno.makeTempDirSync(), {
        jobs: 2,
        registryModule: new URL("../fixtures/toy_stages.ts", import.meta.url).href,
      }),
    );
    assert.equal(r.failed, 0);
  } finally {
    Deno.env.delete("TOY_THREADS_LOG");
  }
  const threads = Object.fromEntries(
    Deno.readTextFileSync(log).trim().split("\n").map((l) => l.split(" ")),
  );
  assert.equal(threads.src, "2");
  assert.equal(threads.a, "1");
  assert.equal(threads.b, "1");
  // In-process, an instance gets every core.
  const inProc = Deno.makeTempFileSync();
  Deno.env.set("TOY_THREADS_LOG", inProc);
  try {
    await execute(plan(text).points, opts(Deno.makeTempDirSync()));
  } finally {
    Deno.env.delete("TOY_THREADS_LOG");
  }
  const cores = String(navigator.hardwareConcurrency || 1);
  assert.ok(Deno.readTextFileSync(inProc).trim().split("\n").every((l) => l.endsWith(` ${cores}`)));
});
