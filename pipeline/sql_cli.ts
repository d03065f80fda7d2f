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

/** Where `sqlMain` writes (defaults to the console). */
export interface SqlIO {
  out(text: string): void;
  err(text: string): void;
}

type Format = "table" | "csv" | "json";

interface SqlArgs {
  results: string;
  format: Format;
  /** A .sql file path or a query text. */
  source: string;
}

const USAGE = `usage: deno task sql [--results DIR] [--csv|--json] (FILE.sql | "QUERY")

Runs SQL against DIR/${DB_FILE} (read only) and prints every result set.
A FILE.sql may hold several statements separated by ';'.

  --results DIR  results directory (default: results)
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
): Promise<number> {
  try {
    const parsed = parseArgs(args);
    if (parsed === "help") {
      io.out(USAGE);
      return 0;
    }
    const sql = await readSource(parsed.source);
    const store = await openStore(parsed.results);
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
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "-h" || a === "--help") return "help";
    else if (a === "--csv") format = "csv";
    else if (a === "--json") format = "json";
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

async function openStore(dir: string): Promise<ResultsStore> {
  try {
    return await ResultsStore.open(dir, { readOnly: true });
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

if (import.meta.main) Deno.exit(await sqlMain(Deno.args));
