/**
 * `deno task export --format parquet|csv (--table T | --query SQL | --file Q.sql)
 * --out PATH [--results DIR]`: writes a table, view or query result of the
 * results database to a Parquet or CSV file (DuckDB `COPY`).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { UserError } from "../pipeline/errors.ts";
import { EXPORT_FORMATS, exportData, type ExportFormat } from "../pipeline/export.ts";
import { DB_FILE, duckdbMessage } from "../pipeline/store.ts";
import { openStore } from "../pipeline/sql_cli.ts";

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
    const store = await openStore(v.results!, { out: print, err: (t) => console.error(t) });
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

if (import.meta.main) Deno.exit(await exportMain(Deno.args));
