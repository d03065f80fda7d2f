/**
 * Provenance of runs: the full resolved config of a sweep point, how two
 * configs differ, and how runs of an edited experiment are labelled apart.
 * Pure functions; the store and `runs.ts` use them.
 *
 * @module
 */
import { canonicalJson, hashJson } from "./hash.ts";
import type { Experiment, Json, JsonObject } from "./types.ts";

/**
 * The full resolved config of a sweep point as stored in `runs.config`: the
 * experiment without its file path, description and summary file (which do
 * not change results). The run id is the first 12 hex characters of its hash.
 */
export function runConfig(experiment: Experiment): JsonObject {
  const { file: _file, description: _description, summary: _summary, ...rest } = experiment;
  return JSON.parse(canonicalJson(rest as unknown as Json)) as JsonObject;
}

/** SHA-256 of a run config's canonical JSON (`runs.config_hash`). */
export function configHash(config: JsonObject): string {
  return hashJson(config);
}

/**
 * A config flattened to display paths → values: stage params as
 * `STAGE.PARAM` (the `--set` shorthand), other stage fields as
 * `STAGE.FIELD…`, the rest by their path (`loop.steps`, `seed`,
 * `runtime.backend`). Arrays are leaves.
 */
export function flattenConfig(config: JsonObject): Map<string, Json> {
  const out = new Map<string, Json>();
  const walk = (path: string, v: Json) => {
    if (v !== null && typeof v === "object" && !Array.isArray(v)) {
      const keys = Object.keys(v).sort();
      if (keys.length === 0) out.set(path, v);
      for (const k of keys) walk(path ? `${path}.${k}` : k, v[k]);
      return;
    }
    out.set(path, v);
  };
  walk("", config);
  const shown = new Map<string, Json>();
  for (const [path, v] of out) {
    const m = /^stages\.([^.]+)\.(.*)$/.exec(path);
    let display = path;
    if (m) display = m[2].startsWith("params.") ? `${m[1]}.${m[2].slice(7)}` : `${m[1]}.${m[2]}`;
    shown.set(display, v);
  }
  return shown;
}

/** One difference between two configs. */
export interface ConfigChange {
  /** Display path (`STAGE.PARAM`, `loop.steps`, …). */
  path: string;
  /** Value in the first config (undefined: absent there). */
  a: Json | undefined;
  /** Value in the second config (undefined: absent there). */
  b: Json | undefined;
}

/** The display paths whose values differ between two configs, sorted by path. */
export function configDiff(a: JsonObject, b: JsonObject): ConfigChange[] {
  const fa = flattenConfig(a);
  const fb = flattenConfig(b);
  const paths = [...new Set([...fa.keys(), ...fb.keys()])].sort();
  return paths
    .filter((p) => canonicalJson(fa.get(p) ?? null) !== canonicalJson(fb.get(p) ?? null))
    .map((path) => ({ path, a: fa.get(path), b: fb.get(path) }));
}

/** A value as a label shows it: strings bare, others as JSON, absent as "-". */
export function showValue(v: Json | undefined): string {
  if (v === undefined) return "-";
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** Paths of a variant label before the rest is elided. */
const MAX_VARIANT_PATHS = 3;

/**
 * The label of a run whose config `theirs` differs from the newest config
 * `current` of the same point: `LABEL [PATH=THEIR_VALUE …]` (at most three
 * paths, then `+N`). Equal configs keep the plain label. The suffix has no
 * `seed=` part, so SQL that strips `seed=N` from labels to get a condition
 * keeps variants apart.
 */
export function variantLabel(label: string, theirs: JsonObject, current: JsonObject): string {
  const diff = configDiff(theirs, current);
  if (diff.length === 0) return label;
  const parts = diff.slice(0, MAX_VARIANT_PATHS).map((d) => `${d.path}=${showValue(d.a)}`);
  if (diff.length > MAX_VARIANT_PATHS) parts.push(`+${diff.length - MAX_VARIANT_PATHS}`);
  return `${label ? `${label} ` : ""}[${parts.join(" ")}]`;
}

/**
 * A short tag of a point label for progress lines: `condition=hicra seed=3`
 * → `hicra s3`, `assign-credit.alpha=0.1 seed=0` → `alpha=0.1 s0`.
 */
export function pointTag(label: string): string {
  return label.split(/\s+/).filter((p) => p).map((part) => {
    const eq = part.indexOf("=");
    if (eq < 0) return part;
    const key = part.slice(0, eq);
    const value = part.slice(eq + 1);
    if (key === "seed") return `s${value}`;
    if (key === "condition") return value;
    return `${key.slice(key.lastIndexOf(".") + 1)}=${value}`;
  }).join(" ");
}
