/**
 * Export of a results table, view or query to Parquet or CSV with DuckDB's
 * `COPY (…) TO`, for pandas, polars, R or a spreadsheet.
 *
 * @module
 */
import { dirname, resolve } from "node:path";
import { UserError } from "./errors.ts";
import { duckdbMessage, type ResultsStore, sqlString } from "./store.ts";
import { didYouMean } from "./suggest.ts";

/** Export formats. */
export const EXPORT_FORMATS = ["parquet", "csv"] as const;
/** An export format. */
export type ExportFormat = typeof EXPORT_FORMATS[number];

/** What to export (exactly one of `table` and `query`) and where. */
export interface ExportSpec {
  format: ExportFormat;
  /** A table or view of the database. */
  table?: string;
  /** One SELECT (or other statement returning rows), without a trailing `;`. */
  query?: string;
  /** Output file; its directory is created if missing. */
  out: string;
}

/** Tables and views of the main schema. */
export async function relationNames(store: ResultsStore): Promise<string[]> {
  const r = await store.query(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1`,
  );
  return r.rows.map(([t]) => String(t));
}

/**
 * Writes the rows of `spec.table` or `spec.query` to `spec.out`; returns the
 * number of rows written.
 *
 * @throws UserError for an unknown table, a failing query or an unwritable path.
 */
export async function exportData(store: ResultsStore, spec: ExportSpec): Promise<number> {
  let select: string;
  if (spec.table !== undefined) {
    const names = await relationNames(store);
    if (!names.includes(spec.table)) {
      throw new UserError(
        `--table ${spec.table}: no such table or view${didYouMean(spec.table, names)} (tables: ${
          names.join(", ")
        }; see deno task sql --schema)`,
      );
    }
    select = `SELECT * FROM "${spec.table.replaceAll('"', '""')}"`;
  } else if (spec.query !== undefined) {
    select = spec.query.trim().replace(/;\s*$/, "");
    if (select === "") throw new UserError("the query is empty");
  } else throw new UserError("nothing to export: pass --table T, --query SQL or --file Q.sql");
  const out = resolve(spec.out);
  try {
    Deno.mkdirSync(dirname(out), { recursive: true });
  } catch (e) {
    throw new UserError(`--out ${spec.out}: cannot create its directory (${duckdbMessage(e)})`);
  }
  const options = spec.format === "parquet" ? "FORMAT parquet" : "FORMAT csv, HEADER true";
  try {
    const r = await store.query(`COPY (${select}) TO ${sqlString(out)} (${options})`);
    return Number(r.rows[0]?.[0] ?? 0);
  } catch (e) {
    throw new UserError(duckdbMessage(e));
  }
}
