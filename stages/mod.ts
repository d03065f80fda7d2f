/**
 * The lab's stage kinds: `warmstart`, `sample`, `cluster-entropy`,
 * `assign-credit`, `update`, `evaluate`. Each is a thin adapter from cached
 * artifacts to the pure algorithms under `algorithms/`.
 *
 * @module
 */
import { createRegistry } from "../pipeline/registry.ts";
import { BACKENDS } from "../algorithms/policy/backend.ts";
import { assignCredit } from "./assign_credit.ts";
import { clusterEntropy } from "./cluster_entropy.ts";
import { evaluate } from "./evaluate.ts";
import { sampleStage } from "./sample.ts";
import { update } from "./update.ts";
import { warmstart } from "./warmstart.ts";
import { BRIDGE_STAGES } from "../bridge/stages.ts";

/** Registry of the lab's stage kinds (imported by worker threads too). */
export const registry = createRegistry([
  warmstart,
  sampleStage,
  clusterEntropy,
  assignCredit,
  update,
  evaluate,
  ...BRIDGE_STAGES, // real-LLM bridge: read-rollouts, real-planning, real-credit
], {
  backend: {
    type: "enum",
    values: [...BACKENDS],
    default: "wasm",
    doc: "Tensor backend: onnx (fast CPU), wasm (default), cpu (reference), webgpu (real GPU)",
  },
});

export { assignCredit, clusterEntropy, evaluate, sampleStage, update, warmstart };
