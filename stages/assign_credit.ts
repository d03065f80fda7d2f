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
 * `segment-mc` (VinePPO-style segment Monte-Carlo credit,
 * algorithms/credit/segment_mc.ts) is not a registry estimator: it needs the
 * policy that sampled the rollouts (optional input `policy`, e.g.
 * `prev.update`) to continue every segment-start prefix `mc_rollouts` times.
 * Its segments are the runs of the `mask` input's planning labels, so
 * `cluster-entropy.method: oracle` gives oracle boundaries and `paper` gives
 * Strategic-Gram boundaries. Other estimators ignore `policy` and the `mc_*`
 * params.
 *
 * @module
 */
import {
  type CreditOutput,
  estimatorNames,
  getEstimator,
  SEGMENT_MC,
  segmentMc,
  type StdEstimator,
  type StdScaling,
} from "../algorithms/credit/mod.ts";
import { disposeGpt } from "../algorithms/policy/mod.ts";
import { REWARD_MODES, type RewardMode, rewardOf } from "../algorithms/tasks/mod.ts";
import { Rng } from "../algorithms/rng.ts";
import type { JsonObject, StageContext, StageKind } from "../pipeline/types.ts";
import { ignoreParams } from "../pipeline/key_params.ts";
import {
  type CreditFile,
  type MaskFile,
  readJson,
  type RolloutsFile,
  writeJson,
} from "./artifacts.ts";
import { segmentValues } from "./mc_values.ts";
import { mean, recordIfFinite } from "./metrics_util.ts";
import { backendFrom, loadPolicy } from "./policy_io.ts";

/** Every estimator name the stage accepts: the registry's and `segment-mc`. */
const knownEstimators = () => [...estimatorNames(), SEGMENT_MC];

/** The stage kind. */
export const assignCredit: StageKind = {
  name: "assign-credit",
  version: 2,
  doc: "Per-token advantages from a named estimator",
  params: {
    estimator: { type: "string", default: "hicra", doc: `One of: ${knownEstimators().join(", ")}` },
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
    mc_rollouts: {
      omitAtDefault: true,
      type: "integer",
      default: 2,
      min: 1,
      doc: "segment-mc: continuations K per distinct segment-start prefix (V̂ = mean reward)",
    },
    mc_merge_gap: {
      omitAtDefault: true,
      type: "integer",
      default: 1,
      min: 0,
      doc: "segment-mc: execution runs of at most this many tokens between planning runs " +
        "(`then`, a comma) join them into one decision segment; 0 cuts at every switch",
    },
    mc_whiten: {
      omitAtDefault: true,
      type: "boolean",
      default: false,
      doc: "segment-mc: whiten the advantages over the step's tokens (VinePPO does; off keeps " +
        "reward units, comparable to GRPO with std_scaling none)",
    },
    mc_reward: {
      omitAtDefault: true,
      type: "enum",
      values: [...REWARD_MODES],
      default: "answer",
      doc: "segment-mc: reward of a continuation; must be the sample stage's (checked)",
    },
    mc_temperature: {
      omitAtDefault: true,
      type: "number",
      default: 1,
      min: 0,
      doc: "segment-mc: sampling temperature of the continuations (the sample stage's)",
    },
    mc_top_p: {
      omitAtDefault: true,
      type: "number",
      default: 1,
      exclusiveMin: 0,
      max: 1,
      doc: "segment-mc: nucleus mass of the continuations (the sample stage's)",
    },
    mc_max_new_tokens: {
      omitAtDefault: true,
      type: "integer",
      default: 96,
      min: 1,
      doc: "segment-mc: response length cap of the continuations (the sample stage's)",
    },
  },
  inputs: {
    rollouts: { doc: "Output of sample" },
    mask: { doc: "Output of cluster-entropy" },
    policy: {
      doc: "The policy that sampled the rollouts (prev.update); read by segment-mc only",
      optional: true,
    },
  },
  check(p) {
    const names = knownEstimators();
    if (!names.includes(p.estimator as string)) {
      return [
        `estimator: unknown advantage estimator "${p.estimator}" (known: ${names.join(", ")})`,
      ];
    }
    return p.estimator === SEGMENT_MC && p.std_scaling !== "none"
      ? [
        `std_scaling: segment-mc takes "none" (got "${p.std_scaling}"); ` +
        "use mc_whiten: true for VinePPO's whitening",
      ]
      : [];
  },
  // Only segment-mc reads the policy: for the others it stays out of the key.
  readsInput(name, p) {
    return name !== "policy" || p.estimator === SEGMENT_MC;
  },
  // Params an estimator ignores are reset to their defaults, so they do not split the cache.
  keyParams(p) {
    return ignoreParams(assignCredit.params, p, ignoredParams(p));
  },
  async run(ctx) {
    const data = readJson<RolloutsFile>(ctx.inputs.rollouts.dir, "rollouts.json");
    const mask = readJson<MaskFile>(ctx.inputs.mask.dir, "mask.json");
    const rs = data.rollouts;
    const estimator = ctx.params.estimator as string;
    const out = estimator === SEGMENT_MC
      ? await segmentCredit(ctx, data, mask)
      : getEstimator(estimator)({
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
  },
};

/**
 * `segment-mc`: Monte-Carlo values at the starts of the mask's planning / execution segments
 * from the policy input, then the pure estimator. Records the prefix counts.
 */
async function segmentCredit(
  ctx: StageContext,
  data: RolloutsFile,
  mask: MaskFile,
): Promise<CreditOutput> {
  if (!ctx.inputs.policy) {
    throw new Error(
      "estimator segment-mc continues prefixes with the policy that sampled the rollouts: " +
        "wire it in the experiment with `needs: { policy: prev.update }` on this stage",
    );
  }
  const p = ctx.params;
  const reward = p.mc_reward as RewardMode;
  // A continuation must earn reward as the rollouts did: catch a mismatched mc_reward.
  data.rollouts.forEach((r, i) => {
    if ((rewardOf(data.problems[r.problem], r.words, reward) ? 1 : 0) !== r.reward) {
      throw new Error(
        `mc_reward is "${reward}" but rollout ${i} earned ${r.reward} under the sample ` +
          "stage's reward; set assign-credit.mc_reward to sample's `reward`",
      );
    }
  });
  await backendFrom(ctx.runtime, ctx.threads);
  const { model, tokenizer } = await loadPolicy(ctx.inputs.policy.dir);
  try {
    const v = await segmentValues(model, tokenizer, data, mask.planning, {
      rollouts: p.mc_rollouts as number,
      mergeGap: p.mc_merge_gap as number,
      temperature: p.mc_temperature as number,
      topP: p.mc_top_p as number,
      maxNewTokens: p.mc_max_new_tokens as number,
      reward,
      // Its own stream: the step's sample stage draws from the same instance seed.
      seed: new Rng(`${ctx.seed}/segment-mc`).uint32(),
    });
    ctx.metric("mc/prefixes", v.prefixes);
    ctx.metric("mc/unique_prefixes", v.unique);
    ctx.metric("mc/sampled_tokens", v.sampledTokens);
    ctx.metric("mc/segments_per_response", mean(v.starts.map((s) => s.length)));
    recordIfFinite(ctx, "mc/value_mean", mean(v.boundaryValues.flat()));
    return segmentMc({
      rewards: data.rollouts.map((r) => r.reward),
      groups: data.rollouts.map((r) => r.problem),
      lengths: data.rollouts.map((r) => r.response.length),
      starts: v.starts,
      boundaryValues: v.boundaryValues,
    }, { whiten: p.mc_whiten as boolean });
  } finally {
    disposeGpt(model);
  }
}

/**
 * Params the built-in estimators do not read (unknown estimators, e.g. from
 * plug-ins, keep them all): α where nothing is
 * modulated, the entropy fraction where no entropy mask is taken, the
 * segment-mc settings, and `std_estimator` when no std is divided by.
 */
function ignoredParams(p: JsonObject): string[] {
  const estimator = p.estimator as string;
  const uses = Object.hasOwn(BUILTIN_USES, estimator) ? BUILTIN_USES[estimator] : undefined;
  if (!uses) return [];
  const ignored = Object.keys(assignCredit.params).filter((k) =>
    (k.startsWith("mc_") || k === "alpha" || k === "entropy_top_frac") && !uses.includes(k)
  );
  if (p.std_scaling === "none") ignored.push("std_estimator");
  return ignored;
}

/** The estimator-specific params each built-in registry estimator reads. */
const BUILTIN_USES: Record<string, string[]> = {
  grpo: [],
  hicra: ["alpha"],
  placebo: ["alpha"],
  "high-entropy": ["alpha", "entropy_top_frac"],
  "hicra-code": ["alpha", "entropy_top_frac"],
  "hicra-code-entropy": ["alpha", "entropy_top_frac"],
  [SEGMENT_MC]: Object.keys(assignCredit.params).filter((k) => k.startsWith("mc_")),
};
