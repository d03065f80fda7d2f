/**
 * `assign-credit`: per-token advantages from an estimator of the registry
 * (`grpo`, `hicra`, `hicra-code`, `high-entropy`, `placebo`,
 * `hicra-code-entropy`, or any registered later), and the `tokens` table for
 * SQL inspection.
 *
 * Version 2: `hicra-code` follows the authors' code path as paper digest §2 now
 * describes it (order-statistic entropy threshold, group skip, ungated planning
 * mask with ×(1 ± α)), `hicra-code-entropy` is new, and `group` / `batch` std
 * scaling uses the unbiased std by default (`std_estimator`).
 *
 * @module
 */
import {
  estimatorNames,
  getEstimator,
  type StdEstimator,
  type StdScaling,
} from "../algorithms/credit/mod.ts";
import type { StageKind } from "../pipeline/types.ts";
import {
  type CreditFile,
  type MaskFile,
  readJson,
  type RolloutsFile,
  writeJson,
} from "./artifacts.ts";
import { mean, recordIfFinite } from "./metrics_util.ts";

/** The stage kind. */
export const assignCredit: StageKind = {
  name: "assign-credit",
  version: 2,
  doc: "Per-token advantages from a named estimator",
  params: {
    estimator: { type: "string", default: "hicra", doc: `One of: ${estimatorNames().join(", ")}` },
    alpha: { type: "number", default: 0.2, min: 0, max: 1, doc: "HICRA's α" },
    std_scaling: {
      type: "enum",
      values: ["none", "group", "batch"],
      default: "none",
      doc: "Divide r − group mean by the group / batch std (paper prints none)",
    },
    std_estimator: {
      type: "enum",
      values: ["unbiased", "population"],
      default: "unbiased",
      doc: "Std for std_scaling group / batch: unbiased ÷(n−1) as torch.std in VeRL and TRL, " +
        "or population ÷n; all-equal groups (a group of one included) get 0 either way",
    },
    entropy_top_frac: {
      type: "number",
      default: 0.3,
      min: 0,
      max: 1,
      doc: "High-entropy token fraction (hicra-code, hicra-code-entropy, high-entropy)",
    },
    token_rows: { type: "boolean", default: true, doc: "Write the per-token `tokens` table" },
  },
  inputs: {
    rollouts: { doc: "Output of sample" },
    mask: { doc: "Output of cluster-entropy" },
  },
  check(p) {
    const names = estimatorNames();
    return names.includes(p.estimator as string) ? [] : [
      `estimator: unknown advantage estimator "${p.estimator}" (known: ${names.join(", ")})`,
    ];
  },
  run(ctx) {
    const data = readJson<RolloutsFile>(ctx.inputs.rollouts.dir, "rollouts.json");
    const mask = readJson<MaskFile>(ctx.inputs.mask.dir, "mask.json");
    const rs = data.rollouts;
    const estimator = ctx.params.estimator as string;
    const out = getEstimator(estimator)({
      rewards: rs.map((r) => r.reward),
      groups: rs.map((r) => r.problem),
      lengths: rs.map((r) => r.response.length),
      planning: mask.planning,
      entropy: rs.map((r) => r.entropy),
      random: mask.random,
    }, {
      alpha: ctx.params.alpha as number,
      stdScaling: ctx.params.std_scaling as StdScaling,
      stdEstimator: ctx.params.std_estimator as StdEstimator,
      entropyTopFrac: ctx.params.entropy_top_frac as number,
    });
    const all: number[] = [];
    const planning: number[] = [];
    let amplified = 0;
    out.advantages.forEach((adv, i) =>
      adv.forEach((a, t) => {
        all.push(a);
        if (mask.planning[i][t]) planning.push(a);
        if (out.amplified[i][t]) amplified++;
      })
    );
    recordIfFinite(ctx, "adv/mean", mean(all));
    recordIfFinite(ctx, "adv/abs_mean", mean(all.map(Math.abs)));
    recordIfFinite(ctx, "adv/planning_mean", mean(planning));
    ctx.metric("adv/amplified_frac", all.length ? amplified / all.length : 0);

    if (ctx.params.token_rows) {
      ctx.rows(
        "tokens",
        rs.flatMap((r, i) =>
          r.words.map((w, t) => ({
            rollout: i,
            position: t,
            token: w,
            planning: mask.planning[i][t],
            oracle_planning: r.oracle[t],
            entropy: r.entropy[t],
            logprob: r.logprobs[t],
            advantage: out.advantages[i][t],
          }))
        ),
      );
    }
    const file: CreditFile = { estimator, advantages: out.advantages, amplified: out.amplified };
    writeJson(ctx.outDir, "credit.json", file);
    return Promise.resolve();
  },
};
