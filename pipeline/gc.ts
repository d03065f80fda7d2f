/**
 * Cache care: which cache entries the runs of a results directory need, how
 * much space each stage kind takes (`du`), and removing what no kept run needs
 * (`gc`).
 *
 * A run needs the entries its instances used: the `instances` table of the
 * results database records, for every run, the key of every instance it ran or
 * hit (shared instances are recorded once per run using them). Entries no kept
 * run lists are removed, and so are leftovers: `cache/tmp/` (half-built
 * entries of killed runs) and `cache/corrupt/` (entries moved aside). A run
 * that was killed before its rows were written loses entries it computed; a
 * rerun computes them again.
 *
 * `gc` takes the results directory's lock (`lock.ts`) for its whole duration,
 * so it refuses while a run holds it and no run can start while it deletes.
 *
 * @module
 */
import { join } from "node:path";
import { UserError } from "./errors.ts";
import { acquireLock } from "./lock.ts";
import { ResultsStore, sqlString } from "./store.ts";

/** One cache entry as found on disk. */
export interface EntryInfo {
  key: string;
  /** Stage kind from the manifest ("?" when the manifest is unreadable). */
  kind: string;
  bytes: number;
  /** True once retention removed its outputs. */
  pruned: boolean;
  dir: string;
}

/** Per-kind disk usage. */
export interface KindUsage {
  kind: string;
  entries: number;
  /** Entries whose outputs were pruned by retention (manifest, metrics and rows stay). */
  pruned: number;
  bytes: number;
  /** Entries no run in the database needs (null when unknown). */
  unused: number | null;
  unusedBytes: number | null;
}

/** What `collectGarbage` did (or, with `dryRun`, would do). */
export interface GcReport {
  /** Runs whose entries were kept: id and label. */
  keptRuns: { runId: string; experiment: string; label: string }[];
  entries: number;
  kept: number;
  removed: EntryInfo[];
  /** Bytes of the removed entries. */
  removedBytes: number;
  /** Bytes of cache/tmp and cache/corrupt leftovers removed. */
  leftoverBytes: number;
  dryRun: boolean;
}

/** Bytes of the files under `path` (apparent sizes), 0 when it is missing. */
export function treeBytes(path: string): number {
  let info: Deno.FileInfo;
  try {
    info = Deno.lstatSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return 0;
    throw e;
  }
  if (!info.isDirectory) return info.size;
  let total = 0;
  for (const e of Deno.readDirSync(path)) total += treeBytes(join(path, e.name));
  return total;
}

/** Every entry of the cache of results directory `dir`. */
export function listEntries(dir: string): EntryInfo[] {
  const root = join(dir, "cache", "entries");
  const out: EntryInfo[] = [];
  for (const shard of readDir(root)) {
    if (!shard.isDirectory) continue;
    for (const e of readDir(join(root, shard.name))) {
      if (!e.isDirectory) continue;
      const entryDir = join(root, shard.name, e.name);
      let kind = "?";
      let pruned = false;
      try {
        const m = JSON.parse(Deno.readTextFileSync(join(entryDir, "manifest.json")));
        if (typeof m?.keyParts?.kind === "string") kind = m.keyParts.kind;
        pruned = m?.pruned === true;
      } catch {
        // an unreadable manifest is still an entry that takes space
      }
      out.push({ key: e.name, kind, bytes: treeBytes(entryDir), pruned, dir: entryDir });
    }
  }
  return out.sort((a, b) => a.key.localeCompare(b.key));
}

function readDir(path: string): Deno.DirEntry[] {
  try {
    return [...Deno.readDirSync(path)];
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
}

/**
 * The runs to keep: all runs when `keep` is empty; else the runs whose id
 * starts with, or whose experiment equals, one of the values.
 *
 * @throws UserError for a value that matches no run.
 */
async function keptRuns(
  store: ResultsStore,
  keep: string[],
): Promise<{ runId: string; experiment: string; label: string }[]> {
  const all = (await store.query(
    "SELECT run_id, experiment, label FROM runs ORDER BY experiment, label",
  )).rows.map(([runId, experiment, label]) => ({
    runId: String(runId),
    experiment: String(experiment),
    label: String(label ?? ""),
  }));
  if (keep.length === 0) return all;
  const values = keep.flatMap((k) => k.split(",")).map((k) => k.trim()).filter((k) => k);
  for (const v of values) {
    if (!all.some((r) => r.runId.startsWith(v) || r.experiment === v)) {
      const experiments = [...new Set(all.map((r) => r.experiment))];
      throw new UserError(
        `--keep-runs ${v}: no run id starts with it and no experiment has that name (experiments: ${
          experiments.join(", ") || "none"
        }; run ids: deno task sql "select run_id, experiment, label from runs")`,
      );
    }
  }
  return all.filter((r) => values.some((v) => r.runId.startsWith(v) || r.experiment === v));
}

/** Keys of the entries the given runs used. */
async function neededKeys(store: ResultsStore, runIds: string[]): Promise<Set<string>> {
  if (runIds.length === 0) return new Set();
  const list = runIds.map(sqlString).join(", ");
  const r = await store.query(
    `SELECT DISTINCT key FROM instances WHERE run_id IN (${list})`,
  );
  return new Set(r.rows.map(([k]) => String(k)));
}

/**
 * Removes the cache entries of results directory `dir` that no kept run
 * needs, and the cache's tmp / corrupt leftovers; with `dryRun` removes
 * nothing and reports what it would remove.
 *
 * @throws UserError when a run holds the directory's lock, or there is no
 * results database (nothing would say which entries are needed).
 */
export async function collectGarbage(
  dir: string,
  opts: { keepRuns?: string[]; dryRun?: boolean } = {},
): Promise<GcReport> {
  try {
    if (!Deno.statSync(join(dir, "cache")).isDirectory) throw new Deno.errors.NotFound();
  } catch {
    throw new UserError(
      `no cache at ${join(dir, "cache")}; pass --results DIR of a results directory`,
    );
  }
  const lock = await acquireLock(dir);
  try {
    const store = await ResultsStore.open(dir, { readOnly: true });
    let kept: GcReport["keptRuns"];
    let needed: Set<string>;
    try {
      kept = await keptRuns(store, opts.keepRuns ?? []);
      needed = await neededKeys(store, kept.map((r) => r.runId));
    } finally {
      await store.close();
    }
    const entries = listEntries(dir);
    const removed = entries.filter((e) => !needed.has(e.key));
    const leftovers = ["tmp", "corrupt"].map((d) => join(dir, "cache", d));
    const leftoverBytes = leftovers.reduce((s, p) => s + treeBytes(p), 0);
    if (!opts.dryRun) {
      for (const e of removed) Deno.removeSync(e.dir, { recursive: true });
      for (const p of leftovers) {
        for (const e of readDir(p)) Deno.removeSync(join(p, e.name), { recursive: true });
      }
    }
    return {
      keptRuns: kept,
      entries: entries.length,
      kept: entries.length - removed.length,
      removed,
      removedBytes: removed.reduce((s, e) => s + e.bytes, 0),
      leftoverBytes,
      dryRun: opts.dryRun ?? false,
    };
  } finally {
    lock.release();
  }
}

/**
 * Disk usage of the cache of `dir` per stage kind; `needed` (the keys runs
 * need, when known) fills the unused columns.
 */
export function diskUsage(dir: string, needed: Set<string> | null): KindUsage[] {
  const by = new Map<string, KindUsage>();
  for (const e of listEntries(dir)) {
    const u = by.get(e.kind) ??
      {
        kind: e.kind,
        entries: 0,
        pruned: 0,
        bytes: 0,
        unused: needed ? 0 : null,
        unusedBytes: needed ? 0 : null,
      };
    u.entries++;
    if (e.pruned) u.pruned++;
    u.bytes += e.bytes;
    if (needed && !needed.has(e.key)) {
      u.unused!++;
      u.unusedBytes! += e.bytes;
    }
    by.set(e.kind, u);
  }
  return [...by.values()].sort((a, b) => b.bytes - a.bytes || a.kind.localeCompare(b.kind));
}

/**
 * The keys every run in the database of `dir` needs, or null when the
 * database is missing or being written (du then leaves the unused columns out).
 */
export async function allNeededKeys(dir: string): Promise<Set<string> | null> {
  let store: ResultsStore;
  try {
    store = await ResultsStore.open(dir, { readOnly: true });
  } catch {
    return null;
  }
  try {
    const r = await store.query(
      "SELECT DISTINCT key FROM instances WHERE run_id IN (SELECT run_id FROM runs)",
    );
    return new Set(r.rows.map(([k]) => String(k)));
  } finally {
    await store.close();
  }
}

/** Bytes as a human-readable size (binary units, as `du -h`). */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}
