/**
 * `deno task gc [--results DIR] [--keep-runs RUN|EXPERIMENT …] [--dry-run]`:
 * removes cache entries no kept run needs and reports the space freed;
 * `deno task du` (= `gc --du`) prints the cache's size per stage kind.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { UserError } from "../pipeline/errors.ts";
import {
  allNeededKeys,
  collectGarbage,
  diskUsage,
  formatBytes,
  type GcReport,
} from "../pipeline/gc.ts";
import { duckdbMessage, isLockError } from "../pipeline/store.ts";
import { formatTable } from "../pipeline/table_format.ts";

/** Usage text of `gc` / `du`. */
export const GC_USAGE =
  `Usage: deno task gc [--results DIR] [--keep-runs RUN|EXPERIMENT …] [--dry-run]
       deno task du [--results DIR]          (the same as gc --du)

Removes the cache entries that no kept run needs, and the leftovers of killed
runs (cache/tmp, cache/corrupt), then reports the space freed. A run needs
the entries its instances used (the instances table of DIR/runs.duckdb).
Takes the results directory's lock: refuses while a run is writing DIR.

Options:
  --results DIR              results directory [results]
  --keep-runs RUN|EXPERIMENT keep only these runs' entries: a run id (or its
                             first characters) or an experiment name; repeat
                             the option or separate values with commas
                             [all runs in the database]
  --dry-run                  list what would be removed; remove nothing
  --du                       print the cache size per stage kind (entries,
                             pruned outputs, bytes, bytes no run needs); no
                             removal
  -h, --help                 this text

Exit codes: 0 done, 2 bad input (no results, unknown run, directory locked).`;

/** Entry point; returns the exit code. */
export async function gcMain(
  args: string[],
  print: (s: string) => void = console.log,
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        results: { type: "string", default: "results" },
        "keep-runs": { type: "string", multiple: true, default: [] },
        "dry-run": { type: "boolean", default: false },
        du: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (e) {
    console.error(`error: ${(e as Error).message}\n\n${GC_USAGE}`);
    return 2;
  }
  const v = parsed.values;
  if (v.help) {
    print(GC_USAGE);
    return 0;
  }
  const dir = v.results!;
  try {
    if (v.du) {
      printDu(dir, diskUsage(dir, await allNeededKeys(dir)), print);
      return 0;
    }
    const report = await collectGarbage(dir, { keepRuns: v["keep-runs"], dryRun: v["dry-run"] });
    printGc(report, print);
    return 0;
  } catch (e) {
    if (e instanceof UserError) {
      console.error(`error: ${e.message}`);
      return e.exitCode;
    }
    if (isLockError(e)) {
      console.error(`error: ${dir}/runs.duckdb is open in another process; try again when it ends`);
      return 2;
    }
    if (e instanceof Deno.errors.PermissionDenied) {
      console.error(`error: ${duckdbMessage(e)}`);
      return 2;
    }
    throw e;
  }
}

function printDu(dir: string, rows: ReturnType<typeof diskUsage>, print: (s: string) => void) {
  const known = rows.every((r) => r.unused !== null);
  const total = rows.reduce((s, r) => s + r.bytes, 0);
  const unused = rows.reduce((s, r) => s + (r.unusedBytes ?? 0), 0);
  print(formatTable(
    ["kind", "entries", "pruned", "size", ...(known ? ["not needed", "size not needed"] : [])],
    rows.map((r) => [
      r.kind,
      r.entries,
      r.pruned,
      formatBytes(r.bytes),
      ...(known ? [r.unused!, formatBytes(r.unusedBytes!)] : []),
    ]),
  ));
  print(
    `${dir}/cache: ${formatBytes(total)} in ${rows.reduce((s, r) => s + r.entries, 0)} entries` +
      (known
        ? `; ${formatBytes(unused)} not needed by any run (deno task gc frees it)`
        : " (the results database could not be read, so what runs need is unknown)"),
  );
}

function printGc(r: GcReport, print: (s: string) => void) {
  const verb = r.dryRun ? "would remove" : "removed";
  const byKind = new Map<string, { n: number; bytes: number }>();
  for (const e of r.removed) {
    const k = byKind.get(e.kind) ?? { n: 0, bytes: 0 };
    k.n++;
    k.bytes += e.bytes;
    byKind.set(e.kind, k);
  }
  if (byKind.size) {
    print(formatTable(
      ["kind", `entries ${verb}`, "size"],
      [...byKind].map(([kind, k]) => [kind, k.n, formatBytes(k.bytes)]),
    ));
  }
  print(
    `kept ${r.kept} of ${r.entries} entries (needed by ${r.keptRuns.length} run${
      r.keptRuns.length === 1 ? "" : "s"
    }); ${verb} ${r.removed.length} entries and ${
      formatBytes(r.leftoverBytes)
    } of tmp/corrupt leftovers: ${formatBytes(r.removedBytes + r.leftoverBytes)} ${
      r.dryRun ? "would be freed (dry run: nothing removed)" : "freed"
    }`,
  );
}

if (import.meta.main) Deno.exit(await gcMain(Deno.args));
