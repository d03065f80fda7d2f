/**
 * `run --only`: keeps the points of some named ablation conditions (and the
 * comparison's baseline, so that every kept condition can still be paired).
 *
 * @module
 */
import type { SweepPlan } from "./config.ts";
import { UserError } from "./errors.ts";
import { didYouMean } from "./suggest.ts";

/**
 * The plan restricted to the conditions named in `only` (each entry may hold
 * several comma-separated names), plus the `compare:` baseline when the file has
 * one. Returns the plan unchanged when `only` is empty.
 *
 * @throws UserError when the file has no ablation conditions or a name is unknown.
 */
export function selectConditions(plan: SweepPlan, only: readonly string[]): SweepPlan {
  const names = only.flatMap((s) => s.split(",")).map((s) => s.trim()).filter((s) => s);
  if (names.length === 0) return plan;
  const conditionOf = (p: SweepPlan["points"][number]) => p.overrides.condition;
  const known = [...new Set(plan.points.map(conditionOf).filter((c) => typeof c === "string"))];
  if (known.length === 0) {
    throw new UserError(
      "--only selects ablation conditions, but this file has no sweep.ablation; " +
        "use --set to pick values instead",
    );
  }
  for (const name of names) {
    if (!known.includes(name)) {
      throw new UserError(
        `--only ${name}: no such condition${didYouMean(name, known)} (conditions: ${
          known.join(", ")
        })`,
      );
    }
  }
  const keep = new Set(names);
  if (plan.compare) keep.add(plan.compare.baseline);
  return { ...plan, points: plan.points.filter((p) => keep.has(conditionOf(p) as string)) };
}
