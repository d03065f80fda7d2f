/**
 * Benchmark of the results store: bulk ingest of 1M metric rows through the
 * Appender, and a GROUP BY aggregate over them.
 *
 * Run alone: `deno run -A bench/store_bench.ts`.
 *
 * @module
 */
import { ResultsStore } from "../pipeline/store.ts";
import type { MetricRow } from "../pipeline/store.ts";
import type { BenchRow } from "./types.ts";

const ROWS = 1_000_000;

/** Measures metric ingest speed and aggregate time on a fresh temp database. */
export async function bench(): Promise<BenchRow[]> {
  const rows: MetricRow[] = new Array(ROWS);
  for (let i = 0; i < ROWS; i++) {
    rows[i] = {
      runId: `run${i % 20}`,
      step: Math.floor(i / 1000),
      stage: i % 2 ? "train" : "eval",
      name: `m${Math.floor(i / 20) % 5}`,
      value: Math.sin(i),
    };
  }
  const dir = await Deno.makeTempDir({ prefix: "store_bench" });
  const store = await ResultsStore.open(dir);
  try {
    const t0 = performance.now();
    await store.appendMetrics(rows);
    const ingestS = (performance.now() - t0) / 1000;
    const t1 = performance.now();
    const agg = await store.query(
      `SELECT run_id, name, count(*) AS n, avg(value) AS mean, min(value) AS lo,
         max(value) AS hi, arg_max(value, step) AS last
       FROM metrics GROUP BY run_id, name`,
    );
    const aggMs = performance.now() - t1;
    const note = `${Deno.build.os}/${Deno.build.arch}, ${navigator.hardwareConcurrency} CPUs`;
    return [
      {
        name: "DuckDB ingest of 1M metric rows",
        value: Math.round(ROWS / ingestS),
        unit: "rows/s",
        target: "≥ 500k rows/s",
        note: `appendMetrics, ${(ingestS * 1000).toFixed(0)} ms; ${note}`,
      },
      {
        name: "DuckDB GROUP BY over 1M metric rows",
        value: Math.round(aggMs * 10) / 10,
        unit: "ms",
        note: `${agg.rows.length} groups: count/avg/min/max/arg_max; ${note}`,
      },
    ];
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  for (const r of await bench()) {
    console.log(
      `${r.name}: ${r.value} ${r.unit}${r.target ? ` (target ${r.target})` : ""}${
        r.note ? ` — ${r.note}` : ""
      }`,
    );
  }
}
