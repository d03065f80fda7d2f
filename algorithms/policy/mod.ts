/**
 * The policy: a tiny GPT on TensorFlow.js with backend selection (including
 * "onnx": the same network on onnxruntime), KV-cache sampling, supervised
 * and RL (GRPO / HICRA clipped surrogate) training steps, and checkpoints.
 *
 * @module
 */

export * from "./backend.ts";
export * from "./gpt.ts";
export * from "./sampler.ts";
export * from "./train.ts";
export * from "./checkpoint.ts";
// The onnx engine itself (./onnx/engine.ts) loads onnxruntime's native
// library: import it directly, or reach it through `onnxEngine()`.
export type { ScoringBatch, TokenStatsArrays, WeightFeeds } from "./onnx/engine.ts";
export { ortThreads, setOrtThreads } from "./onnx/threads.ts";
