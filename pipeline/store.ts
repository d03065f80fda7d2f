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
import { variantLabel } from "./provenance.ts";
import type { Json, JsonObject } from "./types.ts";
import type { TableDoc } from "./schema.ts";

/** File name of the results database inside a results directory. */
export const DB_FILE = "runs.duckdb";

/**
 * File name of the read snapshot a live writer publishes beside the database
 * (see `OpenOptions.live`): DuckDB lets one process open a file for writing
 * and no other process open it at all meanwhile, so readers open this copy.
 */
export const LIVE_FILE = "runs.duckdb.live";

/** Views over the fixed tables (see `STORE_DOCS`). */
const VIEWS = ["metric_curves", "final_metrics", "instance_times"];

/** Tables with a fixed schema and the views; row tables may not use these names. */
const FIXED_TABLES = ["runs", "metrics", "instances", "invocations", ...VIEWS];

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS runs (run_id VARCHAR PRIMARY KEY, experiment VARCHAR,
    label VARCHAR, params JSON, seed BIGINT, status VARCHAR, started_at TIMESTAMP,
    finished_at TIMESTAMP, error VARCHAR)`,
  // Provenance columns (added to databases written before they existed).
  `ALTER TABLE runs ADD COLUMN IF NOT EXISTS point_label VARCHAR`,
  `ALTER TABLE runs ADD COLUMN IF NOT EXISTS config JSON`,
  `ALTER TABLE runs ADD COLUMN IF NOT EXISTS config_hash VARCHAR`,
  `ALTER TABLE runs ADD COLUMN IF NOT EXISTS tags JSON`,
  `ALTER TABLE runs ADD COLUMN IF NOT EXISTS primary_metric JSON`,
  `CREATE TABLE IF NOT EXISTS invocations (invocation_id VARCHAR PRIMARY KEY, run_id VARCHAR,
    experiment VARCHAR, config_hash VARCHAR, started_at TIMESTAMP, finished_at TIMESTAMP,
    status VARCHAR, computed INTEGER, cached INTEGER, seconds DOUBLE, error VARCHAR)`,
  `CREATE TABLE IF NOT EXISTS metrics (run_id VARCHAR, step INTEGER, stage VARCHAR,
    name VARCHAR, value DOUBLE)`,
  `CREATE TABLE IF NOT EXISTS instances (run_id VARCHAR, stage VARCHAR, step INTEGER,
    kind VARCHAR, key VARCHAR, cached BOOLEAN, seconds DOUBLE)`,
  // Views for the common joins (described in STORE_DOCS).
  `CREATE OR REPLACE VIEW metric_curves AS SELECT r.experiment, r.label, r.seed, m.run_id,
    m.stage, m.step, m.name, m.value FROM metrics m JOIN runs r USING (run_id)`,
  `CREATE OR REPLACE VIEW final_metrics AS SELECT r.experiment, r.label, r.seed, m.run_id,
    m.stage, m.name, max(m.step) AS step, arg_max(m.value, coalesce(m.step, -1)) AS value
    FROM metrics m JOIN runs r USING (run_id) GROUP BY ALL`,
  `CREATE OR REPLACE VIEW instance_times AS SELECT r.experiment, r.label, i.run_id, i.stage,
    i.step, i.kind, i.cached, i.seconds FROM instances i JOIN runs r USING (run_id)`,
];

/**
 * What every table, column and view above means (`deno task sql --schema`,
 * `schema.ts`); keep it next to the DDL and in the same order. A test checks
 * it against a real database.
 */
export const STORE_DOCS: TableDoc[] = [
  doc("runs", "table", "one row per run: a sweep point of an experiment", [
    ["run_id", "VARCHAR", "stable id: 12 hex chars of the hash of the point's resolved config"],
    ["experiment", "VARCHAR", "the experiment file's name: value"],
    ["label", "VARCHAR", "point label, e.g. condition=hicra seed=3 (older configs get [..])"],
    ["params", "JSON", "the overrides that made this point (path → value)"],
    ["seed", "BIGINT", "the point seed"],
    ["status", "VARCHAR", "running | done | failed | pending"],
    ["started_at", "TIMESTAMP", "first start of the run (UTC)"],
    ["finished_at", "TIMESTAMP", "end of its latest execution (UTC)"],
    ["error", "VARCHAR", "why it failed, else NULL"],
    ["point_label", "VARCHAR", "the plain point label (label without a variant suffix)"],
    ["config", "JSON", "the full resolved config of the point"],
    ["config_hash", "VARCHAR", "hash of config (run_id is its first 12 characters)"],
    ["tags", "JSON", "list of tags (YAML tags:, run --tag)"],
    ["primary_metric", "JSON", "{stage, name} of the experiment's compare: metric, else NULL"],
  ]),
  doc("invocations", "table", "one row per execution of a run (a run command that ran it)", [
    ["invocation_id", "VARCHAR", "random id of the execution"],
    ["run_id", "VARCHAR", "the run (runs.run_id)"],
    ["experiment", "VARCHAR", "experiment name"],
    ["config_hash", "VARCHAR", "hash of the run's config at that time"],
    ["started_at", "TIMESTAMP", "start (UTC)"],
    ["finished_at", "TIMESTAMP", "end (UTC); NULL while running or if killed"],
    ["status", "VARCHAR", "the run's status at the end of this execution"],
    ["computed", "INTEGER", "instances computed by this execution"],
    ["cached", "INTEGER", "instances found in the cache"],
    ["seconds", "DOUBLE", "wall time of the execution"],
    ["error", "VARCHAR", "why it failed, else NULL"],
  ]),
  doc("metrics", "table", "every scalar a stage instance recorded, per run using it", [
    ["run_id", "VARCHAR", "the run (runs.run_id)"],
    ["step", "INTEGER", "loop step (0-based); NULL for top-level stages"],
    ["stage", "VARCHAR", "stage name in the experiment file"],
    ["name", "VARCHAR", "metric name, e.g. pass@1/id"],
    ["value", "DOUBLE", "the value"],
  ]),
  doc("instances", "table", "every stage instance a run used, computed or cached", [
    ["run_id", "VARCHAR", "the run (runs.run_id)"],
    ["stage", "VARCHAR", "stage name"],
    ["step", "INTEGER", "loop step; NULL for top-level stages"],
    ["kind", "VARCHAR", "stage kind"],
    ["key", "VARCHAR", "cache key (entry under cache/entries/KEY[0:2]/KEY)"],
    ["cached", "BOOLEAN", "true when the entry came from the cache"],
    ["seconds", "DOUBLE", "compute time (0 when cached)"],
  ]),
  doc("metric_curves", "view", "metrics with their run's experiment, label and seed", [
    ["experiment", "VARCHAR", "experiment name"],
    ["label", "VARCHAR", "run label"],
    ["seed", "BIGINT", "point seed"],
    ["run_id", "VARCHAR", "the run"],
    ["stage", "VARCHAR", "stage name"],
    ["step", "INTEGER", "loop step; NULL for top-level stages"],
    ["name", "VARCHAR", "metric name"],
    ["value", "DOUBLE", "the value"],
  ]),
  doc("final_metrics", "view", "each run's last recorded value of each stage's metrics", [
    ["experiment", "VARCHAR", "experiment name"],
    ["label", "VARCHAR", "run label"],
    ["seed", "BIGINT", "point seed"],
    ["run_id", "VARCHAR", "the run"],
    ["stage", "VARCHAR", "stage name"],
    ["name", "VARCHAR", "metric name"],
    ["step", "INTEGER", "the step the value is from (NULL: a top-level stage)"],
    ["value", "DOUBLE", "the value at that step"],
  ]),
  doc("instance_times", "view", "instances with their run's experiment and label", [
    ["experiment", "VARCHAR", "experiment name"],
    ["label", "VARCHAR", "run label"],
    ["run_id", "VARCHAR", "the run"],
    ["stage", "VARCHAR", "stage name"],
    ["step", "INTEGER", "loop step; NULL for top-level stages"],
    ["kind", "VARCHAR", "stage kind"],
    ["cached", "BOOLEAN", "true when it came from the cache"],
    ["seconds", "DOUBLE", "compute time (0 when cached)"],
  ]),
];

function doc(name: string, kind: TableDoc["kind"], text: string, cols: string[][]): TableDoc {
  return {
    name,
    kind,
    doc: text,
    columns: cols.map(([n, type, d]) => ({ name: n, type, doc: d })),
  };
}

/** A run record (one sweep point of one experiment). */
export interface RunRecord {
  /** Stable id: the first 12 hex characters of the resolved config's hash. */
  runId: string;
  /** The experiment's name. */
  experiment: string;
  /** The point label (sweep values and seed), e.g. `condition=hicra seed=1`. */
  label: string;
  /** The sweep and `--set` overrides that made the point. */
  params: JsonObject;
  /** The point seed. */
  seed: number;
  /** running, done, failed or pending. */
  status: string;
  /** When the run was first started (later starts are kept in `invocations`). */
  startedAt: Date;
  /** When it last finished. */
  finishedAt?: Date | null;
  /** Its root failure, if it failed. */
  error?: string | null;
  /**
   * The full resolved config of the point (see `runConfig` in `provenance.ts`). When
   * given, other runs of the same experiment and label with another config
   * are relabelled with what differs in them (see `upsertRun`).
   */
  config?: JsonObject | null;
  /** Hash of `config` (the run id is its first 12 characters). */
  configHash?: string | null;
  /** Free-form names (YAML `tags:`, `run --tag`). */
  tags?: string[];
}

/** One scalar metric value; `step` is null for stages outside the loop. */
export interface MetricRow {
  /** The run. */
  runId: string;
  /** Loop step, or null. */
  step: number | null;
  /** Stage name in the experiment file. */
  stage: string;
  /** Metric name, e.g. `pass@1/id`. */
  name: string;
  /** Its value. */
  value: number;
}

/** One stage instance of a run: whether it was a cache hit and how long it took. */
export interface InstanceRow {
  /** The run. */
  runId: string;
  /** Stage name in the experiment file. */
  stage: string;
  /** Loop step, or null. */
  step: number | null;
  /** Stage kind. */
  kind: string;
  /** Instance key (cache entry). */
  key: string;
  /** True for a cache hit. */
  cached: boolean;
  /** Seconds computing (0 for a hit). */
  seconds: number;
}

/** Values added in front of every row loaded into a row table. */
export interface RowExtra {
  /** The run. */
  run_id: string;
  /** Loop step, or null. */
  step: number | null;
  /** Stage name. */
  stage: string;
}

/** A query result with values converted to plain JSON. */
export interface QueryResult {
  /** Column names. */
  columns: string[];
  /** DuckDB type names, e.g. "BIGINT", "VARCHAR[]". */
  types: string[];
  /** Rows of plain JSON values, in column order. */
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
  /**
   * For writers: publish a read snapshot (`runs.duckdb.live`) of the committed
   * results after writes, at most every `liveEveryMs` (and at most every 20×
   * the time one snapshot takes), so that `sql` and `report` work during a
   * run. The snapshot is a checkpoint followed by a file copy made while this
   * store writes nothing, so it is a consistent database; it is removed on
   * close.
   */
  live?: boolean;
  /** Least interval between live snapshots (default 10,000 ms). */
  liveEveryMs?: number;
}

/** A store opened for reading, possibly on a running experiment's live snapshot. */
export interface ReadingStore {
  /** The open store (close it when done). */
  store: ResultsStore;
  /** When the live snapshot read was published; null when reading the database itself. */
  snapshotAt: Date | null;
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

  /** Live snapshot settings (writers with `live`), else null. */
  #live: { file: string; everyMs: number; last: number; cost: number } | null = null;

  private constructor(
    path: string,
    inst: SharedInstance,
    con: DuckDBConnection,
  ) {
    this.#path = path;
    this.#inst = inst;
    this.#con = con;
  }

  /**
   * Opens a results directory for reading. While a run holds the database
   * (DuckDB's lock), falls back to the run's live snapshot when it publishes
   * one (see `OpenOptions.live`); otherwise the lock error is passed through.
   */
  static async openForReading(dir: string): Promise<ReadingStore> {
    try {
      return { store: await ResultsStore.open(dir, { readOnly: true }), snapshotAt: null };
    } catch (e) {
      if (!isLockError(e)) throw e;
      const live = resolve(join(dir, LIVE_FILE));
      let info: Deno.FileInfo;
      try {
        info = await Deno.stat(live);
      } catch {
        throw e;
      }
      const store = await ResultsStore.#open(live, true);
      return { store, snapshotAt: info.mtime };
    }
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
    let store: ResultsStore;
    try {
      store = await ResultsStore.#open(path, readOnly);
    } catch (e) {
      if (readOnly || !opts.onCorrupt || !isCorruptDatabase(e)) throw e;
      const moved = await moveAsideCorrupt(dir);
      opts.onCorrupt(moved, duckdbMessage(e));
      store = await ResultsStore.#open(path, readOnly);
    }
    if (opts.live && !readOnly) {
      store.#live = {
        file: resolve(join(dir, LIVE_FILE)),
        everyMs: opts.liveEveryMs ?? 10_000,
        last: -Infinity,
        cost: 0,
      };
    }
    return store;
  }

  /**
   * Live writers: queues a snapshot when the last one is old enough. A failed
   * snapshot ends the snapshots of this store (readers keep the last one; a
   * partial copy is removed) and never fails a write: a failed checkpoint is
   * reported by the next `checkpoint()` instead, as its own error.
   */
  #afterWrite(): void {
    const live = this.#live;
    if (!live) return;
    const now = performance.now();
    if (now - live.last < Math.max(live.everyMs, 20 * live.cost)) return;
    live.last = now;
    const tmp = `${live.file}.tmp-${Deno.pid}`;
    this.#exclusive(async (con) => {
      const t0 = performance.now();
      // A snapshot needs room for a copy: near a full disk, stop publishing
      // rather than take the space the results need.
      const size = await fileSize(this.#path) + await fileSize(`${this.#path}.wal`);
      const free = await freeBytes(this.#path);
      if (free !== null && free < 2 * size + LIVE_MARGIN) {
        this.#live = null;
        return;
      }
      try {
        await con.run("CHECKPOINT");
      } catch (e) {
        this.#live = null;
        this.#checkpointError ??= e;
        return;
      }
      await copyInChild(this.#path, tmp);
      await Deno.rename(tmp, live.file);
      live.cost = performance.now() - t0;
    }).catch(async () => {
      this.#live = null;
      await Deno.remove(tmp).catch(() => {});
    });
  }

  /** A checkpoint failure of a live snapshot, reported by the next `checkpoint()`. */
  #checkpointError: unknown = null;

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

  /**
   * Inserts or updates the record of a run and opens an invocation record
   * (table `invocations`: one row per execution of the run, closed by
   * `setRunStatus`). `started_at` keeps the first start of the run.
   *
   * Labels: the record's label is the plain point label. Earlier runs of the
   * same experiment and point label whose config differs are relabelled
   * `LABEL [PATH=THEIR_VALUE …]` (see `variantLabel`), so the newest config of
   * a point holds the plain label and older ones stay distinguishable.
   */
  upsertRun(run: RunRecord): Promise<void> {
    return this.#write(async (con) => {
      await con.run(
        `INSERT INTO runs (run_id, experiment, label, params, seed, status, started_at,
           finished_at, error, point_label, config, config_hash, tags)
         VALUES ($1, $2, $3, $4::JSON, $5, $6, $7, $8, $9, $3, $10::JSON, $11, $12::JSON)
         ON CONFLICT (run_id) DO UPDATE SET experiment = excluded.experiment,
           label = excluded.label, point_label = excluded.point_label,
           params = excluded.params, seed = excluded.seed, status = excluded.status,
           finished_at = excluded.finished_at, error = excluded.error,
           config = coalesce(excluded.config, runs.config),
           config_hash = coalesce(excluded.config_hash, runs.config_hash),
           tags = excluded.tags`,
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
          run.config ? canonicalJson(run.config) : null,
          run.configHash ?? null,
          JSON.stringify(run.tags ?? []),
        ],
      );
      const invocation = crypto.randomUUID();
      this.#invocations.set(run.runId, invocation);
      await con.run(
        `INSERT INTO invocations VALUES ($1, $2, $3, $4, $5, NULL, $6, NULL, NULL, NULL, NULL)`,
        [
          invocation,
          run.runId,
          run.experiment,
          run.configHash ?? null,
          timestamp(run.startedAt),
          run.status,
        ],
      );
      if (run.config) await relabelVariants(con, run.runId, run.experiment, run.label, run.config);
    });
  }

  /** Invocation id per run id, for the runs this store opened an invocation of. */
  #invocations = new Map<string, string>();

  /**
   * Updates a run's status, finish time and error, and closes its open
   * invocation record with the instances computed and cached for the run
   * (counted from `instances`, which holds this invocation's rows) and the
   * wall time.
   */
  setRunStatus(
    runId: string,
    status: string,
    finishedAt: Date | null = null,
    error: string | null = null,
  ): Promise<void> {
    return this.#write(async (con) => {
      const end = finishedAt ? timestamp(finishedAt) : null;
      await con.run(
        `UPDATE runs SET status = $1, finished_at = $2, error = $3 WHERE run_id = $4`,
        [status, end, error, runId],
      );
      const invocation = this.#invocations.get(runId);
      if (!invocation) return;
      await con.run(
        `UPDATE invocations SET status = $1, finished_at = $2, error = $3,
           computed = (SELECT count(*) FILTER (WHERE NOT cached) FROM instances WHERE run_id = $4),
           cached = (SELECT count(*) FILTER (WHERE cached) FROM instances WHERE run_id = $4),
           seconds = (epoch_ms($2::TIMESTAMP) - epoch_ms(started_at)) / 1000.0
         WHERE invocation_id = $5`,
        [status, end, error, runId, invocation],
      );
    });
  }

  /**
   * Records the primary metric of runs (e.g. an experiment's `compare:`
   * metric: `{ stage, name, aggregate }`), shown by `deno task runs`.
   */
  setPrimaryMetric(runIds: readonly string[], metric: JsonObject | null): Promise<void> {
    if (runIds.length === 0) return Promise.resolve();
    return this.#write(async (con) => {
      await con.run(
        `UPDATE runs SET primary_metric = $1::JSON WHERE run_id IN (${
          runIds.map(sqlString).join(", ")
        })`,
        [metric ? canonicalJson(metric) : null],
      );
    });
  }

  /**
   * Deletes a run's rows from `metrics`, `instances` and every row table, so a
   * rerun re-ingests without duplicates. The `runs` record is kept. (No live
   * snapshot follows: one taken now would show the run without its rows.)
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
    return this.#write(async (con) => {
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
    return this.#write(async (con) => {
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
    return this.#write(async (con) => {
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
      const earlier = this.#checkpointError;
      this.#checkpointError = null;
      if (earlier) throw earlier;
      await con.run("CHECKPOINT");
    });
  }

  /** Closes the connection; the file is released when the last store on it closes. */
  close(): Promise<void> {
    const live = this.#live;
    return this.#exclusive(async (con) => {
      this.#con = null;
      try {
        con.closeSync();
      } finally {
        releaseInstance(this.#path, this.#inst);
      }
      // Readers open the database itself again once it is released.
      if (live) await Deno.remove(live.file).catch(() => {});
    });
  }

  /** A write: queued like any operation, then followed by a live snapshot when one is due. */
  #write<T>(fn: (con: DuckDBConnection) => Promise<T>): Promise<T> {
    const run = this.#exclusive(fn);
    this.#afterWrite();
    return run;
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

/** Free space a live snapshot leaves at least (besides room for the copy). */
const LIVE_MARGIN = 16 * 1024 * 1024;

async function fileSize(path: string): Promise<number> {
  try {
    return (await Deno.stat(path)).size;
  } catch {
    return 0;
  }
}

/** Bytes available on the file system of `path` (POSIX `df`), or null when unknown. */
async function freeBytes(path: string): Promise<number | null> {
  try {
    const out = await new Deno.Command("df", { args: ["-Pk", path], stderr: "null" }).output();
    const fields = new TextDecoder().decode(out.stdout).trim().split("\n").pop()!.split(/\s+/);
    const kib = Number(fields[3]);
    return out.success && Number.isFinite(kib) ? kib * 1024 : null;
  } catch {
    return null;
  }
}

/**
 * Copies a file in a child process (`cp`). DuckDB's file lock is a POSIX
 * record lock, which a process loses when it closes *any* descriptor of the
 * file: copying the open database in this process would drop the lock.
 */
async function copyInChild(from: string, to: string): Promise<void> {
  const out = await new Deno.Command("cp", { args: [from, to], stderr: "piped" }).output();
  if (!out.success) throw new Error(`cp failed: ${new TextDecoder().decode(out.stderr)}`);
}

/**
 * Relabels the other runs of `experiment` recorded under point label `label`
 * whose config differs from `config`: `LABEL [PATH=VALUE …]` with their values
 * where they differ (see `variantLabel` in `provenance.ts`).
 */
async function relabelVariants(
  con: DuckDBConnection,
  runId: string,
  experiment: string,
  label: string,
  config: JsonObject,
): Promise<void> {
  const r = await con.runAndReadAll(
    `SELECT run_id, config::VARCHAR FROM runs
     WHERE experiment = $1 AND point_label = $2 AND run_id <> $3 AND config IS NOT NULL`,
    [experiment, label, runId],
  );
  for (const [id, text] of r.getRowsJson() as [string, string][]) {
    const theirs = JSON.parse(text) as JsonObject;
    await con.run(`UPDATE runs SET label = $1 WHERE run_id = $2`, [
      variantLabel(label, theirs, config),
      id,
    ]);
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
