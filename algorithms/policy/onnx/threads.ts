/**
 * The intra-op thread count of onnxruntime sessions, kept apart from
 * runtime.ts so that setting it does not load the native library.
 *
 * @module
 */

/**
 * 1 by default: at this model size a second thread made training ~20%
 * slower and sampling no faster on the 2-core VM (`deno task bench` reports
 * both), and the pipeline uses the cores by running one instance per core
 * (`--jobs`). Scoring and gradients are bitwise independent of it (tested);
 * decoding steps are not (log-probs differ at ~1e-7), so the pipeline never
 * changes it.
 */
let threads = 1;

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
