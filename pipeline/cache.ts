/**
 * The content-addressed cache. An entry is a directory named by its instance
 * key, holding `manifest.json`, the stage's output files under `out/`,
 * `metrics.json`, row tables under `rows/` and `log.txt`. Entries are built in
 * a temp directory beside the cache and renamed into place, so a crash leaves
 * no half entry. Every file's SHA-256 is in the manifest: an entry whose bytes
 * no longer match is reported and recomputed.
 *
 * @module
 */
import { hashJson, sha256Hex } from "./hash.ts";
import type { Json, JsonObject } from "./types.ts";

/** The parts an instance key is the hash of (shown by --explain). */
export interface KeyParts {
  kind: string;
  version: number;
  params: JsonObject;
  /** Input name → content hash of the upstream output. */
  inputs: Record<string, string>;
  seed: number;
  runtime: JsonObject;
  step: number | null;
  steps: number | null;
}

/** A metric recorded by an instance. */
export interface MetricRecord {
  name: string;
  value: number;
}

/** What `manifest.json` holds. */
export interface Manifest {
  format: 1;
  key: string;
  /** Stage name and step that first produced the entry. */
  stage: string;
  step: number | null;
  keyParts: KeyParts;
  /** Hash of the `out/` files (names and bytes): what downstream keys use. */
  outputHash: string;
  /** Relative path → SHA-256 of every file in the entry but the manifest. */
  files: Record<string, string>;
  /** Row tables written (table name → file under rows/). */
  tables: string[];
  /** True once retention removed `out/`. */
  pruned: boolean;
  createdAt: string;
  seconds: number;
  /** Metrics summary (also in metrics.json). */
  metrics: MetricRecord[];
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
  readonly root: string;
  readonly entriesDir: string;
  readonly tmpDir: string;

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
   * Looks a key up and checks the entry's bytes against its manifest.
   * `verify: false` trusts the manifest (used by --dry-run).
   */
  lookup(key: string, verify = true): Lookup {
    const dir = this.entryDir(key);
    let manifest: Manifest;
    try {
      manifest = JSON.parse(Deno.readTextFileSync(`${dir}/manifest.json`));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return { status: "miss" };
      return { status: "corrupt", reason: `unreadable manifest (${e})` };
    }
    if (manifest.key !== key) {
      return { status: "corrupt", reason: "manifest names another key" };
    }
    if (verify) {
      for (const [rel, hash] of Object.entries(manifest.files)) {
        if (manifest.pruned && rel.startsWith("out/")) continue;
        let bytes: Uint8Array;
        try {
          bytes = Deno.readFileSync(`${dir}/${rel}`);
        } catch {
          return { status: "corrupt", reason: `${rel} is missing` };
        }
        if (sha256Hex(bytes) !== hash) {
          return { status: "corrupt", reason: `${rel} does not match its hash` };
        }
      }
    }
    return { status: "hit", manifest, dir };
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
    const tables = Object.keys(files)
      .filter((f) => f.startsWith("rows/") && f.endsWith(".jsonl"))
      .map((f) => f.slice(5, -6))
      .sort();
    const manifest: Manifest = {
      format: 1,
      ...info,
      outputHash: hashJson(outFiles),
      files,
      tables,
      pruned: false,
    };
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
    const manifest = { ...found.manifest, pruned: true };
    writeFileSynced(`${dir}/manifest.tmp`, JSON.stringify(manifest, null, 1));
    Deno.renameSync(`${dir}/manifest.tmp`, `${dir}/manifest.json`);
    Deno.removeSync(`${dir}/out`, { recursive: true });
  }

  /** Removes temp directories left by processes that are no longer alive. */
  cleanStaleTemps(): number {
    let removed = 0;
    for (const e of Deno.readDirSync(this.tmpDir)) {
      const pid = Number(e.name.split(".")[1]);
      if (pid && pid !== Deno.pid && processAlive(pid)) continue;
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

/** True when a process with this pid exists on this machine. */
export function processAlive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}
