/**
 * Faults with real processes (issue 14), on the toy stage kinds: `run`
 * subprocesses killed with SIGKILL at seeded random moments (several times in
 * a row, two kills back to back), damaged cache entries (a flipped byte, a
 * truncated output file or manifest, a deleted manifest), a deleted results
 * database, and a full disk that is then given more room. After each, a rerun
 * must end with the same DuckDB contents as an uninterrupted run and never
 * recompute an instance that had completed.
 */
import assert from "node:assert/strict";
import { Cache, type Manifest } from "../../pipeline/cache.ts";
import { ResultsStore } from "../../pipeline/store.ts";
import { canMountTmpfs, executed, prng, spawnToyRun, toyRunArgs } from "./helpers.ts";

const EXPERIMENT = `name: faults
seed: 5
stages:
  init: { kind: source, with: { base: 1, sleep_ms: 20 } }
  final: { kind: report, needs: { a: acc } }
loop:
  steps: 10
  init: { acc: init }
  stages:
    acc:
      kind: step
      needs: { state: prev.acc }
      with: { delta: 3, sleep_ms: 60 }
    probe:
      kind: scale
      needs: { x: acc }
      with: { factor: 2, sleep_ms: 30 }
sweep:
  seeds: [5, 6]
`;

/** Runs a toy `run` to the end. */
async function run(dir: string, file: string, log: string, quiet = true) {
  const out = await spawnToyRun(dir, file, log, quiet).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Valid cache entries by key. */
function entries(dir: string): Map<string, Manifest> {
  const out = new Map<string, Manifest>();
  const cache = new Cache(`${dir}/cache`);
  for (const m of cache.manifests()) {
    if (cache.lookup(m.key).status === "hit") out.set(m.key, m);
  }
  return out;
}

/** Label of a manifest, as the toy log writes it. */
function labelOf(m: Manifest): string {
  return m.step === null ? m.stage : `${m.stage}@${m.step}`;
}

/** Everything a run leaves in DuckDB that must not depend on interruptions. */
async function snapshot(dir: string) {
  const store = await ResultsStore.open(dir, { readOnly: true });
  try {
    const q = async (sql: string) => (await store.query(sql)).rows;
    return {
      runs: await q(`select run_id, label, seed, status from runs order by all`),
      metrics: await q(
        `select r.label, m.stage, m.step, m.name, m.value
         from metrics m join runs r using (run_id) order by all`,
      ),
      instances: await q(
        `select distinct run_id, stage, step, kind, key from instances order by all`,
      ),
      trace: await q(`select run_id, step, stage, state, extra from trace order by all`),
    };
  } finally {
    await store.close();
  }
}

/** Files left in the cache's temp directory. */
function temps(dir: string): string[] {
  try {
    return [...Deno.readDirSync(`${dir}/cache/tmp`)].map((e) => e.name);
  } catch {
    return [];
  }
}

/** Entries moved to cache/corrupt/. */
function quarantined(dir: string): number {
  try {
    return [...Deno.readDirSync(`${dir}/cache/corrupt`)].length;
  } catch {
    return 0;
  }
}

/**
 * A work directory holding the experiment file and one uninterrupted
 * reference run of it, shared by the tests below.
 */
async function reference() {
  const work = Deno.makeTempDirSync();
  const file = `${work}/exp.yaml`;
  Deno.writeTextFileSync(file, EXPERIMENT);
  const dir = `${work}/ref`;
  const r = await run(dir, file, `${work}/ref.log`);
  assert.equal(r.code, 0, r.stderr);
  // 2 seeds × (init + final + 10 acc + 10 probe), nothing shared (the seed differs).
  assert.equal(executed(`${work}/ref.log`).length, 44);
  const ref = { dir, db: await snapshot(dir), keys: [...entries(dir).keys()].sort() };
  return { work, file, ref };
}

Deno.test({
  name: "kill -9 at seeded random moments, twice back to back, then rerun: identical, no recompute",
  sanitizeResources: false,
  async fn() {
    const { work, file, ref } = await reference();
    const seed = 1414;
    const rand = prng(seed);
    const dir = `${work}/killed`;
    // Four kills in a row on the same directory; the second and third come
    // back to back (the next run is killed during its start-up and lock / cache
    // recovery), then a final rerun.
    const delays = [
      400 + Math.floor(rand() * 1200),
      50 + Math.floor(rand() * 250),
      400 + Math.floor(rand() * 1500),
      400 + Math.floor(rand() * 1500),
    ];
    let interrupted = 0;
    for (const [i, delay] of delays.entries()) {
      const completed = entries(dir);
      const log = `${work}/kill${i}.log`;
      const child = spawnToyRun(dir, file, log);
      await new Promise((r) => setTimeout(r, delay));
      try {
        child.kill("SIGKILL");
      } catch {
        // It had finished already.
      }
      await child.output();
      // Entries that had completed are untouched (a recompute would rewrite them).
      const now = entries(dir);
      if (now.size < ref.keys.length) interrupted++;
      for (const [key, m] of completed) {
        assert.equal(
          now.get(key)?.createdAt,
          m.createdAt,
          `seed ${seed}, kill ${i} after ${delay} ms: ${labelOf(m)} was lost or recomputed`,
        );
      }
    }
    assert.ok(interrupted >= 3, `seed ${seed}: only ${interrupted} kills landed mid-run`);
    const before = entries(dir);
    const log = `${work}/final.log`;
    const t0 = performance.now();
    const last = await run(dir, file, log);
    assert.equal(
      last.code,
      0,
      `seed ${seed}: the lock or a temp file blocked the rerun\n${last.stderr}`,
    );
    assert.ok(performance.now() - t0 < 15_000);
    // Nothing that had completed is computed again: the rerun's executions
    // are exactly the instances missing from the cache.
    const missing = ref.keys.filter((k) => !before.has(k)).length;
    assert.equal(executed(log).length, missing, `seed ${seed}: ${executed(log).join(", ")}`);
    assert.deepEqual([...entries(dir).keys()].sort(), ref.keys, `seed ${seed}: cache entries`);
    assert.deepEqual(await snapshot(dir), ref.db, `seed ${seed}: DuckDB contents`);
    assert.deepEqual(temps(dir), [], "no temp directory survives");
    assert.equal(quarantined(dir), 0, "a kill never leaves a corrupt entry");
  },
});

Deno.test({
  name:
    "damaged cache entries (flipped byte, truncation, lost manifest) are quarantined and rebuilt",
  sanitizeResources: false,
  async fn() {
    const { work, file, ref } = await reference();
    const cache = new Cache(`${ref.dir}/cache`);
    const all = [...entries(ref.dir).values()];
    // One entry per label (each label exists once per seed; any one will do).
    const pick = (label: string) => all.find((m) => labelOf(m) === label)!;
    const damage: [string, Manifest, (path: string) => void][] = [
      ["flipped byte in an output", pick("acc@4"), (d) => flip(`${d}/out/value.json`, 3)],
      ["truncated output", pick("probe@7"), (d) => truncate(`${d}/out/value.json`)],
      ["truncated manifest", pick("acc@2"), (d) => truncate(`${d}/manifest.json`)],
      ["flipped byte in the metrics", pick("init"), (d) => flip(`${d}/metrics.json`, 10)],
    ];
    for (const [, m, hurt] of damage) hurt(cache.entryDir(m.key));
    // A deleted manifest: the entry is a plain miss, recomputed into place.
    const lost = pick("probe@2");
    Deno.removeSync(`${cache.entryDir(lost.key)}/manifest.json`);

    const log = `${work}/repair.log`;
    // Not --quiet: the corruption notices are progress lines.
    const r = await run(ref.dir, file, log, false);
    assert.equal(r.code, 0, r.stderr);
    const text = r.stdout + r.stderr;
    for (const [what, m] of damage) {
      assert.ok(text.includes(m.key.slice(0, 12)) && /corrupt/.test(text), `${what}: reported`);
    }
    assert.equal(quarantined(ref.dir), damage.length, "each damaged entry is moved aside");
    // Only the damaged entries are recomputed (identical bytes: downstream hits).
    assert.deepEqual(
      executed(log).sort(),
      [...damage.map(([, m]) => labelOf(m)), labelOf(lost)].sort(),
    );
    assert.deepEqual([...entries(ref.dir).keys()].sort(), ref.keys);
    assert.deepEqual(await snapshot(ref.dir), ref.db, "DuckDB holds the true values");
  },
});

/** Flips one byte of a file. */
function flip(path: string, at: number): void {
  const bytes = Deno.readFileSync(path);
  bytes[at % bytes.length] ^= 0x20;
  Deno.writeFileSync(path, bytes);
}

/** Cuts a file to half its length. */
function truncate(path: string): void {
  const bytes = Deno.readFileSync(path);
  Deno.writeFileSync(path, bytes.subarray(0, Math.floor(bytes.length / 2)));
}

Deno.test({
  name: "a deleted runs.duckdb is rebuilt from the cache: same rows, nothing computed",
  sanitizeResources: false,
  async fn() {
    const { work, file, ref } = await reference();
    Deno.removeSync(`${ref.dir}/runs.duckdb`);
    const log = `${work}/rebuild.log`;
    const r = await run(ref.dir, file, log);
    assert.equal(r.code, 0, r.stderr);
    // One line says what happened (--quiet keeps it).
    assert.equal(
      r.stderr.trim(),
      `note: the results database ${ref.dir}/runs.duckdb was missing; rebuilt it from the cache (run other experiments again to restore their rows)`,
    );
    assert.deepEqual(executed(log), []);
    assert.deepEqual(await snapshot(ref.dir), ref.db);
  },
});

Deno.test({
  name:
    "a full disk: one line naming the path and the space; after freeing space the rerun is identical",
  ignore: !canMountTmpfs(),
  sanitizeResources: false,
  async fn() {
    const { work, file, ref } = await reference();
    // In a private mount namespace: a 150 KiB tmpfs fills up during the run;
    // then it is remounted with 64 MiB ("space freed") and the run repeated.
    // The results are copied out before the namespace (and its tmpfs) ends.
    const mnt = `${work}/mnt`;
    Deno.mkdirSync(mnt);
    const script = [
      'mount -t tmpfs -o size=150k tmpfs "$MNT"',
      '"$@" >"$OUT/1.out" 2>"$OUT/1.err"; echo $? >"$OUT/1.code"',
      'mount -o remount,size=64m "$MNT"',
      '"$@" >"$OUT/2.out" 2>"$OUT/2.err"; echo $? >"$OUT/2.code"',
      'cp -a "$MNT/res" "$OUT/res"',
    ].join("\n");
    const out = await new Deno.Command("unshare", {
      args: ["-rm", "sh", "-c", script, "sh", ...toyRunArgs(`${mnt}/res`, file)],
      env: { MNT: mnt, OUT: work, NO_COLOR: "1", TOY_EXEC_LOG: `${work}/full.log` },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const read = (name: string) => Deno.readTextFileSync(`${work}/${name}`);
    assert.equal(read("1.code").trim(), "2", read("1.err"));
    const lines = read("1.err").trim().split("\n");
    assert.equal(lines.length, 1, read("1.err"));
    assert.match(
      lines[0],
      new RegExp(
        `^error: no space left on the device while writing (${mnt}/res/\\S+|under ${mnt}/res)`,
      ),
    );
    // The space: what the device has free and what the results took so far.
    assert.match(
      lines[0],
      /: free some space there \(\d+ KiB free on that device; the results so far take \d+ KiB; or pass --results DIR/,
    );
    assert.equal(read("2.code").trim(), "0", read("2.err"));
    const dir = `${work}/res`;
    assert.equal(quarantined(dir), 0, "no corrupt entry after the full disk");
    assert.deepEqual(temps(dir), []);
    assert.deepEqual([...entries(dir).keys()].sort(), ref.keys);
    assert.deepEqual(await snapshot(dir), ref.db);
  },
});
