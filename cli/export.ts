/**
 * `deno task export --format parquet|csv (--table T | --query SQL | --file Q.sql)
 * --out PATH [--results DIR]`: writes a table, view or query result of the
 * results database to a Parquet or CSV file (DuckDB `COPY`).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { UserError } from "../pipeline/errors.ts";
import { EXPORT_FORMATS, exportData, type ExportFormat } from "../pipeline/export.ts";
import { DB_FILE, duckdbMessage, isLockError, ResultsStore } from "../pipeline/store.ts";

/** Usage text of `export`. */
export const EXPORT_USAGE =
  `Usage: deno task export --format parquet|csv (--table T | --query SQL | --file Q.sql)
                        --out PATH [--results DIR]

Writes a table or view of DIR/${DB_FILE}, or the result of one query, to a
Parquet or CSV file (DuckDB COPY), e.g. for pandas.read_parquet or
polars.read_parquet. Tables and views: deno task sql --schema.

Options:
  --format parquet|csv  output format (CSV with a header row) [parquet]
  --table T             a table or view, e.g. metrics, metric_curves
  --query SQL           one SELECT statement
  --file Q.sql          a file holding one SELECT statement
  --out PATH            output file (its directory is created)
  --results DIR         results directory [results]
  -h, --help            this text

Exit codes: 0 written, 2 bad input (unknown table, SQL error, no database).`;

/** Entry point; returns the exit code. */
export async function exportMain(
  args: string[],
  print: (s: string) => void = console.log,
): Promise<number> {
  try {
    let parsed;
    try {
      parsed = parseArgs({
        args,
        options: {
          format: { type: "string", default: "parquet" },
          table: { type: "string" },
          query: { type: "string" },
          file: { type: "string" },
          out: { type: "string" },
          results: { type: "string", default: "results" },
          help: { type: "boolean", short: "h", default: false },
        },
      });
    } catch (e) {
      throw new UserError(`${(e as Error).message}\n\n${EXPORT_USAGE}`);
    }
    const v = parsed.values;
    if (v.help) {
      print(EXPORT_USAGE);
      return 0;
    }
    const format = v.format as ExportFormat;
    if (!EXPORT_FORMATS.includes(format)) {
      throw new UserError(`--format ${v.format}: expected ${EXPORT_FORMATS.join(" or ")}`);
    }
    const sources = [v.table, v.query, v.file].filter((s) => s !== undefined).length;
    if (sources !== 1) {
      throw new UserError(
        `pass exactly one of --table T, --query SQL and --file Q.sql (got ${sources})`,
      );
    }
    if (!v.out) throw new UserError("--out PATH is required (the file to write)");
    let query = v.query;
    if (v.file !== undefined) {
      try {
        query = await Deno.readTextFile(v.file);
      } catch (e) {
        throw new UserError(`--file ${v.file}: cannot read it (${duckdbMessage(e)})`);
      }
    }
    const store = await openStore(v.results!);
    try {
      const rows = await exportData(store, { format, table: v.table, query, out: v.out });
      print(`${v.out}: ${rows} row${rows === 1 ? "" : "s"} (${format})`);
    } finally {
      await store.close();
    }
    return 0;
  } catch (e) {
    if (e instanceof UserError) {
      console.error(`error: ${e.message}`);
      return e.exitCode;
    }
    throw e;
  }
}

/**
 * Opens the database read only; during a run, the run's live snapshot of its
 * committed results (said on stderr), as `sql` and `report` do.
 */
async function openStore(dir: string): Promise<ResultsStore> {
  try {
    const { store, snapshotAt } = await ResultsStore.openForReading(dir);
    if (snapshotAt) {
      console.error(
        `note: a run is writing ${join(dir, DB_FILE)}; exporting its committed results as of ${
          snapshotAt.toISOString().slice(11, 19)
        } UTC`,
      );
    }
    return store;
  } catch (e) {
    if (e instanceof UserError) throw e;
    if (isLockError(e)) {
      throw new UserError(
        `${join(dir, DB_FILE)} is being written by a running experiment; export when it finishes`,
      );
    }
    throw new UserError(duckdbMessage(e));
  }
}

if (import.meta.main) Deno.exit(await exportMain(Deno.args));
