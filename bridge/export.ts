/**
 * Writes per-token advantages for a trainer: JSONL (one rollout per line) and the same rows as
 * parquet through DuckDB's `COPY … (FORMAT parquet)`. Both files are written under temporary
 * names and renamed into place, so a failure leaves no half-written file.
 *
 * @module
 */
import { DuckDBInstance } from "@duckdb/node-api";
import type { AdvantageRecord } from "./analysis.ts";

/** Writes `records` to `jsonlPath` and, when given, `parquetPath` (atomically each). */
export async function writeAdvantages(
  records: readonly AdvantageRecord[],
  jsonlPath: string,
  parquetPath?: string,
): Promise<void> {
  const tmp = `${jsonlPath}.tmp-${Deno.pid}`;
  const ptmp = `${parquetPath}.tmp-${Deno.pid}`;
  try {
    await write(records, tmp, parquetPath ? ptmp : undefined);
  } catch (e) {
    for (const f of [tmp, ptmp]) {
      try {
        Deno.removeSync(f);
      } catch { /* not written yet */ }
    }
    throw e;
  }
  if (parquetPath) Deno.renameSync(ptmp, parquetPath);
  Deno.renameSync(tmp, jsonlPath);
}

async function write(records: readonly AdvantageRecord[], tmp: string, ptmp?: string) {
  Deno.writeTextFileSync(tmp, records.map((r) => JSON.stringify(r)).join("\n") + "\n");
  if (ptmp) {
    const db = await DuckDBInstance.create(":memory:", { threads: "1" });
    const con = await db.connect();
    const lit = (s: string) => `'${s.replaceAll("'", "''")}'`;
    try {
      await con.run(
        `COPY (SELECT * FROM read_json(${lit(tmp)}, format = 'newline_delimited', columns = {` +
          `step: 'BIGINT', row: 'BIGINT', "group": 'BIGINT', estimator: 'VARCHAR', ` +
          `reward: 'DOUBLE', token_ids: 'BIGINT[]', advantages: 'DOUBLE[]', ` +
          `planning: 'TINYINT[]'}) ORDER BY step, row) TO ${lit(ptmp)} (FORMAT parquet)`,
      );
    } finally {
      con.closeSync();
      db.closeSync();
    }
  }
}
