/**
 * Cache integrity and scale (issue 17): a cache hit never sends an unverified
 * number to the results store, whatever byte or field of a manifest changed;
 * long loops plan iteratively; an instance key is computed once even when two
 * parallel sweep points reach it at the same time.
 */
import assert from "node:assert/strict";
import { loadExperimentText } from "../../pipeline/config.ts";
import { Cache, type Manifest, seal } from "../../pipeline/cache.ts";
import { execute, type ExecuteOptions } from "../../pipeline/executor.ts";
import { SilentReporter } from "../../pipeline/progress.ts";
import { ResultsStore } from "../../pipeline/store.ts";
import type { Json } from "../../pipeline/types.ts";
import { registry } from "../fixtures/toy_stages.ts";
import { prng } from "./helpers.ts";

const TOY = Deno.readTextFileSync(new URL("../fixtures/toy_loop.yaml", import.meta.url));
const TOY_MODULE = new URL("../fixtures/toy_stages.ts", import.meta.url).href;

function plan(text: string, sets: string[] = []) {
  return loadExperimentText(text, "toy.yaml", registry, sets);
}

function opts(dir: string, extra: Partial<ExecuteOptions> = {}): ExecuteOptions {
  return { resultsDir: dir, registry, reporter: new SilentReporter(), ...extra };
}

/** Everything the executor wrote to the store, in a stable order. */
async function snapshot(store: ResultsStore) {
  const q = async (sql: string) => (await store.query(sql)).rows;
  return {
    metrics: await q(
      `select r.label, m.stage, m.step, m.name, m.value
       from metrics m join runs r using (run_id) order by all`,
    ),
    instances: await q(`select stage, step, kind, key from instances order by all`),
    trace: await q(`select run_id, step, stage, state, extra from trace order by all`),
  };
}

/** A different value of the same JSON type (first element / first key for containers). */
function mutate(v: Json): Json {
  if (v === null) return 0;
  if (typeof v === "number") return v + 1;
  if (typeof v === "boolean") return !v;
  if (typeof v === "string") {
    if (/^[0-9a-f]+$/.test(v)) return (v[0] === "0" ? "1" : "0") + v.slice(1);
    return v + "x";
  }
  if (Array.isArray(v)) return v.length ? [mutate(v[0]), ...v.slice(1)] : ["x"];
  const keys = Object.keys(v);
  if (keys.length === 0) return { x: 1 };
  return { ...v, [keys[0]]: mutate(v[keys[0]]) };
}

Deno.test("no changed manifest field or byte ever reaches the results store", async () => {
  const dir = Deno.makeTempDirSync();
  const store = await ResultsStore.open(dir);
  try {
    const p = plan(TOY);
    const first = await execute(p.points, opts(dir, { sink: store }));
    assert.equal(first.computed, 10);
    const reference = await snapshot(store);
    assert.equal(reference.trace.length, 6);
    // acc@3 writes a metric and a row table: the entry whose manifest is damaged.
    const key = first.details.find((d) => d.label === "acc@3")!.key!;
    const cache = new Cache(`${dir}/cache`);
    const path = `${cache.entryDir(key)}/manifest.json`;
    const original = Deno.readTextFileSync(path);
    const manifest = JSON.parse(original) as Manifest;
    assert.equal(manifest.format, 2);
    assert.ok(manifest.manifestHash);
    assert.deepEqual(manifest.tables, ["trace"]);

    const runWith = async (text: string) => {
      Deno.writeTextFileSync(path, text);
      const lines: string[] = [];
      const reporter = new SilentReporter();
      reporter.line = (t: string) => void lines.push(t);
      const r = await execute(p.points, opts(dir, { sink: store, reporter }));
      assert.equal(r.failed, 0);
      return { r, lines, after: await snapshot(store) };
    };

    // Every field in turn, plus targeted edits of the values that reach the store.
    const edits: [string, (m: Record<string, Json>) => void][] = Object.keys(manifest).map((
      field,
    ) => [field, (m) => void (m[field] = mutate(m[field]))]);
    edits.push(
      ["metrics value", (m) => void (m.metrics = [{ name: "value", value: 999 }])],
      ["metrics name", (m) => void (m.metrics = [{ name: "evil", value: 18 }])],
      ["metrics added", (m) => void ((m.metrics as Json[]).push({ name: "evil", value: 1 }))],
      ["tables dropped", (m) => void (m.tables = [])],
      [
        "files: rows file dropped",
        (m) => void delete (m.files as Record<string, Json>)["rows/trace.jsonl"],
      ],
      ["seconds", (m) => void (m.seconds = 12345)],
      ["hash removed", (m) => void delete m.manifestHash],
    );
    for (const [name, edit] of edits) {
      const m = JSON.parse(original);
      edit(m);
      const before = quarantinedCount(dir);
      const { r, lines, after } = await runWith(JSON.stringify(m, null, 1));
      assert.equal(r.computed, 1, `${name}: the entry is recomputed`);
      assert.ok(
        lines.some((l) => l.includes("is corrupt") && l.includes(key.slice(0, 12))),
        `${name}: reported (${lines.join(" | ")})`,
      );
      assert.equal(quarantinedCount(dir), before + 1, `${name}: moved to cache/corrupt/`);
      assert.deepEqual(after, reference, `${name}: the store holds the true values`);
    }

    // A re-sealed manifest with a wrong metric (valid hash), or an older unsealed one:
    // a hit, but the metric comes from the hashed metrics.json.
    const wrong = { ...manifest, metrics: [{ name: "value", value: 999 }] };
    for (const text of [seal(wrong), { ...wrong, format: 1 as const, manifestHash: undefined }]) {
      const { r, lines, after } = await runWith(JSON.stringify(text));
      assert.equal(r.computed, 0);
      assert.deepEqual(lines, []);
      assert.deepEqual(after, reference);
    }

    // Damaged hashed files are caught by their hashes.
    for (const rel of ["metrics.json", "rows/trace.jsonl"]) {
      Deno.writeTextFileSync(path, original);
      const file = `${cache.entryDir(key)}/${rel}`;
      const bytes = Deno.readFileSync(file);
      Deno.writeFileSync(file, bytes.map((b, i) => i === bytes.length - 3 ? b ^ 1 : b));
      const { r, after } = await runWith(original);
      assert.equal(r.computed, 1, rel);
      assert.deepEqual(after, reference, rel);
    }

    // Random single-byte flips: either detected and recomputed, or harmless
    // (the JSON still means the same, e.g. a changed space).
    const seed = Date.now() % 100000;
    const rand = prng(seed);
    const bytes = new TextEncoder().encode(original);
    for (let i = 0; i < 16; i++) {
      const at = Math.floor(rand() * bytes.length);
      const flipped = bytes.slice();
      flipped[at] ^= 1 + Math.floor(rand() * 255);
      const text = new TextDecoder().decode(flipped);
      const { r, after } = await runWith(text);
      const why = `seed ${seed}, flip ${i} at byte ${at}`;
      assert.deepEqual(after, reference, why);
      if (r.computed === 0) assert.deepEqual(JSON.parse(text), manifest, why);
    }
  } finally {
    await store.close();
  }
});

function quarantinedCount(dir: string): number {
  try {
    return [...Deno.readDirSync(`${dir}/cache/corrupt`)].length;
  } catch {
    return 0;
  }
}

Deno.test("100,000 loop steps plan in a few seconds (dry run)", async () => {
  const dir = Deno.makeTempDirSync();
  const t0 = performance.now();
  const p = plan(TOY, ["loop.steps=100000"]);
  const dry = await execute(p.points, opts(dir, { dryRun: true }));
  const seconds = (performance.now() - t0) / 1000;
  // init + final + 100,000 acc + 33,334 probe (every 3 and the last step).
  assert.equal(dry.instances, 133_336);
  assert.equal(dry.details.filter((d) => d.status === "miss").length, 1);
  assert.equal(dry.blocked, 133_335);
  assert.ok(seconds < 6, `took ${seconds.toFixed(2)} s`);
});

Deno.test("a failure at step 0 of a 20,000-step loop is reported, not a stack overflow", async () => {
  const dir = Deno.makeTempDirSync();
  const p = plan(TOY, ["loop.steps=20000", "acc.fail_at=0"]);
  const r = await execute(p.points, opts(dir));
  assert.equal(r.computed, 1); // init
  assert.equal(r.failed, 1);
  assert.equal(r.runs[0].status, "failed");
  assert.match(r.runs[0].error!, /acc@0: planned failure at step 0/);
});

Deno.test("two parallel sweep points that reach the same key compute it once", async () => {
  // b multiplies by 0, so both points' c have equal inputs (the same key) but
  // different upstream instances: two plan nodes, one cache entry.
  const text = `name: dedupe
stages:
  a: { kind: source, with: { base: 1 } }
  b: { kind: scale, needs: { x: a }, with: { factor: 0 } }
  c: { kind: report, needs: { a: b }, with: { sleep_ms: 300 } }
sweep:
  grid: { a.base: [1, 2] }
`;
  const log = Deno.makeTempFileSync();
  Deno.env.set("TOY_EXEC_LOG", log);
  const dir = Deno.makeTempDirSync();
  const parallel = { jobs: 2, registryModule: TOY_MODULE };
  try {
    const r = await execute(plan(text).points, opts(dir, parallel));
    assert.equal(r.failed, 0);
    assert.equal(r.instances, 6);
    const c = r.details.filter((d) => d.stage === "c");
    assert.equal(c.length, 2);
    assert.equal(c[0].key, c[1].key);
    assert.deepEqual(c.map((d) => d.status).sort(), ["hit", "ran"]);
    const runs = () => Deno.readTextFileSync(log).split("\n").filter((l) => l === "c").length;
    assert.equal(runs(), 1);
    // --force recomputes the key once too.
    const forced = await execute(plan(text).points, opts(dir, { ...parallel, force: ["c"] }));
    assert.equal(forced.computed, 1);
    assert.equal(runs(), 2);
  } finally {
    Deno.env.delete("TOY_EXEC_LOG");
  }
});
