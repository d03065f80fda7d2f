/**
 * `deno task runs [--results DIR] [--experiment NAME] [--tag T] [--csv]` lists
 * the runs of a results directory; `deno task runs compare A B …` shows the
 * config paths and final metrics that differ between runs, side by side.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { argsError, UserError } from "../pipeline/errors.ts";
import { compareRuns, listRuns, resolveRunIds, type RunComparison } from "../pipeline/runs.ts";
import { showValue } from "../pipeline/provenance.ts";
import { openStore } from "../pipeline/sql_cli.ts";
import { DB_FILE, duckdbMessage } from "../pipeline/store.ts";
import { formatCsv, formatTable } from "../pipeline/table_format.ts";
import type { Json } from "../pipeline/types.ts";

/** Usage text of `runs`. */
export const RUNS_USAGE =
  `Usage: deno task runs [--results DIR] [--experiment NAME] [--tag T] [--csv]
       deno task runs compare RUN RUN … [--results DIR] [--csv]

Lists the runs of DIR/${DB_FILE}, newest first: id, experiment, label, status,
first start, wall time and instances computed over all invocations of the run,
tags, and the primary metric (the experiment's compare: metric, when it has
one). A run is one sweep point of one config; rerunning it adds an invocation.

compare: the config paths whose values differ between the runs (from the full
resolved configs stored with them) and every final metric (the value at each
run's last step) that differs, with its change against the first run. RUN is a
run id or a unique prefix of one.

Options:
  --results DIR       results directory [results]
  --experiment NAME   only runs of experiment NAME
  --tag T             only runs tagged T (YAML tags:, run --tag)
  --csv               CSV instead of a table
  -h, --help          this text

Exit codes: 0 ok, 2 bad input (no results database, unknown run id).`;

/** Where `runsMain` writes (defaults to the console). */
export interface RunsIO {
  out(text: string): void;
  err(text: string): void;
}

const consoleIO: RunsIO = { out: (t) => console.log(t), err: (t) => console.error(t) };

/** Entry point of `runs`; returns the exit code. */
export async function runsMain(args: string[], io: RunsIO = consoleIO): Promise<number> {
  try {
    return await runsCommand(args, io);
  } catch (e) {
    if (e instanceof UserError) {
      io.err(`error: ${e.message}`);
      return 2;
    }
    throw e;
  }
}

async function runsCommand(args: string[], io: RunsIO): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        results: { type: "string", default: "results" },
        experiment: { type: "string" },
        tag: { type: "string" },
        csv: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (e) {
    throw argsError(e, RUNS_USAGE);
  }
  const v = parsed.values;
  if (v.help) {
    io.out(RUNS_USAGE);
    return 0;
  }
  const [command, ...ids] = parsed.positionals;
  if (command !== undefined && command !== "compare") {
    throw new UserError(`unknown command "${command}" (runs, runs compare A B …; see --help)`);
  }
  if (command === "compare" && ids.length < 2) {
    throw new UserError("runs compare needs at least two run ids (see deno task runs)");
  }
  const store = await openStore(v.results!, io);
  try {
    if (command === "compare") {
      const { ids: full, problems } = await resolveRunIds(store, ids);
      if (problems.length) throw new UserError(problems.join("; "));
      io.out(renderComparison(await compareRuns(store, full), v.csv!));
      return 0;
    }
    const runs = await listRuns(store, { experiment: v.experiment, tag: v.tag });
    const columns = [
      "run",
      "experiment",
      "label",
      "status",
      "started",
      "wall",
      "computed",
      "tags",
      "metric",
      "value",
    ];
    const rows: Json[][] = runs.map((r) => [
      r.runId,
      r.experiment,
      r.label,
      r.status,
      r.startedAt ? r.startedAt.slice(0, 19).replace("T", " ") : null,
      r.seconds === null ? null : v.csv ? r.seconds : duration(r.seconds),
      r.computed,
      r.tags.join(" "),
      r.metric,
      r.value,
    ]);
    io.out(
      v.csv ? formatCsv(columns, rows) : `${formatTable(columns, rows)}\n(${rows.length} runs)`,
    );
    return 0;
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(duckdbMessage(e));
  } finally {
    await store.close();
  }
}

/** `12.3s`, `4m05s`, `1h02m`. */
function duration(s: number): string {
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.round(s % 60)).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

function renderComparison(c: RunComparison, csv: boolean): string {
  const head = c.runs.map((r) => r.runId);
  const runRows: Json[][] = [
    ["experiment", ...c.runs.map((r) => r.experiment)],
    ["label", ...c.runs.map((r) => r.label)],
    ["status", ...c.runs.map((r) => r.status)],
  ];
  const paramRows: Json[][] = c.params.map((p) => [p.path, ...p.values.map(showValue)]);
  const metricRows: Json[][] = c.metrics.map((m) => [
    `${m.stage} ${m.name}`,
    ...m.values.map((v, i) =>
      v === null ? null : i === 0 ? fmt(v) : `${fmt(v)} (${signed(m.delta[i])})`
    ),
  ]);
  if (csv) {
    return formatCsv(["row", ...head], [
      ...runRows,
      ...paramRows.map(([p, ...rest]) => [`param ${p}`, ...rest]),
      ...c.metrics.map((m) => [`metric ${m.stage} ${m.name}`, ...m.values]),
    ]);
  }
  const parts = [formatTable(["run", ...head], runRows)];
  parts.push(
    paramRows.length
      ? formatTable(["param (differs)", ...head], paramRows)
      : "params: identical configs",
  );
  parts.push(
    metricRows.length
      ? formatTable([`final metric (Δ vs ${head[0]})`, ...head], metricRows)
      : "metrics: no final metric differs",
  );
  return parts.join("\n\n");
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toPrecision(4);
}

function signed(v: number | null): string {
  if (v === null) return "?";
  return `${v >= 0 ? "+" : ""}${fmt(v)}`;
}

if (import.meta.main) Deno.exit(await runsMain(Deno.args));
