/**
 * The intra-op thread count of onnxruntime's scoring and gradient sessions,
 * kept apart from runtime.ts so that setting it does not load the native
 * library. (Decoding always uses one thread: its steps are too small to
 * gain, measured ~30% slower with two.)
 *
 * @module
 */

/**
 * One per core in the main thread (a B32×T64 rlStep: 24k → 30k tok/s with
 * two threads on the 2-core VM), one in worker threads, where the pipeline
 * already runs one instance per core (`--jobs`; two threads each measured no
 * faster there). Scoring and gradients are bitwise independent of it (tested).
 */
let threads = (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope
  ? 1
  : navigator.hardwareConcurrency || 1;

/** Sets the intra-op thread count of sessions created from now on (0 = one per core). */
export function setOrtThreads(n: number): void {
  if (!Number.isInteger(n) || n < 0) {
    throw new Error(`ORT threads must be an integer >= 0, got ${n}`);
  }
  threads = n;
}

/** The configured intra-op thread count (0 = one per core). */
export function ortThreads(): number {
  return threads;
}
