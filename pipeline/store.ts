/**
 * Results store: one DuckDB file per results directory (`runs.duckdb`) that
 * holds run records, scalar metrics, stage-instance timings and free-form row
 * tables, and answers SQL queries over them.
 *
 * Writes go through DuckDB's Appender or `read_json` bulk loads, never
 * row-by-row INSERTs. One writer process per file (see `lock.ts`); one shared
 * `DuckDBInstance` per file per process.
 *
 * Crash safety: DuckDB's write-ahead log keeps the file consistent if the
 * process dies (even `kill -9`); clearRun and row-table loads run in
 * transactions. Appends are not wrapped in one (that costs ~25% of ingest
 * speed), so a crash may leave part of the last batch. A run that was
 * interrupted keeps the status it had (`running`) until the next run of the
 * same sweep point rewrites its record and (after `clearRun`) re-ingests its
 * rows, which also drops any partial batch.
 *
 * @module
 */
import {
  arrayFromArrayValue,
  arrayFromListValue,
  type DuckDBConnection,
  DuckDBInstance,
  type DuckDBResultReader,
  DuckDBTimestampValue,
  type DuckDBType,
  DuckDBTypeId,
  type DuckDBValue,
  type DuckDBValueConverter,
  JsonDuckDBValueConverter,
  objectArrayFromMapValue,
  objectFromStructValue,
  ResultReturnType,
} from "@duckdb/node-api";
import { join, resolve } from "node:path";
import { canonicalJson } from "./hash.ts";
import { UserError } from "./errors.ts";
import type { Json, JsonObject } from "./types.ts";

/** File name of the results database inside a results directory. */
export const DB_FILE = "runs.duckdb";

/** Tables with a fixed schema; row tables may not use these names. */
const FIXED_TABLES = ["runs", "metrics", "instances"];

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS runs (run_id VARCHAR PRIMARY KEY, experiment VARCHAR,
    label VARCHAR, params JSON, seed BIGINT, status VARCHAR, started_at TIMESTAMP,
    finished_at TIMESTAMP, error VARCHAR)`,
  `CREATE TABLE IF NOT EXISTS metrics (run_id VARCHAR, step INTEGER, stage VARCHAR,
    name VARCHAR, value DOUBLE)`,
  `CREATE TABLE IF NOT EXISTS instances (run_id VARCHAR, stage VARCHAR, step INTEGER,
    kind VARCHAR, key VARCHAR, cached BOOLEAN, seconds DOUBLE)`,
];

/** A run record (one sweep point of one experiment). */
export interface RunRecord {
  runId: string;
  experiment: string;
  label: string;
  params: JsonObject;
  seed: number;
  status: string;
  startedAt: Date;
  finishedAt?: Date | null;
  error?: string | null;
}

/** One scalar metric value; `step` is null for stages outside the loop. */
export interface MetricRow {
  runId: string;
  step: number | null;
  stage: string;
  name: string;
  value: number;
}

/** One stage instance of a run: whether it was a cache hit and how long it took. */
export interface InstanceRow {
  runId: string;
  stage: string;
  step: number | null;
  kind: string;
  key: string;
  cached: boolean;
  seconds: number;
}

/** Values added in front of every row loaded into a row table. */
export interface RowExtra {
  run_id: string;
  step: number | null;
  stage: string;
}

/** A query result with values converted to plain JSON. */
export interface QueryResult {
  columns: string[];
  /** DuckDB type names, e.g. "BIGINT", "VARCHAR[]". */
  types: string[];
  rows: Json[][];
}

/** Options of `ResultsStore.open`. */
export interface OpenOptions {
  /** Open without write access (other read-only openers may share the file). */
  readOnly?: boolean;
  /**
   * For writers: when the file is corrupt, move it aside (see
   * {@linkcode moveAsideCorrupt}), start an empty one and call this with
   * where it went and why. Without it a corrupt file is an error.
   */
  onCorrupt?: (movedTo: string, reason: string) => void;
}

interface SharedInstance {
  instance: DuckDBInstance;
  readOnly: boolean;
  refs: number;
}

/** One DuckDB instance per database file per process, reference counted. */
const shared = new Map<string, Promise<SharedInstance>>();

/** Opens (or reuses) this process's instance for `path`. */
async function acquireInstance(
  path: string,
  readOnly: boolean,
): Promise<SharedInstance> {
  let entry = shared.get(path);
  if (!entry) {
    entry = DuckDBInstance.create(path, {
      access_mode: readOnly ? "READ_ONLY" : "READ_WRITE",
    }).then((instance) => ({ instance, readOnly, refs: 0 }));
    shared.set(path, entry);
    entry.catch(() => shared.delete(path));
  }
  const inst = await entry;
  if (inst.readOnly && !readOnly) {
    throw new Error(
      `${path} is already open read-only in this process; cannot open it for writing`,
    );
  }
  inst.refs++;
  return inst;
}

/** Drops one reference; closes the instance (and its file lock) at zero. */
function releaseInstance(path: string, inst: SharedInstance): void {
  inst.refs--;
  if (inst.refs === 0) {
    shared.delete(path);
    inst.instance.closeSync();
  }
}

/** The results database of one results directory. */
export class ResultsStore {
  readonly #path: string;
  readonly #inst: SharedInstance;
  #con: DuckDBConnection | null;
  /** Serializes operations on the connection (one statement at a time). */
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(
    path: string,
    inst: SharedInstance,
    con: DuckDBConnection,
  ) {
    this.#path = path;
    this.#inst = inst;
    this.#con = con;
  }

  /** Path of the database file. */
  get path(): string {
    return this.#path;
  }

  /**
   * Opens `<dir>/runs.duckdb`, creating it and its tables unless `readOnly`.
   * A missing file with `readOnly` is a `UserError`; DuckDB's lock errors are
   * passed through (see `isLockError`).
   */
  static async open(
    dir: string,
    opts: OpenOptions = {},
  ): Promise<ResultsStore> {
    const readOnly = opts.readOnly ?? false;
    const path = resolve(join(dir, DB_FILE));
    if (readOnly && !(await exists(path))) {
      throw new UserError(
        `no results database at ${join(dir, DB_FILE)}; run an experiment first`,
      );
    }
    if (!readOnly) await Deno.mkdir(dir, { recursive: true });
    try {
      return await ResultsStore.#open(path, readOnly);
    } catch (e) {
      if (readOnly || !opts.onCorrupt || !isCorruptDatabase(e)) throw e;
      const moved = await moveAsideCorrupt(dir);
      opts.onCorrupt(moved, duckdbMessage(e));
      return await ResultsStore.#open(path, readOnly);
    }
  }

  static async #open(path: string, readOnly: boolean): Promise<ResultsStore> {
    const inst = await acquireInstance(path, readOnly);
    let con: DuckDBConnection;
    try {
      con = await inst.instance.connect();
      if (!readOnly) { for (const sql of SCHEMA) await con.run(sql); }
    } catch (e) {
      try {
        releaseInstance(path, inst);
      } catch {
        // closing a broken database may fail too; the first error is the one to report
      }
      throw e;
    }
    return new ResultsStore(path, inst, con);
  }

  /** Inserts or replaces the record of a run. */
  upsertRun(run: RunRecord): Promise<void> {
    return this.#exclusive(async (con) => {
      await con.run(
        `INSERT OR REPLACE INTO runs VALUES ($1, $2, $3, $4::JSON, $5, $6, $7, $8, $9)`,
        [
          run.runId,
          run.experiment,
          run.label,
          canonicalJson(run.params),
          BigInt(run.seed),
          run.status,
          timestamp(run.startedAt),
          run.finishedAt ? timestamp(run.finishedAt) : null,
          run.error ?? null,
        ],
      );
    });
  }

  /** Updates a run's status, finish time and error. */
  setRunStatus(
    runId: string,
    status: string,
    finishedAt: Date | null = null,
    error: string | null = null,
  ): Promise<void> {
    return this.#exclusive(async (con) => {
      await con.run(
        `UPDATE runs SET status = $1, finished_at = $2, error = $3 WHERE run_id = $4`,
        [status, finishedAt ? timestamp(finishedAt) : null, error, runId],
      );
    });
  }

  /**
   * Deletes a run's rows from `metrics`, `instances` and every row table, so a
   * rerun re-ingests without duplicates. The `runs` record is kept.
   */
  clearRun(runId: string): Promise<void> {
    return this.#exclusive(async (con) => {
      const tables = await rowTables(con);
      await inTransaction(con, async () => {
        for (const t of ["metrics", "instances", ...tables]) {
          await con.run(`DELETE FROM ${ident(t)} WHERE run_id = $1`, [runId]);
        }
      });
    });
  }

  /** Appends metric rows in bulk (DuckDB Appender). */
  appendMetrics(rows: MetricRow[]): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    return this.#exclusive(async (con) => {
      const app = await con.createAppender("metrics");
      try {
        for (const r of rows) {
          app.appendVarchar(r.runId);
          if (r.step === null) app.appendNull();
          else app.appendInteger(r.step);
          app.appendVarchar(r.stage);
          app.appendVarchar(r.name);
          app.appendDouble(r.value);
          app.endRow();
        }
        app.flushSync();
      } finally {
        app.closeSync();
      }
    });
  }

  /** Appends stage-instance rows in bulk (DuckDB Appender). */
  appendInstances(rows: InstanceRow[]): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    return this.#exclusive(async (con) => {
      const app = await con.createAppender("instances");
      try {
        for (const r of rows) {
          app.appendVarchar(r.runId);
          app.appendVarchar(r.stage);
          if (r.step === null) app.appendNull();
          else app.appendInteger(r.step);
          app.appendVarchar(r.kind);
          app.appendVarchar(r.key);
          app.appendBoolean(r.cached);
          app.appendDouble(r.seconds);
          app.endRow();
        }
        app.flushSync();
      } finally {
        app.closeSync();
      }
    });
  }

  /**
   * Loads a newline-delimited JSON file into row table `table`, prefixing each
   * row with `extra` (run_id, step, stage; these win over same-named columns
   * of the file). Creates the table from the file's inferred schema on first
   * use; adds columns that later files bring and widens a column whose type no
   * longer fits (e.g. BIGINT → DOUBLE). Returns the number of rows inserted.
   */
  appendRowsFromJsonl(
    table: string,
    file: string,
    extra: RowExtra,
  ): Promise<number> {
    return this.appendRowFiles(table, [{ file, extra }]);
  }

  /**
   * Loads many newline-delimited JSON files into row table `table` in one
   * statement (one `read_json` over all files, joined to each file's extra
   * columns; a file listed for several runs is loaded once per run). Same
   * schema rules as {@link appendRowsFromJsonl}. Returns the rows inserted.
   */
  appendRowFiles(
    table: string,
    items: { file: string; extra: RowExtra }[],
  ): Promise<number> {
    return this.#exclusive(async (con) => {
      checkRowTableName(table);
      const nonEmpty: typeof items = [];
      for (const it of items) if ((await Deno.stat(it.file)).size > 0) nonEmpty.push(it);
      if (nonEmpty.length === 0) return 0;
      const files = [...new Set(nonEmpty.map((it) => it.file))];
      const src = `read_json([${
        files.map(sqlString).join(", ")
      }], format='newline_delimited', sample_size=-1, union_by_name=true, filename=true)`;
      const described = await con.runAndReadAll(`DESCRIBE SELECT * FROM ${src}`);
      const fileCols = (described.getRowsJson() as string[][])
        .map(([name, type]) => ({ name, type }))
        .filter((c) => !EXTRA_COLUMNS.includes(c.name) && c.name !== "filename");
      const mapping = nonEmpty.map(({ file, extra }, i) =>
        `(${i}, ${sqlString(file)}, ${sqlString(extra.run_id)}, ${
          extra.step === null ? "NULL" : String(Math.trunc(extra.step))
        }, ${sqlString(extra.stage)})`
      ).join(", ");
      const extraSql =
        "m.run_id::VARCHAR AS run_id, m.step::INTEGER AS step, m.stage::VARCHAR AS stage";
      const cols = fileCols.map((c) => `j.${ident(c.name)}`).join(", ");
      // Rows keep file order, then line order (row_number over the scan).
      const select = `SELECT ${extraSql}${
        cols ? `, ${cols}` : ""
      } FROM (SELECT *, row_number() OVER () AS __line FROM ${src}) j JOIN (VALUES ${mapping}) m(i, filename, run_id, step, stage) ON j.filename = m.filename ORDER BY m.i, j.__line`;
      return await inTransaction(con, async () => {
        const existing = await tableColumns(con, table);
        if (existing.size === 0) {
          await con.run(`CREATE TABLE ${ident(table)} AS ${select}`);
          const n = await con.runAndReadAll(
            `SELECT count(*)::INTEGER FROM ${ident(table)}`,
          );
          return Number(n.getRowsJson()[0][0]);
        }
        for (const c of fileCols) {
          const had = existing.get(c.name);
          if (had === undefined) {
            await con.run(
              `ALTER TABLE ${ident(table)} ADD COLUMN ${ident(c.name)} ${c.type}`,
            );
          } else if (had !== c.type) {
            const wide = await supertype(con, had, c.type, table, c.name);
            if (wide !== had) {
              await con.run(
                `ALTER TABLE ${ident(table)} ALTER COLUMN ${ident(c.name)} SET DATA TYPE ${wide}`,
              );
            }
          }
        }
        const res = await con.run(`INSERT INTO ${ident(table)} BY NAME ${select}`);
        return res.rowsChanged;
      });
    });
  }

  /** Runs one SQL statement; values come back as plain JSON. */
  query(sql: string): Promise<QueryResult> {
    return this.#exclusive(async (con) => toQueryResult(await con.runAndReadAll(sql)));
  }

  /**
   * Runs a script of `;`-separated statements (split by DuckDB's parser) in
   * order and returns the results of those that produce a result set.
   */
  queryScript(sql: string): Promise<QueryResult[]> {
    return this.#exclusive(async (con) => {
      const extracted = await con.extractStatements(sql);
      const out: QueryResult[] = [];
      for (let i = 0; i < extracted.count; i++) {
        const stmt = await extracted.prepare(i);
        const reader = await stmt.runAndReadAll();
        if (reader.returnType === ResultReturnType.QUERY_RESULT) {
          out.push(toQueryResult(reader));
        }
      }
      return out;
    });
  }

  /**
   * Writes the write-ahead log into the database file now, so that a failure
   * (e.g. a full disk) is reported instead of being swallowed by `close`.
   */
  checkpoint(): Promise<void> {
    return this.#exclusive(async (con) => {
      await con.run("CHECKPOINT");
    });
  }

  /** Closes the connection; the file is released when the last store on it closes. */
  close(): Promise<void> {
    return this.#exclusive((con) => {
      this.#con = null;
      try {
        con.closeSync();
      } finally {
        releaseInstance(this.#path, this.#inst);
      }
      return Promise.resolve();
    });
  }

  #exclusive<T>(fn: (con: DuckDBConnection) => Promise<T>): Promise<T> {
    const run = this.#queue.then(() => {
      if (!this.#con) throw new Error(`results store ${this.#path} is closed`);
      return fn(this.#con);
    });
    this.#queue = run.catch(() => {});
    return run;
  }
}

/**
 * True when `e` is DuckDB saying the database file is damaged (bad checksum,
 * not a DuckDB file, truncated, an unreadable write-ahead log).
 */
export function isCorruptDatabase(e: unknown): boolean {
  return e instanceof Error &&
    /Corrupt database file|not a valid DuckDB database file|Could not read enough bytes from file|replaying WAL/i
      .test(e.message);
}

/**
 * Moves `<dir>/runs.duckdb` (and its write-ahead log) aside to
 * `runs.duckdb.corrupt-<timestamp>` for inspection; returns the new path.
 * The results are rebuilt from the cache by the runs that follow.
 */
export async function moveAsideCorrupt(dir: string): Promise<string> {
  const path = join(dir, DB_FILE);
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const dest = `${path}.corrupt-${stamp}`;
  await Deno.rename(path, dest);
  await Deno.rename(`${path}.wal`, `${dest}.wal`).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
  return dest;
}

/** True when `e` is DuckDB's "file is locked by another process" error. */
export function isLockError(e: unknown): boolean {
  return e instanceof Error && /Could not set lock on file/.test(e.message);
}

/** PID named in a DuckDB lock error, or null. */
export function lockHolderPid(e: unknown): number | null {
  const m = e instanceof Error ? /\(PID (\d+)\)/.exec(e.message) : null;
  return m ? Number(m[1]) : null;
}

/**
 * Shortens a DuckDB error message to one line: the message proper, without
 * the `LINE n:` excerpt and caret.
 */
export function duckdbMessage(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  const main = text.split(/\n\s*\nLINE \d+:/)[0]
    .replace(/^Failed to extract statements: /, "");
  return main.split("\n").map((l) => l.trim()).filter((l) => l).join(" ");
}

const EXTRA_COLUMNS = ["run_id", "step", "stage"];
const TABLE_NAME = /^[a-z_][a-z0-9_]*$/;

function checkRowTableName(table: string): void {
  if (!TABLE_NAME.test(table)) {
    throw new UserError(
      `invalid row table name "${table}": use lowercase letters, digits and _ (not starting with a digit)`,
    );
  }
  if (FIXED_TABLES.includes(table)) {
    throw new UserError(
      `row table name "${table}" is reserved (the store's own tables are ${
        FIXED_TABLES.join(", ")
      })`,
    );
  }
}

/** Names of row tables: every main-schema table with a run_id column, except the fixed ones. */
async function rowTables(con: DuckDBConnection): Promise<string[]> {
  const r = await con.runAndReadAll(
    `SELECT DISTINCT table_name FROM information_schema.columns
     WHERE table_schema = 'main' AND column_name = 'run_id' ORDER BY 1`,
  );
  return (r.getRowsJson() as string[][]).map(([t]) => t).filter((t) => !FIXED_TABLES.includes(t));
}

/** Column name → type of a main-schema table (empty when it does not exist). */
async function tableColumns(
  con: DuckDBConnection,
  table: string,
): Promise<Map<string, string>> {
  const r = await con.runAndReadAll(
    `SELECT column_name, data_type FROM information_schema.columns
     WHERE table_schema = 'main' AND table_name = $1 ORDER BY ordinal_position`,
    [table],
  );
  return new Map(r.getRowsJson() as [string, string][]);
}

/** The type both `a` and `b` cast to implicitly; VARCHAR for mixed scalars. */
async function supertype(
  con: DuckDBConnection,
  a: string,
  b: string,
  table: string,
  column: string,
): Promise<string> {
  try {
    const r = await con.runAndReadAll(
      `SELECT typeof(CASE WHEN false THEN NULL::${a} ELSE NULL::${b} END)`,
    );
    return String(r.getRowsJson()[0][0]);
  } catch {
    const nested = /[[\]()]/;
    if (!nested.test(a) && !nested.test(b)) return "VARCHAR";
    throw new UserError(
      `row table ${table}: column ${column} has type ${a} but new rows bring ${b}`,
    );
  }
}

async function inTransaction<T>(
  con: DuckDBConnection,
  fn: () => Promise<T>,
): Promise<T> {
  await con.run("BEGIN TRANSACTION");
  try {
    const out = await fn();
    await con.run("COMMIT");
    return out;
  } catch (e) {
    await con.run("ROLLBACK").catch(() => {});
    throw e;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

function timestamp(d: Date): DuckDBTimestampValue {
  return new DuckDBTimestampValue(BigInt(d.getTime()) * 1000n);
}

/** A SQL string literal (quotes doubled). */
export function sqlString(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

/** A quoted SQL identifier. */
function ident(s: string): string {
  return `"${s.replaceAll('"', '""')}"`;
}

function toQueryResult(reader: DuckDBResultReader): QueryResult {
  const types = reader.columnTypes().map((t) => t.alias ?? t.toString());
  const rows = reader.convertRows(jsonConverter) as Json[][];
  // JSON columns (a VARCHAR alias, not visible to the converter): parse them.
  types.forEach((t, i) => {
    if (t !== "JSON") return;
    for (const row of rows) {
      if (typeof row[i] === "string") row[i] = parseJson(row[i]);
    }
  });
  return { columns: reader.columnNames(), types, rows };
}

function parseJson(text: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch {
    return text;
  }
}

/** Integers as numbers when exactly representable, else as strings. */
function integerJson(value: DuckDBValue): Json {
  const n = typeof value === "bigint" ? value : BigInt(String(value));
  return n >= BigInt(Number.MIN_SAFE_INTEGER) &&
      n <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(n)
    : n.toString();
}

/** Timestamps as ISO-8601 strings (UTC); infinities and out-of-range as DuckDB text. */
function timestampJson(value: DuckDBValue, type: DuckDBType): Json {
  const v = value as {
    micros?: bigint;
    nanos?: bigint;
    millis?: bigint;
    seconds?: bigint;
  };
  let ms: bigint | null = null;
  if (typeof v.micros === "bigint") ms = v.micros / 1000n;
  else if (typeof v.nanos === "bigint") ms = v.nanos / 1000000n;
  else if (typeof v.millis === "bigint") ms = v.millis;
  else if (typeof v.seconds === "bigint") ms = v.seconds * 1000n;
  if (ms !== null && ms >= -8640000000000000n && ms <= 8640000000000000n) {
    return new Date(Number(ms)).toISOString();
  }
  return JsonDuckDBValueConverter(value, type, JsonDuckDBValueConverter);
}

/** DuckDB value → plain JSON (see `ResultsStore.query`). */
const jsonConverter: DuckDBValueConverter<Json> = (value, type, conv) => {
  if (value === null || value === undefined) return null;
  switch (type.typeId) {
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.UBIGINT:
    case DuckDBTypeId.HUGEINT:
    case DuckDBTypeId.UHUGEINT:
    case DuckDBTypeId.BIGNUM:
      return integerJson(value);
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_S:
    case DuckDBTypeId.TIMESTAMP_MS:
    case DuckDBTypeId.TIMESTAMP_NS:
    case DuckDBTypeId.TIMESTAMP_TZ:
      return timestampJson(value, type);
    case DuckDBTypeId.DECIMAL:
      return Number(String(value));
    case DuckDBTypeId.VARCHAR:
      return type.alias === "JSON" ? parseJson(String(value)) : String(value);
    case DuckDBTypeId.LIST:
      return arrayFromListValue(value, type, conv);
    case DuckDBTypeId.ARRAY:
      return arrayFromArrayValue(value, type, conv);
    case DuckDBTypeId.STRUCT:
      return objectFromStructValue(value, type, conv);
    case DuckDBTypeId.MAP:
      return objectArrayFromMapValue(value, type, conv);
    default:
      return JsonDuckDBValueConverter(value, type, JsonDuckDBValueConverter);
  }
};
