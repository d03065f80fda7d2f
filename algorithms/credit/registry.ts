/**
 * Name → estimator registry, with the built-ins registered on import.
 *
 * @module
 */

import { grpo, hicra, hicraCode, hicraCodeEntropy, highEntropy, placebo } from "./estimators.ts";
import type { Estimator } from "./types.ts";
import { gtpo, gtpoGroup } from "./gtpo.ts";

const registry = new Map<string, Estimator>();

/**
 * Adds an estimator under `name`.
 *
 * @throws Error when the name is taken.
 */
export function registerEstimator(name: string, fn: Estimator): void {
  if (registry.has(name)) {
    throw new Error(`advantage estimator "${name}" is already registered`);
  }
  registry.set(name, fn);
}

/**
 * The estimator registered under `name`.
 *
 * @throws Error naming the known estimators when `name` is unknown.
 */
export function getEstimator(name: string): Estimator {
  const fn = registry.get(name);
  if (!fn) {
    throw new Error(
      `unknown advantage estimator "${name}" (known: ${estimatorNames().join(", ")})`,
    );
  }
  return fn;
}

/** Registered names, in registration order. */
export function estimatorNames(): string[] {
  return [...registry.keys()];
}

registerEstimator("grpo", grpo);
registerEstimator("hicra", hicra);
registerEstimator("hicra-code", hicraCode);
registerEstimator("high-entropy", highEntropy);
registerEstimator("placebo", placebo);
registerEstimator("hicra-code-entropy", hicraCodeEntropy);
registerEstimator("gtpo", gtpo);
registerEstimator("gtpo-group", gtpoGroup);
