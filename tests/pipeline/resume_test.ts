/**
 * Kill -9 a real `run` subprocess at random moments, start it again, and check
 * that no completed instance is recomputed and the outputs equal those of an
 * uninterrupted run. Also: a second concurrent `run` on the same results
 * directory fails at once with the lock message.
 */
import assert from "node:assert/strict";
import { Cache, type Manifest } from "../../pipeline/cache.ts";
import { executed, spawnToyRun } from "./helpers.ts";

const EXPERIMENT = `name: killme
seed: 5
stages:
  init: { kind: source, with: { base: 1, sleep_ms: 20 } }
  final: { kind: report, needs: { a: acc } }
loop:
  steps: 12
  init: { acc: init }
  keep_every: 4
  stages:
    acc:
      kind: step
      needs: { state: prev.acc }
      with: { delta: 3, sleep_ms: 60 }
    probe:
      kind: scale
      needs: { x: acc }
      with: { factor: 2, sleep_ms: 30 }
`;

function entries(dir: string): Map<string, Manifest> {
  const out = new Map<string, Manifest>();
  for (const m of new Cache(`${dir}/cache`).manifests()) {
    out.set(m.step === null ? m.stage : `${m.stage}@${m.step}`, m);
  }
  return out;
}

Deno.test({
  name:
    "a run killed with SIGKILL at a random point resumes without recomputing and ends identical",
  sanitizeResources: false,
  async fn() {
    const work = Deno.makeTempDirSync();
    const file = `${work}/exp.yaml`;
    Deno.writeTextFileSync(file, EXPERIMENT);
    // Reference: an uninterrupted run.
    const ref = `${work}/ref`;
    const refRun = await spawnToyRun(ref, file, `${work}/ref.log`).output();
    assert.equal(refRun.code, 0, new TextDecoder().decode(refRun.stderr));
    const refEntries = entries(ref);
    assert.equal(refEntries.size, 26);

    const seeds = [0.15, 0.45, 0.8, 0.3];
    for (let trial = 0; trial < seeds.length; trial++) {
      const dir = `${work}/t${trial}`;
      const log1 = `${work}/t${trial}.1.log`;
      const log2 = `${work}/t${trial}.2.log`;
      const child = spawnToyRun(dir, file, log1);
      // Deno start-up is ~0.3 s; the whole run takes ~1.5–2 s.
      const delay = 300 + Math.floor(seeds[trial] * 1600 + Math.random() * 200);
      await new Promise((r) => setTimeout(r, delay));
      try {
        child.kill("SIGKILL");
      } catch {
        // Already finished.
      }
      await child.output();
      const completed = entries(dir);
      const rerun = await spawnToyRun(dir, file, log2).output();
      assert.equal(rerun.code, 0, new TextDecoder().decode(rerun.stderr));
      const recomputed = executed(log2).filter((label) => completed.has(label));
      // A pruned entry may legitimately be rebuilt for a consumer that had not run.
      const illegal = recomputed.filter((l) => !completed.get(l)!.pruned);
      assert.deepEqual(illegal, [], `trial ${trial}: recomputed completed instances`);
      const final = entries(dir);
      assert.equal(final.size, refEntries.size);
      for (const [label, m] of refEntries) {
        assert.equal(final.get(label)?.key, m.key, `${label} key differs`);
        assert.equal(final.get(label)?.outputHash, m.outputHash, `${label} output differs`);
      }
      const v = JSON.parse(
        Deno.readTextFileSync(
          `${new Cache(`${dir}/cache`).entryDir(final.get("final")!.key)}/out/value.json`,
        ),
      );
      assert.equal(v.value, 1 + 3 * 12);
      // No temp directory survives the resumed run.
      assert.deepEqual([...Deno.readDirSync(`${dir}/cache/tmp`)], []);
    }
  },
});

Deno.test({
  name: "a second run on a locked results directory fails at once with the holder's PID",
  sanitizeResources: false,
  async fn() {
    const work = Deno.makeTempDirSync();
    const file = `${work}/exp.yaml`;
    Deno.writeTextFileSync(file, EXPERIMENT);
    const dir = `${work}/res`;
    const first = spawnToyRun(dir, file, `${work}/a.log`);
    // Wait until the first run holds the lock.
    for (let i = 0; i < 100; i++) {
      try {
        Deno.statSync(`${dir}/.lock`);
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const t0 = performance.now();
    const second = await spawnToyRun(dir, file, `${work}/b.log`).output();
    const elapsed = performance.now() - t0;
    const err = new TextDecoder().decode(second.stderr);
    assert.equal(second.code, 2);
    assert.match(
      err,
      new RegExp(
        `results directory ${dir} is locked by PID ${first.pid} \\(since [0-9T:.\\-Z]+\\)`,
      ),
    );
    assert.ok(!err.includes("    at "), "no stack trace");
    assert.ok(elapsed < 3000, `took ${elapsed} ms`);
    const done = await first.output();
    assert.equal(done.code, 0);
  },
});
