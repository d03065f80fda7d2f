/**
 * The content-addressed cache. An entry is a directory named by its instance
 * key, holding `manifest.json`, the stage's output files under `out/`,
 * `metrics.json`, row tables under `rows/` and `log.txt`. Entries are built in
 * a temp directory beside the cache and renamed into place, so a crash leaves
 * no half entry. Every file's SHA-256 is in the manifest, and the manifest
 * holds the SHA-256 of its own content (`manifestHash`): an entry whose bytes
 * no longer match is reported and recomputed. A hit's metrics are read from
 * the hashed `metrics.json` and its row tables from the hashed `rows/` files,
 * so nothing unverified reaches the results.
 *
 * @module
 */
import { hashJson, sha256Hex } from "./hash.ts";
import { processAlive } from "./lock.ts";
import type { Json, JsonObject } from "./types.ts";

export { processAlive };

/** The parts an instance key is the hash of (shown by --explain). */
export interface KeyParts {
  /** Stage kind name. */
  kind: string;
  /** Stage kind version. */
  version: number;
  /** Resolved params (as far as they matter: `StageKind.keyParams`). */
  params: JsonObject;
  /** Input name → content hash of the upstream output. */
  inputs: Record<string, string>;
  /** Instance seed (mixed with the loop step). */
  seed: number;
  /** Runtime settings. */
  runtime: JsonObject;
  /** Loop step, or null outside the loop. */
  step: number | null;
  /** Plug-in source hashes (path → hash) of a kind a plug-in defines or changes; absent otherwise. */
  sources?: Record<string, string>;
  /**
   * External files a kind reads (`StageKind.keyFiles`): path as the experiment writes it →
   * content hash. Absent for kinds that declare none, so their keys are unchanged.
   */
  files?: Record<string, string>;
}

/** A metric recorded by an instance. */
export interface MetricRecord {
  /** Metric name, e.g. `pass@1/id`. */
  name: string;
  /** Its value. */
  value: number;
}

/** What `manifest.json` holds. */
export interface Manifest {
  /** 2 since manifests carry `manifestHash`; 1 (older entries) without it. */
  format: 1 | 2;
  /** The instance key (the entry's directory name). */
  key: string;
  /** Stage name that first produced the entry. */
  stage: string;
  /** Loop step that first produced the entry. */
  step: number | null;
  /** What the key is the hash of. */
  keyParts: KeyParts;
  /** Hash of the `out/` files (names and bytes): what downstream keys use. */
  outputHash: string;
  /** Relative path → SHA-256 of every file in the entry but the manifest. */
  files: Record<string, string>;
  /** Row tables written (table name → file under rows/). */
  tables: string[];
  /** True once retention removed `out/`. */
  pruned: boolean;
  /** When the entry was built (ISO 8601). */
  createdAt: string;
  /** Seconds the stage took to compute it. */
  seconds: number;
  /** The metrics; on a verified hit, as read from the hashed metrics.json. */
  metrics: MetricRecord[];
  /** SHA-256 of the canonical JSON of this manifest without this field (format 2). */
  manifestHash?: string;
}

/** Instance key: SHA-256 of the canonical JSON of its key parts. */
export function instanceKey(parts: KeyParts): string {
  return hashJson(parts as unknown as Json);
}

/** A lookup result. */
export type Lookup =
  | { status: "hit"; manifest: Manifest; dir: string }
  | { status: "miss" }
  | { status: "corrupt"; reason: string };

/** File-system cache rooted at `<results>/cache`. */
export class Cache {
  /** The cache directory (`<results>/cache`). */
  readonly root: string;
  /** Where entries live (`<root>/entries/<2 hex>/<key>`). */
  readonly entriesDir: string;
  /** Where entries are built before they are renamed into place. */
  readonly tmpDir: string;

  /** Opens (creating if needed) the cache at `root`. */
  constructor(root: string) {
    this.root = root;
    this.entriesDir = `${root}/entries`;
    this.tmpDir = `${root}/tmp`;
    Deno.mkdirSync(this.entriesDir, { recursive: true });
    Deno.mkdirSync(this.tmpDir, { recursive: true });
  }

  /** Directory of the entry for a key. */
  entryDir(key: string): string {
    return `${this.entriesDir}/${key.slice(0, 2)}/${key}`;
  }

  /**
   * Looks a key up and checks the entry: the manifest against its own hash
   * and its shape, every file against the manifest, and that the entry holds
   * exactly the files the manifest lists. A hit's `metrics` come from
   * metrics.json and its `tables` from the listed `rows/` files.
   * `verify: false` checks only the manifest, not the files (used by --dry-run).
   */
  lookup(key: string, verify = true): Lookup {
    const dir = this.entryDir(key);
    let manifest: Manifest;
    try {
      manifest = JSON.parse(Deno.readTextFileSync(`${dir}/manifest.json`));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return { status: "miss" };
      return { status: "corrupt", reason: `unreadable manifest (${errorText(e)})` };
    }
    const problem = manifestProblem(manifest, key);
    if (problem) return { status: "corrupt", reason: problem };
    if (!verify) return { status: "hit", manifest, dir };
    const listed = Object.keys(manifest.files).filter((rel) =>
      !(manifest.pruned && rel.startsWith("out/"))
    );
    let metricsBytes: Uint8Array | null = null;
    for (const rel of listed) {
      let bytes: Uint8Array;
      try {
        bytes = Deno.readFileSync(`${dir}/${rel}`);
      } catch {
        return { status: "corrupt", reason: `${rel} is missing` };
      }
      if (sha256Hex(bytes) !== manifest.files[rel]) {
        return { status: "corrupt", reason: `${rel} does not match its hash` };
      }
      if (rel === METRICS_FILE) metricsBytes = bytes;
    }
    const unlisted = listFiles(dir).find((rel) =>
      !(rel in manifest.files) && rel !== "manifest.json" && rel !== "manifest.tmp" &&
      !(manifest.pruned && rel.startsWith("out/"))
    );
    if (unlisted) return { status: "corrupt", reason: `${unlisted} is not in the manifest` };
    const metrics = parseMetrics(metricsBytes!);
    if (typeof metrics === "string") return { status: "corrupt", reason: metrics };
    return {
      status: "hit",
      manifest: { ...manifest, metrics, tables: tablesOf(manifest.files) },
      dir,
    };
  }

  /** A fresh temp directory with empty `out/` and `rows/` for building an entry. */
  makeTemp(key: string): string {
    const dir = `${this.tmpDir}/${key.slice(0, 16)}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}`;
    Deno.mkdirSync(`${dir}/out`, { recursive: true });
    Deno.mkdirSync(`${dir}/rows`, { recursive: true });
    return dir;
  }

  /**
   * Seals a built temp directory: hashes its files, writes the manifest,
   * fsyncs and renames it into place (replacing an older entry of the key).
   */
  commit(
    tmp: string,
    info: Omit<Manifest, "format" | "outputHash" | "files" | "pruned" | "tables">,
  ): Manifest {
    const files: Record<string, string> = {};
    const outFiles: Record<string, string> = {};
    for (const rel of listFiles(tmp)) {
      const bytes = Deno.readFileSync(`${tmp}/${rel}`);
      fsyncFile(`${tmp}/${rel}`);
      files[rel] = sha256Hex(bytes);
      if (rel.startsWith("out/")) outFiles[rel.slice(4)] = files[rel];
    }
    const tables = tablesOf(files);
    const manifest = seal({
      ...info,
      format: 2,
      outputHash: hashJson(outFiles),
      files,
      tables,
      pruned: false,
    });
    writeFileSynced(`${tmp}/manifest.json`, JSON.stringify(manifest, null, 1));
    const dest = this.entryDir(info.key);
    Deno.mkdirSync(dest.slice(0, dest.lastIndexOf("/")), { recursive: true });
    try {
      Deno.renameSync(tmp, dest);
    } catch {
      // An entry exists (forced rerun or a concurrent writer): swap it out.
      const old = `${this.tmpDir}/old.${crypto.randomUUID().slice(0, 8)}`;
      Deno.renameSync(dest, old);
      Deno.renameSync(tmp, dest);
      Deno.removeSync(old, { recursive: true });
    }
    fsyncDir(dest.slice(0, dest.lastIndexOf("/")));
    return manifest;
  }

  /** Moves a corrupt entry aside (kept for inspection under cache/corrupt/). */
  quarantine(key: string): string {
    const dir = `${this.root}/corrupt`;
    Deno.mkdirSync(dir, { recursive: true });
    const dest = `${dir}/${key}.${Date.now()}`;
    try {
      Deno.renameSync(this.entryDir(key), dest);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    return dest;
  }

  /** Retention: drops an entry's `out/` files, keeping manifest, metrics and rows. */
  prune(key: string): void {
    const dir = this.entryDir(key);
    const found = this.lookup(key, false);
    if (found.status !== "hit" || found.manifest.pruned) return;
    // Re-sealed only if it was sealed: an older entry's manifest stays unsealed.
    const old = found.manifest;
    const manifest = old.format === 2 ? seal({ ...old, pruned: true }) : { ...old, pruned: true };
    writeFileSynced(`${dir}/manifest.tmp`, JSON.stringify(manifest, null, 1));
    Deno.renameSync(`${dir}/manifest.tmp`, `${dir}/manifest.json`);
    Deno.removeSync(`${dir}/out`, { recursive: true });
  }

  /** Removes temp directories left by processes that are no longer alive. */
  cleanStaleTemps(): number {
    let removed = 0;
    for (const e of Deno.readDirSync(this.tmpDir)) {
      const pid = Number(e.name.split(".")[1]);
      if (pid && pid !== Deno.pid && processAlive(pid, false)) continue;
      if (pid === Deno.pid) continue;
      Deno.removeSync(`${this.tmpDir}/${e.name}`, { recursive: true });
      removed++;
    }
    return removed;
  }

  /** All manifests of the cache (for --explain's nearest-entry search). */
  *manifests(): Generator<Manifest> {
    for (const shard of safeReadDir(this.entriesDir)) {
      for (const e of safeReadDir(`${this.entriesDir}/${shard.name}`)) {
        try {
          yield JSON.parse(
            Deno.readTextFileSync(
              `${this.entriesDir}/${shard.name}/${e.name}/manifest.json`,
            ),
          );
        } catch {
          // Unreadable entries are reported when they are looked up.
        }
      }
    }
  }
}

const METRICS_FILE = "metrics.json";
const SHA256 = /^[0-9a-f]{64}$/;

/** Adds `manifestHash`: the hash of the manifest's canonical JSON without it. */
export function seal(manifest: Manifest): Manifest {
  const { manifestHash: _, ...rest } = manifest;
  return { ...rest, manifestHash: hashJson(rest as unknown as Json) };
}

/**
 * What is wrong with a parsed manifest of entry `key`, or null: its shape,
 * its own hash (format 2), and what follows from the file hashes (`outputHash`,
 * `tables`) for every format.
 */
function manifestProblem(m: Manifest, key: string): string | null {
  if (m === null || typeof m !== "object" || Array.isArray(m)) return "manifest is not an object";
  if (m.key !== key) return "manifest names another key";
  if (m.format !== 1 && m.format !== 2) {
    return `unknown manifest format ${JSON.stringify(m.format)}`;
  }
  if (m.format === 2 || "manifestHash" in m) {
    let hash: string | null = null;
    try {
      const { manifestHash: _, ...rest } = m;
      hash = hashJson(rest as unknown as Json);
    } catch {
      // a non-finite number: cannot match
    }
    if (m.manifestHash !== hash) return "manifest does not match its hash";
  }
  const files = m.files as unknown;
  if (
    files === null || typeof files !== "object" || Array.isArray(files) ||
    !Object.values(files).every((h) => typeof h === "string" && SHA256.test(h))
  ) return "manifest has no valid file list";
  if (!(METRICS_FILE in m.files)) return `${METRICS_FILE} is not in the manifest`;
  if (typeof m.pruned !== "boolean") return "manifest has no valid pruned flag";
  const outFiles: Record<string, string> = {};
  for (const [rel, hash] of Object.entries(m.files)) {
    if (rel.startsWith("out/")) outFiles[rel.slice(4)] = hash;
  }
  if (m.outputHash !== hashJson(outFiles)) return "outputHash does not match the out/ files";
  const tables = tablesOf(m.files);
  if (
    !Array.isArray(m.tables) || m.tables.length !== tables.length ||
    !m.tables.every((t, i) => t === tables[i])
  ) {
    return "tables do not match the rows/ files";
  }
  return null;
}

/** Row tables of an entry: the `rows/NAME.jsonl` files. */
function tablesOf(files: Record<string, string>): string[] {
  return Object.keys(files)
    .filter((f) => f.startsWith("rows/") && f.endsWith(".jsonl"))
    .map((f) => f.slice(5, -6))
    .sort();
}

/** The metrics of a metrics.json, or what is wrong with it. */
function parseMetrics(bytes: Uint8Array): MetricRecord[] | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return `${METRICS_FILE} is not JSON`;
  }
  if (
    !Array.isArray(parsed) ||
    !parsed.every((r) =>
      r !== null && typeof r === "object" && typeof r.name === "string" &&
      typeof r.value === "number" && Number.isFinite(r.value)
    )
  ) return `${METRICS_FILE} is not a list of metrics`;
  return parsed.map((r) => ({ name: r.name, value: r.value }));
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Hash of a directory's files (relative names and bytes), as `outputHash` is computed. */
export function hashDirectory(dir: string): string {
  const files: Record<string, string> = {};
  for (const rel of listFiles(dir)) {
    files[rel] = sha256Hex(Deno.readFileSync(`${dir}/${rel}`));
  }
  return hashJson(files);
}

/** Relative paths of all files under a directory, sorted. */
export function listFiles(dir: string, prefix = ""): string[] {
  const out: string[] = [];
  for (const e of safeReadDir(dir)) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory) out.push(...listFiles(`${dir}/${e.name}`, rel));
    else if (e.isFile) out.push(rel);
  }
  return out.sort();
}

function safeReadDir(dir: string): Deno.DirEntry[] {
  try {
    return [...Deno.readDirSync(dir)];
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
}

function fsyncFile(path: string): void {
  const f = Deno.openSync(path, { read: true });
  try {
    f.syncSync();
  } finally {
    f.close();
  }
}

function fsyncDir(path: string): void {
  try {
    fsyncFile(path);
  } catch {
    // Some file systems refuse to fsync directories; rename is still atomic.
  }
}

/** Writes a file and fsyncs it before returning. */
export function writeFileSynced(path: string, text: string): void {
  const f = Deno.openSync(path, { write: true, create: true, truncate: true });
  try {
    const bytes = new TextEncoder().encode(text);
    let off = 0;
    while (off < bytes.length) off += f.writeSync(bytes.subarray(off));
    f.syncSync();
  } finally {
    f.close();
  }
}
