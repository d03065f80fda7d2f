/**
 * Plug-ins: TypeScript modules an experiment file names under `plugins:`
 * (paths relative to the file) that add stage kinds without editing the lab.
 *
 * A plug-in module may export
 * - `stageKinds: StageKind[]`: new kinds, registered beside the lab's (a name
 *   that is already taken, by the lab or by another plug-in, is an error at the
 *   plug-in's line in the experiment file);
 * - `affects: string[]`: names of existing kinds whose results the module
 *   changes through a side effect of its import (e.g. a new entry in a registry
 *   that a kind reads by name).
 *
 * Anything else it does on import (such as registering into a lab's own
 * registries) is its business; an error thrown while importing is reported at
 * its line too.
 *
 * Cache keys: a plug-in's **source hash** covers the module file and, recursively,
 * every module it imports by a relative path inside the module's own directory
 * (imports that leave it, e.g. the lab's `mod.ts`, are not hashed: the lab
 * versions its kinds itself). Instances of the kinds a plug-in registers or
 * `affects` carry `sources: { PATH: hash }` (PATH as written in the experiment
 * file) in their key, so editing the plug-in reruns them and `--explain`
 * names it; kinds no plug-in touches keep their keys.
 *
 * Worker threads (`--jobs` > 1) import the same modules (see {@linkcode withPlugins}).
 *
 * @module
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument } from "yaml";
import { dirname, isAbsolute, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { sha256Hex } from "./hash.ts";
import type { ConfigProblem, StageKind, StageRegistry } from "./types.ts";

/** A plug-in as loaded: what worker threads need to load it again. */
export interface PluginRef {
  /** The path as written in the experiment file (the name in cache keys). */
  path: string;
  /** File URL of the module. */
  url: string;
  /** Source hash (module and local imports). */
  hash: string;
}

/** One `plugins:` entry with its position in the experiment file. */
interface PluginEntry {
  path: string;
  line: number;
  col: number;
}

/** Thrown with every problem found while loading plug-ins. */
export class PluginError extends Error {
  /** The problems, in file order. */
  problems: ConfigProblem[];

  /** One `FILE:LINE:COL: message` line per problem. */
  constructor(problems: ConfigProblem[]) {
    super(problems.map((p) => `${p.file}:${p.line}:${p.col}: ${p.message}`).join("\n"));
    this.name = "PluginError";
    this.problems = problems;
  }
}

/**
 * Reads the `plugins:` list of an experiment's YAML text (positions included);
 * shape problems are pushed to `problems`. YAML syntax errors are left to the
 * config loader (an empty list is returned).
 */
function readEntries(text: string, file: string, problems: ConfigProblem[]): PluginEntry[] {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0 || !isMap(doc.contents)) return [];
  const pair = doc.contents.items.find((p) => isScalar(p.key) && p.key.value === "plugins");
  if (!pair) return [];
  const posOf = (node: unknown) => {
    const range = (node as { range?: [number, number, number] } | null)?.range;
    const keyRange = (pair.key as { range?: [number, number, number] }).range;
    return lines.linePos(range?.[0] ?? keyRange?.[0] ?? 0);
  };
  const value = pair.value;
  if (value === null || (isScalar(value) && value.value === null)) return [];
  if (!isSeq(value)) {
    const at = posOf(value);
    problems.push({
      file,
      ...at,
      message: "plugins: expected a list of module paths (e.g. [./my_stages.ts])",
    });
    return [];
  }
  const out: PluginEntry[] = [];
  value.items.forEach((item, i) => {
    const at = posOf(item);
    if (!isScalar(item) || typeof item.value !== "string" || item.value.trim() === "") {
      problems.push({
        file,
        ...at,
        message: `plugins[${i}]: expected a module path (a string such as ./my_stages.ts)`,
      });
      return;
    }
    out.push({ path: item.value, ...at });
  });
  return out;
}

const IMPORT_RE =
  /(?:\bimport\s*(?:[\w*{}\s,]*?\bfrom\s*)?|\bexport\s*[\w*{}\s,]*?\bfrom\s*|\bimport\s*\(\s*)["']([^"']+)["']/g;

/**
 * Source hash of a module: SHA-256 over the names (relative to the module's
 * directory) and bytes of the module and of every module it imports by a
 * relative path inside that directory, recursively. Also returns the files.
 */
export function sourceHash(file: string): { hash: string; files: string[] } {
  const root = dirname(resolve(file));
  const seen = new Set<string>();
  const queue = [resolve(file)];
  const parts: string[] = [];
  while (queue.length) {
    const path = queue.shift()!;
    if (seen.has(path)) continue;
    seen.add(path);
    const bytes = Deno.readFileSync(path);
    parts.push(`${relative(root, path)}\0${sha256Hex(bytes)}`);
    const text = new TextDecoder().decode(bytes);
    for (const m of text.matchAll(IMPORT_RE)) {
      const spec = m[1];
      if (!spec.startsWith("./") && !spec.startsWith("../")) continue;
      const target = resolve(dirname(path), spec);
      const rel = relative(root, target);
      if (rel.startsWith("..") || isAbsolute(rel)) continue; // outside: not the plug-in's
      try {
        if (Deno.statSync(target).isFile) queue.push(target);
      } catch {
        // a missing import fails at import time with Deno's own message
      }
    }
  }
  const files = [...seen].sort();
  return { hash: sha256Hex(new TextEncoder().encode(parts.sort().join("\n"))), files };
}

/**
 * Loads the plug-ins an experiment's YAML text names and returns `base`
 * extended with them (or `base` itself when there are none).
 *
 * @throws PluginError listing every problem as `FILE:LINE:COL: message`.
 */
export async function loadPlugins(
  text: string,
  file: string,
  base: StageRegistry,
): Promise<StageRegistry> {
  const problems: ConfigProblem[] = [];
  const entries = readEntries(text, file, problems);
  const refs: (PluginRef & { entry: PluginEntry })[] = [];
  for (const [i, entry] of entries.entries()) {
    const abs = resolve(dirname(file), entry.path);
    let isFile = false;
    try {
      isFile = Deno.statSync(abs).isFile;
    } catch {
      // reported below
    }
    if (!isFile) {
      problems.push({
        file,
        line: entry.line,
        col: entry.col,
        message: `plugins[${i}]: no module file ${entry.path} (looked for ${abs}); ` +
          "paths are relative to the experiment file",
      });
      continue;
    }
    refs.push({
      path: entry.path,
      url: pathToFileURL(abs).href,
      hash: sourceHash(abs).hash,
      entry,
    });
  }
  if (problems.length) throw new PluginError(problems);
  if (refs.length === 0) return base;
  try {
    return await withPlugins(base, refs);
  } catch (e) {
    if (!(e instanceof PluginLoadError)) throw e;
    const ref = refs[e.index];
    throw new PluginError([{
      file,
      line: ref.entry.line,
      col: ref.entry.col,
      message: `plugins[${e.index}]: ${ref.path}: ${e.message}`,
    }]);
  }
}

/** A problem with the plug-in at `index`. */
class PluginLoadError extends Error {
  constructor(readonly index: number, message: string) {
    super(message);
  }
}

/**
 * `base` extended by plug-in modules (imported in order): their `stageKinds`
 * are added, and every kind they register or `affect` gets their source hash in
 * `sources`. Used by the config loader and by worker threads.
 *
 * @throws Error (a PluginLoadError naming the plug-in's index) on an import
 * failure, a malformed export, an unknown `affects` kind or a taken name.
 */
export async function withPlugins(
  base: StageRegistry,
  plugins: PluginRef[],
): Promise<StageRegistry> {
  const added = new Map<string, { kind: StageKind; by: string }>();
  const sources = new Map<string, Record<string, string>>();
  const touch = (name: string, p: PluginRef) =>
    sources.set(name, { ...sources.get(name), [p.path]: p.hash });
  for (const [i, p] of plugins.entries()) {
    let mod: Record<string, unknown>;
    try {
      mod = await import(p.url);
    } catch (e) {
      throw new PluginLoadError(i, `failed to load: ${firstLine(e)}`);
    }
    const kinds = mod.stageKinds ?? [];
    if (!Array.isArray(kinds) || !kinds.every(isKind)) {
      throw new PluginLoadError(
        i,
        "export stageKinds must be a list of stage kinds ({ name, version, params, inputs, run })",
      );
    }
    for (const kind of kinds as StageKind[]) {
      const other = added.get(kind.name);
      if (base.get(kind.name) || other) {
        throw new PluginLoadError(
          i,
          `stage kind "${kind.name}" is already registered (by ${
            other ? `plug-in ${other.by}` : "the lab"
          }); choose another name`,
        );
      }
      added.set(kind.name, { kind, by: p.path });
      touch(kind.name, p);
    }
    const affects = mod.affects ?? [];
    if (!Array.isArray(affects) || !affects.every((a) => typeof a === "string")) {
      throw new PluginLoadError(i, "export affects must be a list of stage kind names");
    }
    for (const name of affects as string[]) {
      if (!base.get(name) && !added.has(name)) {
        throw new PluginLoadError(
          i,
          `affects: unknown stage kind "${name}" (kinds: ${base.names().join(", ")})`,
        );
      }
      touch(name, p);
    }
  }
  const get = (name: string): StageKind | undefined => {
    const kind = added.get(name)?.kind ?? base.get(name);
    const src = sources.get(name);
    return kind && src ? { ...kind, sources: { ...kind.sources, ...src } } : kind;
  };
  return {
    get,
    names: () => [...new Set([...base.names(), ...added.keys()])].sort(),
    runtime: base.runtime,
    plugins: [...(base.plugins ?? []), ...plugins],
  };
}

function isKind(k: unknown): k is StageKind {
  const o = k as Record<string, unknown> | null;
  return o !== null && typeof o === "object" && typeof o.name === "string" &&
    typeof o.version === "number" && typeof o.run === "function" &&
    typeof o.params === "object" && typeof o.inputs === "object";
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split("\n")[0];
}
