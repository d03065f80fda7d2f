/**
 * A worked plug-in example: a new advantage estimator and a new stage kind,
 * added from outside the lab. `experiment.yaml` beside it names this file under
 * `plugins:`.
 *
 * - Estimator `planning-only`: the group advantage Â on planning tokens and 0
 *   on every other token (credit for strategy choices only). It goes into the
 *   lab's own estimator registry, so `assign-credit` reads it by name; the
 *   module says so in `affects`, which puts this file's source hash into the
 *   cache keys of `assign-credit` instances.
 * - Stage kind `credit-stats`: reads `assign-credit`'s output and records the
 *   share of tokens with non-zero advantage (metric `credit/nonzero_frac`).
 *
 * Edit this file and run the experiment again: `--dry-run --explain` lists
 * `plug-in ./my_estimator.ts source changed`, and the instances rerun.
 *
 * @module
 */
import {
  type CreditInput,
  type CreditOptions,
  type CreditOutput,
  groupAdvantages,
  registerEstimator,
} from "../../algorithms/credit/mod.ts";
import type { StageKind } from "../../mod.ts";

/** Â on planning tokens, 0 elsewhere. */
export function planningOnly(input: CreditInput, opts: CreditOptions): CreditOutput {
  const adv = groupAdvantages(input.rewards, input.groups, opts.stdScaling, opts.stdEstimator);
  return {
    advantages: input.planning.map((mask, i) => mask.map((p) => (p ? adv[i] : 0))),
    amplified: input.planning.map((mask) => mask.map(() => false)),
  };
}

registerEstimator("planning-only", planningOnly);

/** Kinds whose results this module's import changes (see pipeline/plugins.ts). */
export const affects = ["assign-credit"];

/** `credit-stats`: the share of response tokens with a non-zero advantage. */
const creditStats: StageKind = {
  name: "credit-stats",
  version: 1,
  doc: "Share of tokens with non-zero advantage in an assign-credit output",
  params: {
    eps: { type: "number", default: 0, min: 0, doc: "|advantage| above this counts as non-zero" },
  },
  inputs: { credit: { doc: "Output of assign-credit" } },
  run(ctx) {
    const file = JSON.parse(Deno.readTextFileSync(`${ctx.inputs.credit.dir}/credit.json`));
    const all = (file.advantages as number[][]).flat();
    const eps = ctx.params.eps as number;
    const share = all.length ? all.filter((a) => Math.abs(a) > eps).length / all.length : 0;
    Deno.writeTextFileSync(`${ctx.outDir}/stats.json`, JSON.stringify({ nonzero_frac: share }));
    ctx.metric("credit/nonzero_frac", share);
    return Promise.resolve();
  },
};

/** Stage kinds this plug-in adds. */
export const stageKinds: StageKind[] = [creditStats];
