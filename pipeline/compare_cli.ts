/**
 * `deno task compare FILE.yaml [--results DIR] [--csv] [--set PATH=V]`:
 * prints the paired comparison that the experiment's `compare:` block
 * declares, from an existing results directory opened read only (see
 * `compare.ts`; the `run` command prints the same table and writes the
 * `comparisons` table after every run).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { formatComparison, formatComparisonCsv, runComparison } from "./compare.ts";
import { ConfigError, loadExperimentFile } from "./config.ts";
import { UserError } from "./errors.ts";
import { DB_FILE, duckdbMessage, isLockError, lockHolderPid, ResultsStore } from "./store.ts";
import type { StageRegistry } from "./types.ts";

/** Usage text of `compare`. */
export const COMPARE_USAGE = `Usage: deno task compare FILE.yaml [options]

Prints the paired comparison declared by the experiment's compare: block (the
primary metric of every condition against the baseline, paired by seed: mean
difference with its 95% t CI, paired t and sign-flip p-values, bootstrap CI,
Holm-adjusted p and a verdict; secondary metrics descriptively) from the runs
already in DIR/${DB_FILE}. Read only: the run command writes the comparisons
table.

Options:
  --results DIR     results directory [results]
  --csv             print CSV (the comparisons table's columns) instead of tables
  --set PATH=V      the same --set arguments the runs were made with (repeatable),
                    so that the file's points match the runs
  -h, --help        this text

Exit codes: 0 printed, 2 bad input (missing file, no compare: block, no runs).`;

/** Where `compareCli` writes (defaults to the console). */
export interface CompareIO {
  out(text: string): void;
  err(text: string): void;
}

/** Options of {@linkcode compareCli}. */
export interface CompareCliOptions {
  /** The stage kinds the experiment file is validated against. */
  registry: StageRegistry;
  io?: CompareIO;
}

const consoleIO: CompareIO = {
  out: (t) => console.log(t),
  err: (t) => console.error(t),
};

/** Entry point of `compare`; returns the exit code (user errors: one `error:` line, 2). */
export async function compareCli(args: string[], opts: CompareCliOptions): Promise<number> {
  const io = opts.io ?? consoleIO;
  try {
    return await compareCommand(args, opts.registry, io);
  } catch (e) {
    if (e instanceof ConfigError) {
      io.err(e.message);
      io.err(
        `error: ${e.problems.length} problem${
          e.problems.length === 1 ? "" : "s"
        } in the experiment`,
      );
      return 2;
    }
    if (e instanceof UserError) {
      io.err(`error: ${e.message}`);
      return e.exitCode;
    }
    throw e;
  }
}

async function compareCommand(
  args: string[],
  registry: StageRegistry,
  io: CompareIO,
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        results: { type: "string", default: "results" },
        csv: { type: "boolean", default: false },
        set: { type: "string", multiple: true, default: [] },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (e) {
    throw new UserError(`${(e as Error).message}\n\n${COMPARE_USAGE}`);
  }
  const v = parsed.values;
  if (v.help) {
    io.out(COMPARE_USAGE);
    return 0;
  }
  if (parsed.positionals.length !== 1) {
    throw new UserError(
      `expected one experiment file, got ${parsed.positionals.length} (see --help)`,
    );
  }
  const file = parsed.positionals[0];
  const plan = await loadExperimentFile(file, registry, v.set);
  if (!plan.compare) {
    throw new UserError(
      `${file} has no compare: block; add one (metric, baseline, aggregate; see pipeline/config.ts)`,
    );
  }
  const dir = v.results!;
  const store = await openStore(dir);
  try {
    const report = await runComparison(store, {
      experiment: plan.base.name,
      spec: plan.compare,
      points: plan.points,
    });
    io.out(v.csv ? formatComparisonCsv(report) : formatComparison(report));
    return 0;
  } finally {
    await store.close();
  }
}

async function openStore(dir: string): Promise<ResultsStore> {
  try {
    return await ResultsStore.open(dir, { readOnly: true });
  } catch (e) {
    if (e instanceof UserError) throw e;
    if (isLockError(e)) {
      const pid = lockHolderPid(e);
      throw new UserError(
        `${join(dir, DB_FILE)} is being written by a running experiment${
          pid === null ? "" : ` (PID ${pid})`
        }; compare when the run finishes (it prints the comparison itself)`,
      );
    }
    throw new UserError(duckdbMessage(e));
  }
}
