/**
 * Reading and writing the policy artifact (`policy/` checkpoint with optimizer
 * state, plus `tokenizer.json`) and choosing the tensor backend from the
 * experiment's `runtime.backend`.
 *
 * @module
 */
import {
  type Adam,
  type BackendName,
  type Gpt,
  loadCheckpoint,
  loadOptimizer,
  saveCheckpoint,
  setOrtThreads,
  useBackend,
} from "../algorithms/policy/mod.ts";
import { WordTokenizer } from "../algorithms/tasks/mod.ts";
import type { JsonObject } from "../pipeline/types.ts";

/**
 * Activates the backend named by `runtime.backend` (default wasm). `threads` (the instance's
 * share of the cores, see StageContext.threads) sets onnxruntime's intra-op threads for the
 * sessions this instance uses; results are bitwise independent of it (tested).
 */
export async function backendFrom(runtime: JsonObject, threads?: number): Promise<BackendName> {
  const name = (runtime.backend ?? "wasm") as BackendName;
  if (name === "onnx" && threads !== undefined) setOrtThreads(threads);
  await useBackend(name);
  return name;
}

/** A loaded policy. */
export interface LoadedPolicy {
  model: Gpt;
  tokenizer: WordTokenizer;
  /** Optimizer state saved with the checkpoint (null for a fresh one). */
  optimizer: Adam | null;
}

/** Loads the policy artifact in `dir`. */
export async function loadPolicy(dir: string, withOptimizer = false): Promise<LoadedPolicy> {
  const model = await loadCheckpoint(`${dir}/policy`);
  const tokenizer = WordTokenizer.fromJSON(
    JSON.parse(Deno.readTextFileSync(`${dir}/tokenizer.json`)),
  );
  const optimizer = withOptimizer ? await loadOptimizer(`${dir}/policy`, model) : null;
  return { model, tokenizer, optimizer };
}

/** Writes the policy artifact into `dir`. */
export async function savePolicy(
  dir: string,
  model: Gpt,
  tokenizer: WordTokenizer,
  optimizer?: Adam,
): Promise<void> {
  Deno.mkdirSync(`${dir}/policy`, { recursive: true });
  await saveCheckpoint(model, `${dir}/policy`, { optimizer });
  Deno.writeTextFileSync(`${dir}/tokenizer.json`, JSON.stringify(tokenizer.toJSON()));
}
