/**
 * Unrolls sweep points into one graph of stage instances. A loop stage becomes
 * one instance per step (or per `every` steps); `prev.X` edges point at the
 * previous step's instance, or at `loop.init[X]` at step 0. Instances that are
 * identical across points (same kind, version, params, seed, runtime, step and
 * upstream instances) are merged, so they are computed once.
 *
 * @module
 */
import { canonicalJson, sha256Hex } from "./hash.ts";
import type {
  Experiment,
  JsonObject,
  StageKind,
  StageRef,
  StageRegistry,
  StageSpec,
  SweepPoint,
} from "./types.ts";

/** Where a run uses an instance, under which stage name and step. */
export interface InstanceUse {
  runId: string;
  stage: string;
  step: number | null;
}

/** One unique stage instance of the plan. */
export interface InstanceNode {
  /**
   * Static identity within the plan: instances with the same kind, version,
   * params, seed, runtime, position and upstream ids are one node.
   */
  id: string;
  /** Stage name and step of the first point that declared it (for display). */
  stage: string;
  step: number | null;
  kind: StageKind;
  params: JsonObject;
  seed: number;
  runtime: JsonObject;
  /** Input name → upstream node. */
  deps: Record<string, InstanceNode>;
  /** Nodes that consume this one. */
  dependents: InstanceNode[];
  /** Every (run, stage, step) that uses this instance. */
  uses: InstanceUse[];
  /** False when every use allows pruning the output files after consumers ran. */
  keep: boolean;
  /** Position in topological order. */
  order: number;
}

/** The unrolled plan of a sweep. */
export interface Plan {
  /** Unique nodes in topological order. */
  nodes: InstanceNode[];
  /** Per run id: its nodes (topological order). */
  runs: Map<string, { point: SweepPoint; nodes: InstanceNode[] }>;
}

/** Mixes a loop step into a seed (stable across platforms). */
export function deriveSeed(seed: number, step: number | null): number {
  if (step === null) return seed;
  return parseInt(sha256Hex(`${seed}/${step}`).slice(0, 8), 16);
}

/** Steps at which a loop stage with `every` runs: (t+1) % every == 0, and the last step. */
export function stageRunsAt(every: number, step: number, steps: number): boolean {
  return (step + 1) % every === 0 || step === steps - 1;
}

/** Builds the merged instance graph of all points. */
export function buildPlan(points: SweepPoint[], registry: StageRegistry): Plan {
  const byId = new Map<string, InstanceNode>();
  const heads = new Map<string, string>();
  const nodes: InstanceNode[] = [];
  const runs: Plan["runs"] = new Map();
  for (const point of points) {
    const runNodes = unrollPoint(point, registry, byId, heads, nodes);
    runs.set(point.runId, { point, nodes: runNodes });
  }
  nodes.forEach((n, i) => (n.order = i));
  return { nodes, runs };
}

function unrollPoint(
  point: SweepPoint,
  registry: StageRegistry,
  byId: Map<string, InstanceNode>,
  heads: Map<string, string>,
  all: InstanceNode[],
): InstanceNode[] {
  const exp = point.experiment;
  // Per stage: its node at each step (index step + 1; index 0 outside the loop).
  const instances = new Map<StageSpec, InstanceNode[]>();
  const slot = (step: number | null) => step === null ? 0 : step + 1;
  const known = (spec: StageSpec, step: number | null): InstanceNode | undefined =>
    instances.get(spec)?.[slot(step)];
  const specHeads = new Map<StageSpec, string>();
  const runNodes: InstanceNode[] = [];
  const top = Object.values(exp.stages).filter((s) => !s.inLoop);
  const inLoop = Object.values(exp.stages).filter((s) => s.inLoop);
  const steps = exp.loop?.steps ?? 0;
  const lastKept = (step: number) => {
    const k = exp.loop?.keepEvery ?? 0;
    return k === 0 || (step + 1) % k === 0 || step === steps - 1;
  };

  // Params as far as they matter (StageKind.keyParams), once per stage spec.
  const keyed = new Map<StageSpec, JsonObject>();
  const paramsOf = (spec: StageSpec, kind: StageKind): JsonObject => {
    let p = keyed.get(spec);
    if (p === undefined) {
      keyed.set(spec, p = kind.keyParams ? kind.keyParams(spec.params) : spec.params);
    }
    return p;
  };

  const labelOf = (spec: StageSpec, step: number | null) =>
    step === null ? spec.name : `${spec.name}@${step}`;

  /**
   * Short id of a stage's kind, version, params and runtime (interned across
   * points): the part of its identity that is the same at every step.
   */
  const headOf = (spec: StageSpec, kind: StageKind): string => {
    let head = specHeads.get(spec);
    if (head === undefined) {
      const text = canonicalJson([kind.name, kind.version, paramsOf(spec, kind), exp.runtime]);
      head = heads.get(text);
      if (head === undefined) heads.set(text, head = `h${heads.size}`);
      specHeads.set(spec, head);
    }
    return head;
  };
  /** Builds the node of `spec` at `step` once all its dependencies have nodes. */
  const build = (spec: StageSpec, step: number | null, deps: Record<string, InstanceNode>) => {
    const kind = registry.get(spec.kind);
    if (!kind) throw new Error(`Unknown stage kind "${spec.kind}"`);
    const seed = deriveSeed(spec.seed ?? exp.seed, step);
    const head = headOf(spec, kind);
    const depIds = Object.entries(deps).map(([k, d]) => `${JSON.stringify(k)}:${d.id}`).sort();
    // Exact (no hash): equal descriptions mean equal instances.
    const description = `${head}|${seed}|${step}|${depIds.join(",")}`;
    let node = byId.get(description);
    if (!node) {
      node = {
        id: `n${byId.size}`,
        stage: spec.name,
        step,
        kind,
        params: paramsOf(spec, kind),
        seed,
        runtime: exp.runtime,
        deps,
        dependents: [],
        uses: [],
        keep: false,
        order: 0,
      };
      for (const d of Object.values(deps)) d.dependents.push(node);
      byId.set(description, node);
      all.push(node);
    }
    if (!node.uses.some((u) => u.runId === point.runId)) {
      node.uses.push({ runId: point.runId, stage: spec.name, step });
      runNodes.push(node);
    }
    if (step === null || lastKept(step)) node.keep = true;
    let list = instances.get(spec);
    if (!list) instances.set(spec, list = []);
    list[slot(step)] = node;
    return node;
  };

  /** A node being resolved: its dependencies so far, in `needs` order. */
  interface Frame {
    spec: StageSpec;
    step: number | null;
    needs: [string, StageRef][];
    deps: Record<string, InstanceNode>;
    resolved: number;
  }
  // Per stage: the slots of the frames on the stack (a second visit is a cycle).
  const visiting = new Map<StageSpec, Set<number>>();
  const enter = (spec: StageSpec, step: number | null): Frame => {
    let set = visiting.get(spec);
    if (!set) visiting.set(spec, set = new Set());
    if (set.has(slot(step))) throw new Error(`Cycle through ${labelOf(spec, step)}`);
    set.add(slot(step));
    return { spec, step, needs: Object.entries(spec.needs), deps: {}, resolved: 0 };
  };

  /**
   * The node of `spec` at `step`, building missing dependencies first (depth
   * first, in `needs` order). Iterative, with an explicit stack: a chain of
   * `prev.` edges as long as the loop must not grow the call stack.
   */
  const get = (spec: StageSpec, step: number | null): InstanceNode => {
    const found = known(spec, step);
    if (found) return found;
    const stack: Frame[] = [enter(spec, step)];
    let built: InstanceNode | undefined;
    while (stack.length > 0) {
      const f = stack[stack.length - 1];
      if (f.resolved < f.needs.length) {
        const [input, ref] = f.needs[f.resolved];
        const target = resolveRef(exp, f.spec, ref.stage, ref.when, f.step);
        const node = known(target.spec, target.step);
        if (node) {
          f.deps[input] = node;
          f.resolved++;
        } else {
          stack.push(enter(target.spec, target.step));
        }
        continue;
      }
      stack.pop();
      visiting.get(f.spec)!.delete(slot(f.step));
      built = build(f.spec, f.step, f.deps);
      const parent = stack[stack.length - 1];
      if (parent) {
        parent.deps[parent.needs[parent.resolved][0]] = built;
        parent.resolved++;
      }
    }
    return built!;
  };

  for (const spec of top) get(spec, null);
  for (let t = 0; t < steps; t++) {
    for (const spec of inLoop) {
      if (stageRunsAt(spec.every, t, steps)) get(spec, t);
    }
  }
  // Already in dependency order: `get` resolves deps before pushing a node.
  return runNodes;
}

/** The stage and step an input reference points at. */
function resolveRef(
  exp: Experiment,
  from: StageSpec,
  target: string,
  when: "same" | "prev",
  step: number | null,
): { spec: StageSpec; step: number | null } {
  const spec = exp.stages[target];
  if (!spec) throw new Error(`${from.name} needs unknown stage ${target}`);
  if (!spec.inLoop) return { spec, step: null };
  const steps = exp.loop!.steps;
  if (when === "prev") {
    if (step === null) throw new Error(`prev.${target} outside the loop`);
    if (step === 0) {
      const init = exp.loop!.init[target];
      if (!init) throw new Error(`prev.${target} at step 0 has no loop.init`);
      return { spec: exp.stages[init], step: null };
    }
    return { spec, step: step - 1 };
  }
  // A top-level stage that names a loop stage gets its final step.
  return { spec, step: step ?? steps - 1 };
}
