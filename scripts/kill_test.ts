/**
 * Soak test of crash safety (`deno task soak`): runs an experiment once
 * uninterrupted, then again in a fresh results directory killed with SIGKILL
 * at N seeded random moments in a row (each restart resumes the last), then
 * to the end; checks that
 *
 * - no instance that had completed is lost or recomputed by a later restart
 *   (its cache entry keeps its creation time),
 * - no temp or lock file blocks a restart (each starts without `--wait`),
 * - the final cache entries (keys and output hashes) and the DuckDB tables
 *   (runs, metrics, and every row table: rollouts, tokens, …) equal the
 *   uninterrupted run's,
 *
 * and prints the figures. Exit code 0 when every check holds.
 *
 * ```sh
 * deno task soak                                   # smoke sweep, 20 kills
 * deno task soak experiments/hicra.yaml --kills 20 --max-ms 60000 --no-finish
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Cache, type Manifest } from "../pipeline/cache.ts";
import { sha256Hex } from "../pipeline/hash.ts";
import { ResultsStore } from "../pipeline/store.ts";

const USAGE = `Usage: deno task soak [FILE.yaml] [options]

Kills \`run FILE\` with SIGKILL at seeded random moments, restarts it, and
checks that the final results equal an uninterrupted run's.

Options:
  --kills N       kills in a row [20]
  --seed S        seed of the kill moments [1]
  --min-ms MS     shortest time before a kill [300]
  --max-ms MS     longest time before a kill [the reference run's duration / 4]
  --work DIR      where the results directories go [a new temp directory]
  --no-finish     compare only the instances both runs completed (for a long
                  experiment, e.g. the main job's first minute)
  -h, --help      this text`;

const RUN = new URL("../cli/run.ts", import.meta.url).pathname;

/** A small seeded PRNG (mulberry32). */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function spawn(file: string, dir: string) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", RUN, file, "--results", dir, "--quiet"],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Valid cache entries by key. */
function entries(dir: string): Map<string, Manifest> {
  const out = new Map<string, Manifest>();
  const cache = new Cache(`${dir}/cache`);
  for (const m of cache.manifests()) {
    if (cache.lookup(m.key, false).status === "hit") out.set(m.key, m);
  }
  return out;
}

function count(dir: string, sub: string): number {
  try {
    return [...Deno.readDirSync(`${dir}/${sub}`)].length;
  } catch {
    return 0;
  }
}

/** Per table: row count and a hash of its rows in a stable order (timing columns left out). */
async function tables(dir: string): Promise<Record<string, string>> {
  const store = await ResultsStore.open(dir, { readOnly: true });
  try {
    const names = (await store.query(
      `select table_name from information_schema.tables where table_schema = 'main' order by 1`,
    )).rows.map((r) => String(r[0]));
    const out: Record<string, string> = {};
    // Wall-clock columns differ between any two runs.
    const skip = new Set(["started_at", "finished_at", "seconds", "cached", "created_at", "error"]);
    for (const name of names) {
      // Timings and hit flags only (keys are compared below); one row per start of a run.
      if (name === "instances" || name === "invocations") continue;
      const cols = (await store.query(`select * from "${name}" limit 0`)).columns
        .filter((c) => !skip.has(c));
      if (cols.length === 0) continue;
      const list = cols.map((c) => `"${c}"`).join(", ");
      const rows = (await store.query(`select ${list} from "${name}" order by all`)).rows;
      out[name] = `${rows.length} rows, ${sha256Hex(JSON.stringify(rows)).slice(0, 12)}`;
    }
    return out;
  } finally {
    await store.close();
  }
}

async function main(): Promise<number> {
  const { values: v, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      kills: { type: "string", default: "20" },
      seed: { type: "string", default: "1" },
      "min-ms": { type: "string", default: "300" },
      "max-ms": { type: "string" },
      work: { type: "string" },
      "no-finish": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (v.help) {
    console.log(USAGE);
    return 0;
  }
  const file = positionals[0] ?? "experiments/smoke.yaml";
  const kills = Number(v.kills);
  const seed = Number(v.seed);
  const work = v.work ?? Deno.makeTempDirSync({ prefix: "soak-" });
  const finish = !v["no-finish"];
  const rand = prng(seed);

  // 1. The uninterrupted reference.
  const ref = `${work}/reference`;
  let t0 = performance.now();
  let refSeconds = NaN;
  let refEntries = new Map<string, Manifest>();
  if (finish) {
    const out = await spawn(file, ref).output();
    refSeconds = (performance.now() - t0) / 1000;
    if (out.code !== 0) {
      console.error(new TextDecoder().decode(out.stderr));
      return 1;
    }
    refEntries = entries(ref);
    console.log(`reference: ${refEntries.size} instances in ${refSeconds.toFixed(1)} s`);
  }
  const maxMs = Number(v["max-ms"] ?? Math.max(1000, (refSeconds * 1000) / 4));
  const minMs = Number(v["min-ms"]);

  // 2. Kills in a row.
  const dir = `${work}/killed`;
  const problems: string[] = [];
  let landed = 0;
  let wasted = 0;
  t0 = performance.now();
  for (let i = 0; i < kills; i++) {
    const before = entries(dir);
    // Every fifth kill comes right after start-up: two kills back to back.
    const delay = i % 5 === 4 ? minMs / 2 + rand() * minMs : minMs + rand() * (maxMs - minMs);
    const child = spawn(file, dir);
    await new Promise((r) => setTimeout(r, delay));
    let finished = false;
    try {
      child.kill("SIGKILL");
    } catch {
      finished = true;
    }
    const out = await child.output();
    if (out.code !== 0 && out.signal === null) {
      problems.push(
        `kill ${i}: the restart failed: ${new TextDecoder().decode(out.stderr).trim()}`,
      );
    }
    const after = entries(dir);
    for (const [key, m] of before) {
      const now = after.get(key);
      if (!now) problems.push(`kill ${i}: entry ${m.stage}@${m.step} was lost`);
      else if (now.createdAt !== m.createdAt && !m.pruned) {
        problems.push(`kill ${i}: ${m.stage}@${m.step} was recomputed`);
        wasted++;
      }
    }
    if (!finished && out.signal !== null) landed++;
    console.log(
      `kill ${String(i + 1).padStart(2)} after ${(delay / 1000).toFixed(2).padStart(5)} s: ${
        finished || out.signal === null ? "had finished" : "killed"
      }, ${after.size - before.size} new instance(s), ${after.size} cached, ${
        count(dir, "cache/tmp")
      } temp dir(s) left`,
    );
  }
  const killSeconds = (performance.now() - t0) / 1000;

  // 3. The final rerun.
  const last = finish ? await spawn(file, dir).output() : null;
  if (last && last.code !== 0) {
    problems.push(`final rerun failed: ${new TextDecoder().decode(last.stderr).trim()}`);
  }
  const final = entries(dir);
  if (finish) {
    for (const [key, m] of refEntries) {
      const got = final.get(key);
      if (!got) problems.push(`missing ${m.stage}@${m.step}`);
      else if (got.outputHash !== m.outputHash) problems.push(`${m.stage}@${m.step} differs`);
    }
    if (final.size !== refEntries.size) {
      problems.push(`${final.size} entries, reference ${refEntries.size}`);
    }
    const [a, b] = [await tables(ref), await tables(dir)];
    for (const name of new Set([...Object.keys(a), ...Object.keys(b)])) {
      const same = a[name] === b[name];
      console.log(`table ${name}: ${b[name]}${same ? " (identical)" : ` ≠ reference ${a[name]}`}`);
      if (!same) problems.push(`table ${name} differs`);
    }
    if (count(dir, "cache/tmp") > 0) problems.push("temp directories left after the final run");
    if (count(dir, "cache/corrupt") > 0) problems.push("corrupt entries after kills");
  }
  console.log(
    `\n${kills} kills (${landed} mid-run) over ${
      killSeconds.toFixed(1)
    } s; ${wasted} completed instance(s) recomputed; ${
      count(dir, "cache/corrupt")
    } corrupt entr(ies); final: ${final.size} instances${
      finish ? ` = reference ${refEntries.size}` : ""
    }`,
  );
  if (problems.length) {
    console.log(`FAILED (seed ${seed}):\n  ${problems.join("\n  ")}`);
    return 1;
  }
  console.log(`ok (seed ${seed}; work directory ${work})`);
  return 0;
}

if (import.meta.main) Deno.exit(await main());
