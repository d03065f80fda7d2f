/**
 * `deno task sql [--results DIR] [--csv|--json] (FILE.sql | "QUERY")`: runs SQL
 * against a results database (read only) and prints each result set.
 *
 * @module
 */
import { UserError } from "./errors.ts";
import { formatCsv, formatJson, formatTable } from "./table_format.ts";
import {
  DB_FILE,
  duckdbMessage,
  isLockError,
  lockHolderPid,
  type QueryResult,
  ResultsStore,
} from "./store.ts";
import { join } from "node:path";
import { describeSchema, type TableDoc } from "./schema.ts";

/** Where `sqlMain` writes (defaults to the console). */
export interface SqlIO {
  out(text: string): void;
  err(text: string): void;
}

type Format = "table" | "csv" | "json";

interface SqlArgs {
  results: string;
  format: Format;
  /** `--schema`: describe the tables instead of running SQL. */
  schema?: boolean;
  /** A .sql file path or a query text. */
  source: string;
}

const USAGE = `usage: deno task sql [--results DIR] [--csv|--json] (FILE.sql | "QUERY")
       deno task sql [--results DIR] --schema

Runs SQL against DIR/${DB_FILE} (read only) and prints every result set.
A FILE.sql may hold several statements separated by ';'.

  --results DIR  results directory (default: results)
  --schema       print every table, view and column with its meaning
                 (and whatever else DIR/${DB_FILE} holds), then exit
  --csv          print CSV instead of a table
  --json         print a JSON array of row objects
  -h, --help     show this help`;

const consoleIO: SqlIO = {
  out: (t) => console.log(t),
  err: (t) => console.error(t),
};

/**
 * Runs the sql command with `args`; returns the exit code (0 ok, 2 for user
 * and SQL errors, printed as one `error: …` line).
 */
export async function sqlMain(
  args: string[],
  io: SqlIO = consoleIO,
  opts: { tables?: TableDoc[] } = {},
): Promise<number> {
  try {
    const parsed = parseArgs(args);
    if (parsed === "help") {
      io.out(USAGE);
      return 0;
    }
    if (parsed.schema) {
      io.out(await describeResults(parsed.results, opts.tables ?? []));
      return 0;
    }
    const sql = await readSource(parsed.source);
    const store = await openStore(parsed.results, io);
    let results: QueryResult[];
    try {
      results = await store.queryScript(sql);
    } catch (e) {
      if (e instanceof UserError) throw e;
      throw new UserError(duckdbMessage(e));
    } finally {
      await store.close();
    }
    io.out(results.map((r) => render(r, parsed.format)).join("\n\n"));
    return 0;
  } catch (e) {
    if (e instanceof UserError) {
      io.err(`error: ${e.message}`);
      return e.exitCode;
    }
    throw e;
  }
}

function parseArgs(args: string[]): SqlArgs | "help" {
  let results = "results";
  let format: Format = "table";
  let schema = false;
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "-h" || a === "--help") return "help";
    else if (a === "--csv") format = "csv";
    else if (a === "--json") format = "json";
    else if (a === "--schema") schema = true;
    else if (a === "--results") {
      if (i + 1 >= args.length) {
        throw new UserError("--results needs a directory");
      }
      results = args[++i];
    } else if (a.startsWith("--results=")) results = a.slice(10);
    else if (a.startsWith("-") && a.length > 1 && !/\s/.test(a)) {
      throw new UserError(`unknown option ${a} (see --help)`);
    } else positional.push(a);
  }
  if (schema && positional.length === 0) return { results, format, source: "", schema };
  if (positional.length !== 1) {
    throw new UserError(
      positional.length === 0
        ? `missing FILE.sql or "QUERY" (see --help)`
        : `expected one FILE.sql or "QUERY", got ${positional.length} arguments (quote the query)`,
    );
  }
  return { results, format, source: positional[0] };
}

/** The SQL text: the file's content for a `.sql` path, else the argument itself. */
async function readSource(source: string): Promise<string> {
  if (!/\.sql$/i.test(source.trim())) return source;
  try {
    return await Deno.readTextFile(source.trim());
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new UserError(`no such SQL file: ${source}`);
    }
    throw e;
  }
}

/**
 * Opens the database of `dir` read only; during a run, the run's live snapshot
 * of its committed results (said on `io.err`). Failures are {@linkcode UserError}s.
 */
export async function openStore(dir: string, io: SqlIO): Promise<ResultsStore> {
  try {
    const { store, snapshotAt } = await ResultsStore.openForReading(dir);
    if (snapshotAt) {
      io.err(
        `note: a run is writing ${join(dir, DB_FILE)}; showing its committed results as of ${
          snapshotAt.toISOString().slice(11, 19)
        } UTC`,
      );
    }
    return store;
  } catch (e) {
    if (isLockError(e)) {
      const pid = lockHolderPid(e);
      throw new UserError(
        `${join(dir, DB_FILE)} is being written by a running experiment${
          pid === null ? "" : ` (PID ${pid})`
        }; query it when the run finishes`,
      );
    }
    if (e instanceof UserError) throw e;
    throw new UserError(duckdbMessage(e));
  }
}

function render(r: QueryResult, format: Format): string {
  if (format === "csv") return formatCsv(r.columns, r.rows);
  if (format === "json") return formatJson(r.columns, r.rows);
  const n = r.rows.length;
  return `${formatTable(r.columns, r.rows, { types: r.types })}\n(${n} row${n === 1 ? "" : "s"})`;
}

/**
 * `--schema`: the described tables (the store's, `comparisons`, then the
 * lab's `tables`), then what the database of `dir` holds beyond them, if it
 * can be read.
 */
async function describeResults(dir: string, tables: TableDoc[]): Promise<string> {
  let store: ResultsStore | null = null;
  try {
    store = (await ResultsStore.openForReading(dir)).store;
  } catch {
    // no database (yet), or one being written without a snapshot: the descriptions alone
  }
  try {
    return await describeSchema(store, tables, join(dir, DB_FILE));
  } finally {
    await store?.close();
  }
}

if (import.meta.main) Deno.exit(await sqlMain(Deno.args));
