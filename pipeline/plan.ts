/**
 * Unrolls sweep points into one graph of stage instances. A loop stage becomes
 * one instance per step (or per `every` steps); `prev.X` edges point at the
 * previous step's instance, or at `loop.init[X]` at step 0. Instances that are
 * identical across points (same kind, version, params, seed, runtime, step and
 * upstream instances) are merged, so they are computed once.
 *
 * @module
 */
import { hashJson, sha256Hex } from "./hash.ts";
import type {
  Experiment,
  JsonObject,
  StageKind,
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
  /** Static identity (hash of kind, params, seed, runtime, position, upstream ids). */
  id: string;
  /** Stage name and step of the first point that declared it (for display). */
  stage: string;
  step: number | null;
  steps: number | null;
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
  const nodes: InstanceNode[] = [];
  const runs: Plan["runs"] = new Map();
  for (const point of points) {
    const runNodes = unrollPoint(point, registry, byId, nodes);
    runs.set(point.runId, { point, nodes: runNodes });
  }
  nodes.forEach((n, i) => (n.order = i));
  return { nodes, runs };
}

function unrollPoint(
  point: SweepPoint,
  registry: StageRegistry,
  byId: Map<string, InstanceNode>,
  all: InstanceNode[],
): InstanceNode[] {
  const exp = point.experiment;
  const instances = new Map<string, InstanceNode>(); // "stage@step" → node
  const runNodes: InstanceNode[] = [];
  const top = Object.values(exp.stages).filter((s) => !s.inLoop);
  const inLoop = Object.values(exp.stages).filter((s) => s.inLoop);
  const steps = exp.loop?.steps ?? 0;
  const lastKept = (step: number) => {
    const k = exp.loop?.keepEvery ?? 0;
    return k === 0 || (step + 1) % k === 0 || step === steps - 1;
  };

  const visiting = new Set<string>();
  const get = (spec: StageSpec, step: number | null): InstanceNode => {
    const label = step === null ? spec.name : `${spec.name}@${step}`;
    const known = instances.get(label);
    if (known) return known;
    if (visiting.has(label)) throw new Error(`Cycle through ${label}`);
    visiting.add(label);
    const deps: Record<string, InstanceNode> = {};
    for (const [input, ref] of Object.entries(spec.needs)) {
      deps[input] = resolveRef(exp, spec, ref.stage, ref.when, step, get);
    }
    visiting.delete(label);
    const kind = registry.get(spec.kind);
    if (!kind) throw new Error(`Unknown stage kind "${spec.kind}"`);
    const seed = deriveSeed(spec.seed ?? exp.seed, step);
    const id = hashJson({
      kind: kind.name,
      version: kind.version,
      params: spec.params,
      seed,
      runtime: exp.runtime,
      step,
      steps: step === null ? null : steps,
      deps: Object.fromEntries(
        Object.entries(deps).map(([k, d]) => [k, d.id]),
      ),
    });
    let node = byId.get(id);
    if (!node) {
      node = {
        id,
        stage: spec.name,
        step,
        steps: step === null ? null : steps,
        kind,
        params: spec.params,
        seed,
        runtime: exp.runtime,
        deps,
        dependents: [],
        uses: [],
        keep: false,
        order: 0,
      };
      for (const d of Object.values(deps)) d.dependents.push(node);
      byId.set(id, node);
      all.push(node);
    }
    if (!node.uses.some((u) => u.runId === point.runId)) {
      node.uses.push({ runId: point.runId, stage: spec.name, step });
      runNodes.push(node);
    }
    if (step === null || lastKept(step)) node.keep = true;
    instances.set(label, node);
    return node;
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

function resolveRef(
  exp: Experiment,
  from: StageSpec,
  target: string,
  when: "same" | "prev",
  step: number | null,
  get: (spec: StageSpec, step: number | null) => InstanceNode,
): InstanceNode {
  const spec = exp.stages[target];
  if (!spec) throw new Error(`${from.name} needs unknown stage ${target}`);
  if (!spec.inLoop) return get(spec, null);
  const steps = exp.loop!.steps;
  if (when === "prev") {
    if (step === null) throw new Error(`prev.${target} outside the loop`);
    if (step === 0) {
      const init = exp.loop!.init[target];
      if (!init) throw new Error(`prev.${target} at step 0 has no loop.init`);
      return get(exp.stages[init], null);
    }
    return get(spec, step - 1);
  }
  // A top-level stage that names a loop stage gets its final step.
  return get(spec, step ?? steps - 1);
}
