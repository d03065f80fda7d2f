/**
 * `update`: one policy-gradient update on a step's rollouts with the
 * per-token advantages of `assign-credit`: clipped surrogate with clip-higher
 * (ε_low 0.2, ε_high 0.28), verl's loss aggregations, optional KL to a
 * reference policy and optional entropy regularisation. The Adam state travels
 * with the policy, so step t+1 continues step t's optimizer.
 *
 * Rival losses (issue 12), all off by default so that a default update is
 * byte-identical to version 1's: forking tokens (`top_entropy_quantile`),
 * GSPO's sequence ratio (`ratio`), KL-Cov and Clip-Cov (`policy_loss`); Dr.
 * GRPO is `loss_agg: seq-mean-token-sum-norm` with `max_new_tokens` = the
 * generation budget and assign-credit's `std_scaling: none`. See rlStep.
 *
 * @module
 */
import {
  Adam,
  disposeGpt,
  type LossAgg,
  type PolicyLoss,
  type RatioLevel,
  rlStep,
} from "../algorithms/policy/mod.ts";
import { Rng } from "../algorithms/rng.ts";
import type { StageKind } from "../pipeline/types.ts";
import { type CreditFile, readJson, type RolloutsFile } from "./artifacts.ts";
import { mean } from "./metrics_util.ts";
import { backendFrom, loadPolicy, savePolicy } from "./policy_io.ts";

/** The stage kind. */
export const update: StageKind = {
  name: "update",
  version: 1,
  doc: "Clipped policy-gradient update with per-token advantages",
  params: {
    lr: { type: "number", default: 5e-4, min: 0, max: 1, doc: "Adam learning rate" },
    clip_low: { type: "number", default: 0.2, min: 0, max: 1, doc: "ε_low" },
    clip_high: { type: "number", default: 0.28, min: 0, max: 10, doc: "ε_high (clip-higher)" },
    loss_agg: {
      type: "enum",
      values: ["token-mean", "seq-mean-token-mean", "seq-mean-token-sum-norm"],
      default: "token-mean",
      doc: "Loss aggregation (verl loss_agg_mode)",
    },
    kl_beta: { type: "number", default: 0, min: 0, doc: "β of the KL to the reference policy" },
    entropy_coef: {
      type: "number",
      default: 0,
      min: 0,
      doc: "Entropy bonus coefficient (the paper's Entropy Reg. baseline)",
    },
    epochs: { type: "integer", default: 1, min: 1, max: 100, doc: "Passes over the rollouts" },
    minibatches: { type: "integer", default: 1, min: 1, max: 4096, doc: "Minibatches per pass" },
    group_by_length: {
      type: "boolean",
      default: false,
      doc: "Minibatches of similar lengths, in random order (HF Trainer's group_by_length): " +
        "less padding, same samples per pass",
    },
    max_grad_norm: { type: "number", default: 1, min: 0, doc: "Global grad-norm clip (0: off)" },
    temperature: {
      type: "number",
      default: 1,
      exclusiveMin: 0,
      max: 10,
      doc: "Sampling temperature of the rollouts (for the ratio's log-probs), > 0",
    },
    max_new_tokens: {
      type: "integer",
      default: 64,
      min: 1,
      doc: "Dr. GRPO's constant for seq-mean-token-sum-norm: set it to the sampler's " +
        "max_new_tokens (96 by default) to divide by the generation budget as Dr. GRPO does",
    },
    top_entropy_quantile: {
      omitAtDefault: true,
      type: "number",
      default: 1,
      min: 0,
      max: 1,
      doc: "Forking tokens (arXiv 2506.01939, TRL top_entropy_quantile): only tokens whose " +
        "entropy is in the minibatch's top ρ keep their pg loss (0.2 in the paper; 1: all)",
    },
    ratio: {
      omitAtDefault: true,
      type: "enum",
      values: ["token", "sequence", "sequence-token"],
      default: "token",
      doc: "Importance ratio per token (PPO), per sequence (GSPO, arXiv 2507.18071: " +
        "exp(mean log-ratio); use clip 3e-4 / 4e-4) or GSPO-token",
    },
    policy_loss: {
      omitAtDefault: true,
      type: "enum",
      values: ["vanilla", "kl-cov", "clip-cov"],
      default: "vanilla",
      doc: "verl policy_loss.loss_mode: clipped surrogate, KL-Cov or Clip-Cov " +
        "(arXiv 2505.22617; token ratios only)",
    },
    kl_cov_ratio: {
      omitAtDefault: true,
      type: "number",
      default: 0.0002,
      min: 0,
      max: 1,
      doc: "KL-Cov: share of tokens (largest covariance) with the |log-ratio| penalty (verl)",
    },
    ppo_kl_coef: {
      omitAtDefault: true,
      type: "number",
      default: 0.1,
      min: 0,
      doc: "KL-Cov: coefficient of |log π − log π_old| (verl)",
    },
    clip_cov_ratio: {
      omitAtDefault: true,
      type: "number",
      default: 0.0002,
      min: 0,
      max: 1,
      doc: "Clip-Cov: share of tokens detached at random among the candidates (verl)",
    },
    clip_cov_lb: {
      omitAtDefault: true,
      type: "number",
      default: 1,
      doc: "Clip-Cov: candidates have covariance > lb (verl)",
    },
    clip_cov_ub: {
      omitAtDefault: true,
      type: "number",
      default: 5,
      doc: "Clip-Cov: candidates have covariance < ub (verl)",
    },
  },
  check(p) {
    const problems: string[] = [];
    if (p.policy_loss !== "vanilla" && p.ratio !== "token") {
      problems.push(
        `policy_loss: "${p.policy_loss}" is defined on token ratios; set ratio: token ` +
          `(got ratio: ${p.ratio})`,
      );
    }
    if (p.policy_loss === "kl-cov" && !((p.kl_cov_ratio as number) > 0)) {
      problems.push("kl_cov_ratio: must be > 0 with policy_loss: kl-cov");
    }
    if (p.policy_loss === "clip-cov" && !((p.clip_cov_ratio as number) > 0)) {
      problems.push("clip_cov_ratio: must be > 0 with policy_loss: clip-cov");
    }
    return problems;
  },
  inputs: {
    policy: { doc: "Policy to update" },
    rollouts: { doc: "Output of sample (from this policy)" },
    credit: { doc: "Output of assign-credit" },
    reference: { doc: "Frozen reference policy for the KL term", optional: true },
  },
  async run(ctx) {
    await backendFrom(ctx.runtime, ctx.threads);
    const p = ctx.params;
    if ((p.kl_beta as number) > 0 && !ctx.inputs.reference) {
      throw new Error(
        "kl_beta > 0 needs a `reference` input (e.g. needs: { reference: warmstart })",
      );
    }
    const { model, tokenizer, optimizer } = await loadPolicy(ctx.inputs.policy.dir, true);
    const ref = ctx.inputs.reference
      ? (await loadPolicy(ctx.inputs.reference.dir)).model
      : undefined;
    const adam = optimizer ?? new Adam({ lr: p.lr as number });
    adam.lr = p.lr as number;
    const data = readJson<RolloutsFile>(ctx.inputs.rollouts.dir, "rollouts.json");
    const credit = readJson<CreditFile>(ctx.inputs.credit.dir, "credit.json");
    const rs = data.rollouts;
    const order = rs.map((_, i) => i);
    const rng = new Rng(ctx.seed);
    const parts = p.minibatches as number;
    const policyLoss = p.policy_loss as PolicyLoss;
    // Clip-Cov's random token subsets: a stream of their own, so the minibatches stay as
    // in every other condition of the same seed.
    const covRng = policyLoss === "clip-cov" ? new Rng(`${ctx.seed}:clip-cov`) : undefined;
    const rho = p.top_entropy_quantile as number;
    const stats: Record<string, number[]> = {};
    const push = (k: string, v: number) => (stats[k] ??= []).push(v);
    for (let e = 0; e < (p.epochs as number); e++) {
      const batches = minibatchOrder(
        order,
        parts,
        rng,
        p.group_by_length ? (i) => rs[i].prompt.length + rs[i].response.length : null,
      );
      for (const idx of batches) {
        if (idx.length === 0) continue;
        const r = await rlStep(model, adam, {
          tokens: idx.map((i) => [...rs[i].prompt, ...rs[i].response]),
          responseStart: idx.map((i) => rs[i].prompt.length),
          advantages: idx.map((i) => credit.advantages[i]),
          oldLogprobs: idx.map((i) => rs[i].logprobs),
          refModel: ref,
        }, {
          clipLow: p.clip_low as number,
          clipHigh: p.clip_high as number,
          lossAgg: p.loss_agg as LossAgg,
          lossScaleFactor: p.max_new_tokens as number,
          klBeta: p.kl_beta as number,
          entropyCoef: p.entropy_coef as number,
          maxGradNorm: p.max_grad_norm as number,
          temperature: p.temperature as number,
          topEntropyQuantile: rho,
          ratioLevel: p.ratio as RatioLevel,
          policyLoss,
          klCovRatio: p.kl_cov_ratio as number,
          ppoKlCoef: p.ppo_kl_coef as number,
          clipCovRatio: p.clip_cov_ratio as number,
          clipCovLb: p.clip_cov_lb as number,
          clipCovUb: p.clip_cov_ub as number,
          rng: covRng,
        });
        push("loss", r.loss);
        push("pg_loss", r.pgLoss);
        push("clip/low", r.clipLowFrac);
        push("clip/high", r.clipHighFrac);
        push("kl", r.kl);
        push("entropy", r.entropy);
        push("grad_norm", r.gradNorm);
        push("ratio/mean", r.ratioMean);
        // Only with the options on: the default run's metrics stay byte-identical.
        if (rho < 1) push("entropy_mask/kept_frac", r.entropyKeptFrac);
        if (policyLoss !== "vanilla") push("cov/selected_frac", r.covSelectedFrac);
      }
    }
    for (const [k, v] of Object.entries(stats)) ctx.metric(k, mean(v));
    await savePolicy(ctx.outDir, model, tokenizer, adam);
    disposeGpt(model);
    if (ref) disposeGpt(ref);
  },
};

/**
 * The minibatches of one pass: a random permutation cut into `parts` (with one part, the
 * rollouts in order). With `lengthOf`, the permutation is stably sorted by length before it is
 * cut, and the minibatches are visited in random order: each minibatch then holds rollouts of
 * similar lengths (little padding), while which rollouts share a minibatch and the visiting
 * order stay random among equal lengths.
 */
export function minibatchOrder(
  order: readonly number[],
  parts: number,
  rng: Rng,
  lengthOf: ((i: number) => number) | null,
): number[][] {
  let perm = parts > 1 ? rng.shuffle(order) : [...order];
  if (lengthOf && parts > 1) perm = [...perm].sort((a, b) => lengthOf(a) - lengthOf(b));
  const size = Math.ceil(perm.length / parts);
  const batches = Array.from({ length: parts }, (_, m) => perm.slice(m * size, (m + 1) * size));
  return lengthOf && parts > 1 ? rng.shuffle(batches) : batches;
}
