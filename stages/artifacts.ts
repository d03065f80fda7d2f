/**
 * File formats the RL stages exchange through the cache. Each stage's output
 * directory holds one of these as JSON (deterministic text, so equal content
 * gives equal hashes and early cutoff works).
 *
 * @module
 */
import type { Problem } from "../algorithms/tasks/mod.ts";

/** One sampled response. */
export interface Rollout {
  /** Index into `RolloutsFile.problems`; also the GRPO group id. */
  problem: number;
  /** Prompt token ids (with BOS). */
  prompt: number[];
  /** Response token ids (EOS included when the policy stopped). */
  response: number[];
  /** Response tokens as words (for Strategic-Gram matching). */
  words: string[];
  /** log π_old of each response token (the PPO ratio's denominator). */
  logprobs: number[];
  /** Entropy (nats) of the next-token distribution at each response token. */
  entropy: number[];
  reward: number;
  correct: boolean;
  /** Oracle planning labels of the response tokens. */
  oracle: boolean[];
}

/** Output of `sample`: `rollouts.json`. */
export interface RolloutsFile {
  groupSize: number;
  problems: Problem[];
  rollouts: Rollout[];
}

/** Output of `cluster-entropy`: `mask.json`. */
export interface MaskFile {
  method: string;
  /** The Strategic-Gram set used (empty for `oracle`). */
  grams: string[];
  /** Identified planning tokens per rollout. */
  planning: boolean[][];
  /** Placebo mask (same per-rollout token budget, random positions). */
  random: boolean[][];
}

/** Output of `assign-credit`: `credit.json`. */
export interface CreditFile {
  estimator: string;
  advantages: number[][];
  amplified: boolean[][];
}

/** Reads a JSON artifact file from an input directory. */
export function readJson<T>(dir: string, name: string): T {
  return JSON.parse(Deno.readTextFileSync(`${dir}/${name}`)) as T;
}

/** Writes a JSON artifact file into an output directory. */
export function writeJson(dir: string, name: string, value: unknown): void {
  Deno.writeTextFileSync(`${dir}/${name}`, JSON.stringify(value));
}
