/**
 * The policy: a tiny GPT on TensorFlow.js with backend selection, KV-cache
 * sampling, supervised and RL (GRPO / HICRA clipped surrogate) training
 * steps, and checkpoints.
 *
 * @module
 */

export * from "./backend.ts";
export * from "./gpt.ts";
export * from "./sampler.ts";
export * from "./train.ts";
export * from "./checkpoint.ts";
