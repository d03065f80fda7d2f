/**
 * Small helpers stages share for recording metrics.
 *
 * @module
 */
import type { StageContext } from "../pipeline/types.ts";

/** Records a metric when it is defined (an empty token class gives null). */
export function recordIfFinite(
  ctx: Pick<StageContext, "metric">,
  name: string,
  value: number | null | undefined,
): void {
  if (value !== null && value !== undefined && Number.isFinite(value)) ctx.metric(name, value);
}

/** Mean of a list (NaN when empty). */
export function mean(values: readonly number[]): number {
  let s = 0;
  for (const v of values) s += v;
  return values.length ? s / values.length : NaN;
}

/** Population standard deviation (NaN when empty). */
export function std(values: readonly number[]): number {
  const m = mean(values);
  return Math.sqrt(mean(values.map((v) => (v - m) ** 2)));
}
