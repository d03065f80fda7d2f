/**
 * Sweep declarations (`sweep:` in an experiment file plus `--set` axes) and
 * their expansion into points: ablation conditions × grid × zip rows × seeds.
 *
 * @module
 */
import type { JsonObject } from "./types.ts";
import {
  entryOf,
  type Origin,
  type ParamNames,
  type RawNode,
  resolvePath,
  type Target,
  toJson,
} from "./overrides.ts";
import { didYouMean } from "./suggest.ts";

/** Reports one problem at a position. */
export type Report = (at: Origin, message: string) => void;

/** One override: a resolved target and the value to put there. */
export interface Assign {
  target: Target;
  value: RawNode;
}

/** One varying setting of a grid or zip: its values in order. */
export interface Axis {
  target: Target;
  at: Origin;
  values: RawNode[];
}

/** One ablation condition: its name and the overrides it applies. */
export interface Condition {
  name: string;
  at: Origin;
  assigns: Assign[];
}

/** The sweep of an experiment after validation of its shape and paths. */
export interface SweepSpec {
  seeds: { at: Origin; values: RawNode[] } | null;
  grid: Axis[];
  zip: Axis[];
  ablation: { baseline: Assign[]; conditions: Condition[] } | null;
}

/** A point before validation: the overrides to apply and how to name it. */
export interface PointDraft {
  assigns: Assign[];
  overrides: JsonObject;
  labelParts: string[];
}

const SWEEP_KEYS = ["seeds", "grid", "zip", "ablation"];
const ABLATION_KEYS = ["baseline", "conditions"];

/** Quotes a map key for a message path when it is not a plain word. */
export function keyPath(key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key) ? key : JSON.stringify(key);
}

/** A copy of a raw value whose nodes all say they came from `via`. */
export function markVia(node: RawNode, via: string): RawNode {
  const at = { ...node.at, via };
  if (node.type === "map") {
    return {
      type: "map",
      at,
      entries: node.entries.map((e) => ({
        ...e,
        value: markVia(e.value, via),
      })),
    };
  }
  if (node.type === "seq") {
    return { type: "seq", at, items: node.items.map((i) => markVia(i, via)) };
  }
  return { ...node, at };
}

/** A short description of a value for messages: `"fast"`, `3`, `a list`. */
export function describe(node: RawNode): string {
  if (node.type === "map") return "a map";
  if (node.type === "seq") return "a list";
  return node.value === null ? "null" : JSON.stringify(node.value);
}

/** Reads a map of override path → value (ablation baseline or condition). */
function readAssigns(
  node: RawNode,
  where: string,
  root: RawNode,
  params: ParamNames,
  report: Report,
): Assign[] {
  if (node.type !== "map") {
    report(
      node.at,
      `${where}: expected a map of setting paths to values (e.g. { stage.param: 1 }), got ${
        describe(node)
      }`,
    );
    return [];
  }
  const out: Assign[] = [];
  for (const entry of node.entries) {
    const target = resolvePath(root, entry.key, params);
    if (typeof target === "string") {
      report(entry.keyAt, `${where}: ${target}`);
      continue;
    }
    out.push({
      target,
      value: markVia(entry.value, `${where} "${entry.key}"`),
    });
  }
  return out;
}

/** Reads a map of override path → list of values (grid or zip). */
function readAxes(
  node: RawNode,
  where: string,
  root: RawNode,
  params: ParamNames,
  report: Report,
): Axis[] {
  if (node.type !== "map") {
    report(
      node.at,
      `${where}: expected a map of setting paths to lists of values, got ${describe(node)}`,
    );
    return [];
  }
  const out: Axis[] = [];
  for (const entry of node.entries) {
    const target = resolvePath(root, entry.key, params);
    if (typeof target === "string") {
      report(entry.keyAt, `${where}: ${target}`);
      continue;
    }
    const list = entry.value;
    const path = `${where}.${keyPath(entry.key)}`;
    if (list.type !== "seq") {
      report(
        list.at,
        `${path}: expected a list of values, got ${describe(list)}; write [${
          describe(list)
        }] for a single value`,
      );
      continue;
    }
    if (list.items.length === 0) {
      report(list.at, `${path}: empty list; give at least one value`);
      continue;
    }
    const via = `${where} "${entry.key}"`;
    out.push({
      target,
      at: entry.keyAt,
      values: list.items.map((v) => markVia(v, via)),
    });
  }
  return out;
}

/** Reads `sweep.seeds`: a non-empty list of integers. */
function readSeeds(node: RawNode, report: Report): SweepSpec["seeds"] {
  if (node.type !== "seq") {
    report(
      node.at,
      `sweep.seeds: expected a list of integer seeds, got ${describe(node)}`,
    );
    return null;
  }
  if (node.items.length === 0) {
    report(node.at, "sweep.seeds: empty list; give at least one seed");
    return null;
  }
  const values: RawNode[] = [];
  node.items.forEach((item, i) => {
    if (
      item.type === "scalar" && typeof item.value === "number" &&
      Number.isSafeInteger(item.value)
    ) {
      values.push(markVia(item, "sweep.seeds"));
    } else {
      report(
        item.at,
        `sweep.seeds[${i}]: expected an integer seed, got ${describe(item)}`,
      );
    }
  });
  return values.length ? { at: node.at, values } : null;
}

/** Reads `sweep.ablation`: an optional baseline and named conditions. */
function readAblation(
  node: RawNode,
  root: RawNode,
  params: ParamNames,
  report: Report,
): SweepSpec["ablation"] {
  if (node.type !== "map") {
    report(
      node.at,
      `sweep.ablation: expected a map with "conditions" (and optional "baseline"), got ${
        describe(node)
      }`,
    );
    return null;
  }
  for (const entry of node.entries) {
    if (!ABLATION_KEYS.includes(entry.key)) {
      report(
        entry.keyAt,
        `sweep.ablation: unknown key "${entry.key}"${
          didYouMean(entry.key, ABLATION_KEYS) ||
          '; expected "baseline" or "conditions"'
        }`,
      );
    }
  }
  const base = entryOf(node, "baseline");
  const baseline = base
    ? readAssigns(base.value, "sweep.ablation.baseline", root, params, report)
    : [];
  const conds = entryOf(node, "conditions");
  if (!conds) {
    report(
      node.at,
      'sweep.ablation: missing required key "conditions" (a map of condition name to overrides)',
    );
    return null;
  }
  if (conds.value.type !== "map" || conds.value.entries.length === 0) {
    report(
      conds.value.at,
      `sweep.ablation.conditions: expected a non-empty map of condition name to overrides, got ${
        conds.value.type === "map" ? "an empty map" : describe(conds.value)
      }`,
    );
    return null;
  }
  const conditions: Condition[] = [];
  for (const entry of conds.value.entries) {
    const where = `sweep.ablation.conditions.${keyPath(entry.key)}`;
    const value: RawNode = entry.value.type === "scalar" &&
        entry.value.value === null
      ? { type: "map", at: entry.value.at, entries: [] }
      : entry.value;
    conditions.push({
      name: entry.key,
      at: entry.keyAt,
      assigns: readAssigns(value, where, root, params, report),
    });
  }
  return { baseline, conditions };
}

/** Reports settings that more than one sweep section varies. */
function checkOverlap(spec: SweepSpec, report: Report): void {
  const seen = new Map<string, string>();
  const claim = (
    target: Target,
    where: string,
    at: Origin,
    repeatable = false,
  ) => {
    const key = target.segments.join("\u0000");
    const first = seen.get(key);
    if (first !== undefined && !(repeatable && first === where)) {
      report(
        at,
        `${where}: "${target.display}" is already varied by ${first}; vary each setting in one place`,
      );
    } else if (first === undefined) seen.set(key, where);
  };
  if (spec.seeds) {
    seen.set("seed", "sweep.seeds");
  }
  for (const axis of spec.grid) claim(axis.target, "sweep.grid", axis.at);
  for (const axis of spec.zip) claim(axis.target, "sweep.zip", axis.at);
  for (const cond of spec.ablation?.conditions ?? []) {
    for (const a of cond.assigns) {
      claim(a.target, "sweep.ablation", a.value.at, true);
    }
  }
}

/** Reads the `sweep` block (undefined when the file has none). */
export function readSweep(
  node: RawNode | undefined,
  root: RawNode,
  params: ParamNames,
  report: Report,
): SweepSpec {
  const spec: SweepSpec = { seeds: null, grid: [], zip: [], ablation: null };
  if (node === undefined) return spec;
  if (node.type !== "map") {
    report(
      node.at,
      `sweep: expected a map with seeds, grid, zip or ablation, got ${describe(node)}`,
    );
    return spec;
  }
  for (const entry of node.entries) {
    if (!SWEEP_KEYS.includes(entry.key)) {
      report(
        entry.keyAt,
        `sweep: unknown key "${entry.key}"${
          didYouMean(entry.key, SWEEP_KEYS) ||
          `; expected one of ${SWEEP_KEYS.join(", ")}`
        }`,
      );
    }
  }
  const seeds = entryOf(node, "seeds");
  if (seeds) spec.seeds = readSeeds(seeds.value, report);
  const grid = entryOf(node, "grid");
  if (grid) {
    spec.grid = readAxes(grid.value, "sweep.grid", root, params, report);
  }
  const zip = entryOf(node, "zip");
  if (zip) spec.zip = readAxes(zip.value, "sweep.zip", root, params, report);
  const ablation = entryOf(node, "ablation");
  if (ablation) {
    spec.ablation = readAblation(ablation.value, root, params, report);
  }
  checkOverlap(spec, report);
  return spec;
}

/** A `--set` argument after its path was resolved. */
export interface SetAxis {
  target: Target;
  values: RawNode[];
  at: Origin;
}

const sameTarget = (a: Target, b: Target) =>
  a.segments.join("\u0000") === b.segments.join("\u0000");

/**
 * Merges `--set` arguments into a sweep: a multi-value set replaces the file's
 * axis for the same setting (grid column, zip column or seeds) or adds a grid
 * axis; a single-value set removes any axis for its setting and is returned
 * as a plain override for every point.
 */
export function mergeSets(
  spec: SweepSpec,
  sets: SetAxis[],
): { spec: SweepSpec; singles: Assign[] } {
  const out: SweepSpec = {
    seeds: spec.seeds,
    grid: [...spec.grid],
    zip: [...spec.zip],
    ablation: spec.ablation,
  };
  const singles: Assign[] = [];
  for (const set of sets) {
    const isSeed = set.target.segments.length === 1 &&
      set.target.segments[0] === "seed";
    if (set.values.length === 1) {
      singles.push({ target: set.target, value: set.values[0] });
      out.grid = out.grid.filter((a) => !sameTarget(a.target, set.target));
      out.zip = out.zip.filter((a) => !sameTarget(a.target, set.target));
      if (isSeed) out.seeds = null;
      continue;
    }
    if (isSeed) {
      out.seeds = { at: set.at, values: set.values };
      out.grid = out.grid.filter((a) => !sameTarget(a.target, set.target));
      continue;
    }
    const axis: Axis = { target: set.target, at: set.at, values: set.values };
    const g = out.grid.findIndex((a) => sameTarget(a.target, set.target));
    const z = out.zip.findIndex((a) => sameTarget(a.target, set.target));
    if (g >= 0) out.grid[g] = axis;
    else if (z >= 0) out.zip[z] = axis;
    else out.grid.push(axis);
  }
  return { spec: out, singles };
}

/**
 * Reports zip columns whose length differs from the first column from the
 * file (or the first column, when all come from `--set`).
 */
export function checkZip(spec: SweepSpec, report: Report): void {
  const ref = spec.zip.find((a) => a.at.file !== "--set") ?? spec.zip[0];
  for (const axis of spec.zip) {
    if (axis.values.length !== ref.values.length) {
      report(
        axis.at,
        `sweep.zip: "${axis.target.display}" has ${axis.values.length} values but "${ref.target.display}" has ${ref.values.length}; zip lists must have the same length`,
      );
    }
  }
}

/** Formats a value for a point label: strings bare, others as JSON. */
export function labelValue(node: RawNode): string {
  const v = toJson(node);
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** The settings a sweep varies, in short form ("condition" for ablations). */
export function sweepAxes(spec: SweepSpec): string[] {
  const out: string[] = [];
  const add = (p: string) => {
    if (!out.includes(p)) out.push(p);
  };
  if (spec.ablation) {
    add("condition");
    for (const c of spec.ablation.conditions) {
      for (const a of c.assigns) add(a.target.display);
    }
  }
  for (const axis of [...spec.grid, ...spec.zip]) add(axis.target.display);
  if (spec.seeds) add("seed");
  return out;
}

/**
 * Expands a sweep into point drafts in file order: conditions (outermost),
 * then the grid (first axis outermost), then zip rows, then seeds.
 */
export function expandSweep(spec: SweepSpec): PointDraft[] {
  type Part = { assigns: Assign[]; overrides: JsonObject; labels: string[] };
  const join = (a: Part, b: Part): Part => ({
    assigns: [...a.assigns, ...b.assigns],
    overrides: { ...a.overrides, ...b.overrides },
    labels: [...a.labels, ...b.labels],
  });
  const one = (target: Target, value: RawNode): Part => ({
    assigns: [{ target, value }],
    overrides: { [target.display]: toJson(value) },
    labels: [`${target.display}=${labelValue(value)}`],
  });
  const empty: Part = { assigns: [], overrides: {}, labels: [] };
  let parts: Part[] = [empty];
  if (spec.ablation) {
    const { baseline } = spec.ablation;
    // The baseline itself is a point, unless a condition already leaves it unchanged.
    const conditions = spec.ablation.conditions.some((c) => c.assigns.length === 0)
      ? spec.ablation.conditions
      : [{ name: "baseline", assigns: [] as Assign[] }, ...spec.ablation.conditions];
    parts = conditions.map((c) => {
      const all = [...baseline, ...c.assigns];
      const overrides: JsonObject = { condition: c.name };
      for (const a of all) overrides[a.target.display] = toJson(a.value);
      return { assigns: all, overrides, labels: [`condition=${c.name}`] };
    });
  }
  for (const axis of spec.grid) {
    parts = parts.flatMap((p) => axis.values.map((v) => join(p, one(axis.target, v))));
  }
  if (spec.zip.length > 0) {
    const rows = Math.min(...spec.zip.map((a) => a.values.length));
    const zipped: Part[] = [];
    for (let i = 0; i < rows; i++) {
      zipped.push(
        spec.zip.map((a) => one(a.target, a.values[i])).reduce(join, empty),
      );
    }
    parts = parts.flatMap((p) => zipped.map((z) => join(p, z)));
  }
  if (spec.seeds) {
    const seedTarget: Target = { segments: ["seed"], display: "seed" };
    const seeds = spec.seeds.values;
    parts = parts.flatMap((p) =>
      seeds.map((s) => {
        const j = join(p, one(seedTarget, s));
        return { ...j, labels: p.labels };
      })
    );
  }
  return parts.map((p) => ({
    assigns: p.assigns,
    overrides: p.overrides,
    labelParts: p.labels,
  }));
}
