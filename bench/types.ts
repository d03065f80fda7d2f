/**
 * Shared shape of benchmark results.
 *
 * @module
 */

/** One measured number from a benchmark. */
export interface BenchRow {
  /** What was measured, e.g. "DuckDB ingest of 1M metric rows". */
  name: string;
  /** The measured value, in `unit`. */
  value: number;
  /** Unit of `value`, e.g. "rows/s" or "ms". */
  unit: string;
  /** Target the value should meet, e.g. "≥ 500k rows/s". */
  target?: string;
  /** Free-form context (machine, sizes). */
  note?: string;
}
