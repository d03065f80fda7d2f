/**
 * The located document tree used while loading experiments, and override
 * paths: resolving `STAGE.PARAM`-style or full dotted paths, parsing
 * `--set path=v1,v2` arguments and applying values to the raw tree before
 * validation (so overridden values get the ordinary type checks).
 *
 * @module
 */
import {
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  type LineCounter,
  type Node as YamlNode,
  parseDocument,
} from "yaml";
import type { Json } from "./types.ts";
import { didYouMean } from "./suggest.ts";

/** Where a raw value came from; `via` names an override that supplied it. */
export interface Origin {
  file: string;
  line: number;
  col: number;
  via?: string;
}

/** One key/value pair of a raw map, in file order. */
export interface RawEntry {
  key: string;
  keyAt: Origin;
  value: RawNode;
}

/** A YAML value with its source position. */
export type RawNode =
  | { type: "map"; at: Origin; entries: RawEntry[] }
  | { type: "seq"; at: Origin; items: RawNode[] }
  | { type: "scalar"; at: Origin; value: string | number | boolean | null };

/** A resolved override target: full path segments and the short display form. */
export interface Target {
  /** Full path from the root, e.g. ["stages", "a", "with", "n"]. */
  segments: string[];
  /** Short form used in labels, e.g. "a.n". */
  display: string;
}

/** Stage fields that an override path may name directly (`STAGE.seed`). */
const STAGE_FIELDS = ["kind", "seed", "every"];

/** Converts a parsed yaml node to a raw node; `fixed` replaces every position. */
export function toRaw(
  node: YamlNode | null | undefined,
  doc: Document,
  lines: LineCounter | null,
  file: string,
  fallback: Origin,
  fixed?: Origin,
): RawNode {
  const at = (offset: number | undefined): Origin => {
    if (fixed) return fixed;
    if (offset === undefined || lines === null) return fallback;
    const pos = lines.linePos(offset);
    return { file, line: pos.line, col: pos.col };
  };
  if (node === null || node === undefined) {
    return { type: "scalar", at: fallback, value: null };
  }
  if (isAlias(node)) {
    const target = node.resolve(doc);
    const raw = toRaw(target, doc, lines, file, fallback, fixed);
    return { ...raw, at: at(node.range?.[0]) };
  }
  if (isMap(node)) {
    const entries: RawEntry[] = [];
    for (const pair of node.items) {
      const keyNode = pair.key as YamlNode | null;
      const keyAt = at(keyNode?.range?.[0] ?? node.range?.[0]);
      const key = isScalar(keyNode) ? String(keyNode.value) : "";
      entries.push({
        key,
        keyAt,
        value: toRaw(
          pair.value as YamlNode | null,
          doc,
          lines,
          file,
          keyAt,
          fixed,
        ),
      });
    }
    return { type: "map", at: at(node.range?.[0]), entries };
  }
  if (isSeq(node)) {
    const start = at(node.range?.[0]);
    return {
      type: "seq",
      at: start,
      items: node.items.map((item) =>
        toRaw(item as YamlNode | null, doc, lines, file, start, fixed)
      ),
    };
  }
  if (isScalar(node)) {
    const v = node.value;
    const value = v === null || typeof v === "string" ||
        typeof v === "number" || typeof v === "boolean"
      ? v
      : String(v);
    return { type: "scalar", at: at(node.range?.[0]), value };
  }
  return { type: "scalar", at: fallback, value: null };
}

/** The JSON value of a raw node. */
export function toJson(node: RawNode): Json {
  if (node.type === "scalar") return node.value;
  if (node.type === "seq") return node.items.map(toJson);
  const out: { [key: string]: Json } = {};
  for (const entry of node.entries) out[entry.key] = toJson(entry.value);
  return out;
}

/** The entry of a raw map with the given key, if any. */
export function entryOf(node: RawNode, key: string): RawEntry | undefined {
  return node.type === "map" ? node.entries.find((e) => e.key === key) : undefined;
}

/** The value at a key path of raw maps, if every step exists. */
export function nodeAt(
  node: RawNode,
  segments: string[],
): RawNode | undefined {
  let current: RawNode | undefined = node;
  for (const segment of segments) {
    if (current === undefined) return undefined;
    current = entryOf(current, segment)?.value;
  }
  return current;
}

/** Looks up param names of a stage kind (undefined when the kind is unknown). */
export type ParamNames = (kind: string) => string[] | undefined;

/** Every stage of the raw document: name, section and kind (if a string). */
function rawStages(
  root: RawNode,
): { name: string; section: string[]; kind: string | undefined }[] {
  const out: { name: string; section: string[]; kind: string | undefined }[] = [];
  for (const section of [["stages"], ["loop", "stages"]]) {
    const map = nodeAt(root, section);
    if (map?.type !== "map") continue;
    for (const entry of map.entries) {
      const kindNode = entryOf(entry.value, "kind")?.value;
      const kind = kindNode?.type === "scalar" &&
          typeof kindNode.value === "string"
        ? kindNode.value
        : undefined;
      out.push({ name: entry.key, section, kind });
    }
  }
  return out;
}

/** Every path an override may name, in short form (for suggestions). */
function knownPaths(root: RawNode, params: ParamNames): string[] {
  const paths = ["seed", "name", "description"];
  const runtime = nodeAt(root, ["runtime"]);
  if (runtime?.type === "map") {
    for (const e of runtime.entries) paths.push(`runtime.${e.key}`);
  }
  const loop = nodeAt(root, ["loop"]);
  if (loop?.type === "map") paths.push("loop.steps", "loop.keep_every");
  for (const stage of rawStages(root)) {
    const inLoop = stage.section.length === 2;
    for (const field of STAGE_FIELDS) {
      if (field !== "every" || inLoop) paths.push(`${stage.name}.${field}`);
    }
    for (const p of (stage.kind && params(stage.kind)) || []) {
      paths.push(`${stage.name}.${p}`);
    }
  }
  return paths;
}

const PATH_HINT = "use STAGE.PARAM, STAGE.seed, STAGE.kind, seed, loop.steps, runtime.KEY " +
  "or a full path such as stages.STAGE.with.PARAM";

/**
 * Resolves an override path against the raw document. Returns the target or
 * an error message (with a suggestion when one is close).
 */
export function resolvePath(
  root: RawNode,
  path: string,
  params: ParamNames,
): Target | string {
  const parts = path.split(".");
  const unknown = () => {
    const hint = didYouMean(path, knownPaths(root, params));
    return `unknown setting "${path}"${hint || ` (${PATH_HINT})`}`;
  };
  if (parts.some((p) => p === "")) return unknown();
  const [head, ...rest] = parts;
  if (["seed", "name", "description"].includes(head)) {
    return rest.length === 0 ? { segments: [head], display: head } : unknown();
  }
  if (head === "runtime") {
    return rest.length === 1 ? { segments: parts, display: path } : unknown();
  }
  const stages = rawStages(root);
  const stageTarget = (
    name: string,
    tail: string[],
  ): Target | string => {
    const stage = stages.find((s) => s.name === name);
    if (!stage) return unknown();
    const inLoop = stage.section.length === 2;
    if (tail.length === 1 && STAGE_FIELDS.includes(tail[0])) {
      if (tail[0] === "every" && !inLoop) return unknown();
      return {
        segments: [...stage.section, name, tail[0]],
        display: `${name}.${tail[0]}`,
      };
    }
    const param = tail.length === 2 && tail[0] === "with"
      ? tail[1]
      : tail.length === 1
      ? tail[0]
      : undefined;
    if (param === undefined) return unknown();
    const known = stage.kind === undefined ? undefined : params(stage.kind);
    if (known && !known.includes(param)) return unknown();
    return {
      segments: [...stage.section, name, "with", param],
      display: `${name}.${param}`,
    };
  };
  if (head === "stages") {
    if (rest.length < 2) return unknown();
    const [name, ...tail] = rest;
    if (!stages.some((s) => s.name === name && s.section.length === 1)) {
      return unknown();
    }
    return stageTarget(name, tail);
  }
  if (head === "loop") {
    if (nodeAt(root, ["loop"])?.type !== "map") return unknown();
    if (rest.length === 1 && ["steps", "keep_every"].includes(rest[0])) {
      return { segments: parts, display: path };
    }
    if (rest.length === 2 && rest[0] === "init") {
      return { segments: parts, display: path };
    }
    if (rest.length >= 3 && rest[0] === "stages") {
      const [, name, ...tail] = rest;
      if (!stages.some((s) => s.name === name && s.section.length === 2)) {
        return unknown();
      }
      return stageTarget(name, tail);
    }
    return unknown();
  }
  return stageTarget(head, rest);
}

/** A copy of `root` with the value at `segments` replaced (maps created as needed). */
export function applyOverride(
  root: RawNode,
  segments: string[],
  value: RawNode,
): RawNode {
  if (segments.length === 0) return value;
  const [key, ...rest] = segments;
  const map: RawNode = root.type === "map" ? root : { type: "map", at: value.at, entries: [] };
  if (map.type !== "map") return root;
  const index = map.entries.findIndex((e) => e.key === key);
  const entries = [...map.entries];
  if (index >= 0) {
    const old = entries[index];
    entries[index] = {
      ...old,
      value: applyOverride(old.value, rest, value),
    };
  } else {
    const empty: RawNode = { type: "map", at: value.at, entries: [] };
    entries.push({
      key,
      keyAt: value.at,
      value: applyOverride(empty, rest, value),
    });
  }
  return { ...map, entries };
}

/** A parsed `--set` argument. */
export interface SetArg {
  path: string;
  values: RawNode[];
  at: Origin;
  /** How messages refer to the argument, e.g. `--set "a.n=1" (argument 1)`. */
  label: string;
}

/** Splits on commas outside brackets, braces and quotes. */
function splitValues(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote: string | null = null;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = null;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "[" || c === "{") depth++;
    else if (c === "]" || c === "}") depth--;
    else if (c === "," && depth === 0) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out.map((s) => s.trim());
}

/**
 * Parses one `--set` argument (`path=value` or `path=v1,v2,...`; values are
 * YAML scalars or flow lists). `index` is the 0-based position of the argument.
 */
export function parseSet(arg: string, index: number): SetArg | string {
  const label = `--set ${JSON.stringify(arg)} (argument ${index + 1})`;
  const at: Origin = { file: "--set", line: 1, col: index + 1, via: label };
  const eq = arg.indexOf("=");
  if (eq < 0) {
    return `${label}: expected PATH=VALUE or PATH=V1,V2, e.g. --set stage.param=1`;
  }
  const path = arg.slice(0, eq).trim();
  const text = arg.slice(eq + 1).trim();
  if (path === "") {
    return `${label}: the path before "=" is empty; write PATH=VALUE, e.g. --set loop.steps${
      arg.slice(eq)
    }`;
  }
  if (text === "") {
    return `${label}: no value after "="; write e.g. ${path}=1 or ${path}=1,2`;
  }
  const values: RawNode[] = [];
  const pieces = splitValues(text);
  for (const piece of pieces) {
    if (piece === "") {
      const fixed = pieces.filter((p) => p !== "").join(",");
      return `${label}: empty value in the list "${text}"; remove the extra comma${
        fixed ? `: ${path}=${fixed}` : ""
      }`;
    }
    const doc = parseDocument(piece);
    if (doc.errors.length > 0) {
      return `${label}: cannot parse value "${piece}": ${
        doc.errors[0].message.split("\n")[0].replace(/ at line \d+.*$/, "")
      }; write a YAML scalar or a flow list like [1, 2] (quote text with commas or brackets)`;
    }
    values.push(
      toRaw(doc.contents, doc, null, "--set", at, at),
    );
  }
  return { path, values, at, label };
}
