/**
 * `deno task bench [--only NAME,...]`: runs every bench module and prints one
 * table (name, value, unit, target, note) plus the machine it ran on.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { formatTable } from "../pipeline/table_format.ts";
import type { BenchRow } from "./types.ts";

const MODULES: Record<string, () => Promise<{ bench: () => Promise<BenchRow[]> }>> = {
  engine: () => import("./engine_bench.ts"),
  store: () => import("./store_bench.ts"),
  policy: () => import("./policy_bench.ts"),
  // Needs PostgreSQL and S3 (started by itself) and takes minutes: runs only with BENCH_SCALEOUT=1.
  scaleout: () => import("./scaleout_bench.ts"),
};

const USAGE = `Usage: deno task bench [--only ${Object.keys(MODULES).join(",")}]

Runs the benchmarks and prints a table. Numbers depend on the machine: the
header names it. Targets come from the project's issues.`;

function machine(): string {
  let cpu = "unknown CPU";
  try {
    const info = Deno.readTextFileSync("/proc/cpuinfo");
    cpu = info.match(/model name\s*:\s*(.*)/)?.[1] ?? cpu;
  } catch {
    // Not Linux.
  }
  return `${cpu}, ${navigator.hardwareConcurrency} cores, Deno ${Deno.version.deno}`;
}

function fmtValue(v: number): string {
  if (Number.isNaN(v)) return "unmeasured"; // e.g. a GPU row without a GPU
  if (v >= 1000) return Math.round(v).toLocaleString("en-US");
  return v.toPrecision(3);
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { only: { type: "string" }, help: { type: "boolean", short: "h" } },
  });
  if (values.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  const names = values.only ? values.only.split(",") : Object.keys(MODULES);
  for (const n of names) {
    if (!MODULES[n]) {
      console.error(`error: unknown bench "${n}" (known: ${Object.keys(MODULES).join(", ")})`);
      Deno.exit(2);
    }
  }
  console.log(`machine: ${machine()}`);
  const rows: BenchRow[] = [];
  for (const n of names) {
    console.error(`running ${n} bench …`);
    rows.push(...await (await MODULES[n]()).bench());
  }
  console.log(formatTable(
    ["bench", "value", "unit", "target", "note"],
    rows.map((r) => [r.name, fmtValue(r.value), r.unit, r.target ?? "", r.note ?? ""]),
  ));
}
