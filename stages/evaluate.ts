/**
 * `evaluate`: pass@1 and unbiased pass@k on held-out in-distribution (`id`)
 * and out-of-distribution (`ood`) problems; token entropy and perplexity split
 * into planning / execution tokens (oracle labels and the paper's Strategic
 * Grams); semantic entropy; response length; first-strategy and per-fact
 * execution accuracy. With a `baseline` input (an `evaluate` of the base
 * policy), perplexities are also reported relative to it (the paper's
 * relative perplexity).
 *
 * @module
 */
import { disposeGpt, sequenceLogprobs } from "../algorithms/policy/mod.ts";
import {
  allProblems,
  generateProblems,
  type Problem,
  REWARD_MODES,
  type RewardMode,
} from "../algorithms/tasks/mod.ts";
import {
  meanPassAtK,
  perplexity,
  relativePerplexity,
  tokenEntropyStats,
} from "../algorithms/metrics/mod.ts";
import {
  compileGrams,
  countGrams,
  GRAM_COUNTINGS,
  type GramCounting,
  matchGrams,
  PAPER_STRATEGIC_GRAMS,
  semanticEntropy,
} from "../algorithms/planning/mod.ts";
import type { JsonObject, StageKind } from "../pipeline/types.ts";
import { readJson, writeJson } from "./artifacts.ts";
import { mean, recordIfFinite } from "./metrics_util.ts";
import { backendFrom, loadPolicy } from "./policy_io.ts";
import { behaviour, rollOut, type ScoredRollout } from "./rollout.ts";

/** The stage kind. */
export const evaluate: StageKind = {
  name: "evaluate",
  version: 2,
  doc: "pass@k on id / ood splits, token-class entropy and perplexity, semantic entropy",
  params: {
    problems: {
      type: "integer",
      default: 64,
      min: 0,
      max: 100_000,
      doc: "Problems of the id split (0: the whole id pool, 824 at level 1)",
    },
    ood_problems: {
      type: "integer",
      default: 64,
      min: 0,
      max: 100_000,
      doc: "Problems of the ood split (0: the whole ood pool; large)",
    },
    samples: { type: "integer", default: 8, min: 1, max: 1024, doc: "Samples per problem (n)" },
    k: { type: "integer", default: 8, min: 1, doc: "k of pass@k (also reports pass@1)" },
    temperature: {
      type: "number",
      default: 0.6,
      min: 0,
      max: 10,
      doc: "Sampling temperature (paper: 0.6; 0: greedy)",
    },
    max_new_tokens: {
      type: "integer",
      default: 96,
      min: 1,
      max: 4096,
      doc: "Response length cap (also capped by the context)",
    },
    difficulty: { type: "integer", default: 1, min: 1, max: 2, doc: "Task difficulty level" },
    reward: {
      type: "enum",
      values: [...REWARD_MODES],
      default: "answer",
      doc: "What counts as correct for pass@k (see sample)",
    },
    token_stats_samples: {
      type: "integer",
      default: 0,
      min: 0,
      max: 1024,
      doc: "Samples per id problem scored for token entropy / perplexity (0: all)",
    },
    counting: {
      type: "enum",
      values: [...GRAM_COUNTINGS],
      default: "greedy",
      doc: "Semantic-entropy counts: greedy (each written phrase once) or all-occurrences (TRL)",
    },
    problem_seed: {
      type: "integer",
      default: 1234,
      doc: "Seed of the evaluation problems (fixed, so every step sees the same set)",
    },
  },
  inputs: {
    policy: { doc: "Policy to evaluate" },
    baseline: {
      doc: "evaluate output of the base policy (for relative perplexity)",
      optional: true,
    },
  },
  check(p) {
    return (p.k as number) > (p.samples as number)
      ? [`k: ${p.k} is larger than samples: ${p.samples}`]
      : [];
  },
  async run(ctx) {
    await backendFrom(ctx.runtime, ctx.threads);
    const { model, tokenizer } = await loadPolicy(ctx.inputs.policy.dir);
    const p = ctx.params;
    const n = p.samples as number;
    const k = p.k as number;
    const out: JsonObject = {};
    const put = (name: string, v: number | null) => {
      recordIfFinite(ctx, name, v);
      if (v !== null && Number.isFinite(v)) out[name] = v;
    };
    let idRollouts: ScoredRollout[] = [];
    let idProblems: Problem[] = [];
    for (const split of ["id", "ood"] as const) {
      const count = (split === "id" ? p.problems : p.ood_problems) as number;
      const problems = count === 0 ? allProblems(split, p.difficulty as number) : generateProblems({
        seed: p.problem_seed as number,
        count,
        split,
        difficulty: p.difficulty as number,
      });
      const rs = await rollOut(model, tokenizer, problems, {
        groupSize: n,
        temperature: p.temperature as number,
        topP: 1,
        maxNewTokens: p.max_new_tokens as number,
        seed: ctx.seed + (split === "ood" ? 1 : 0),
        reward: p.reward as RewardMode,
      });
      const perProblem = problems.map((_, i) => ({
        n,
        c: rs.filter((r) => r.problem === i && r.correct).length,
      }));
      put(`pass@1/${split}`, meanPassAtK(perProblem, 1));
      put(`pass@${k}/${split}`, meanPassAtK(perProblem, k));
      const b = behaviour(rs);
      put(`strategy/first_correct/${split}`, b.firstStrategyCorrect);
      put(`exec/accuracy/${split}`, b.execAccuracy);
      put(`exec/sound/${split}`, b.execSound);
      put(`answer/correct/${split}`, b.answerCorrect);
      put(`strategy/diversity/${split}`, b.strategyDiversity);
      ctx.rows(
        "evaluations",
        rs.map((r, i) => ({
          split,
          problem: problems[r.problem].id,
          sample: i % n,
          correct: r.correct,
          length: r.response.length,
          first_strategy_correct: r.analysis.firstStrategyCorrect,
          text: tokenizer.decode(r.response),
        })),
      );
      if (split === "id") {
        idRollouts = rs;
        idProblems = problems;
      }
    }
    // Token statistics of the policy's own id samples under temperature 1 (the first
    // token_stats_samples samples of each problem when set: scoring all of them costs as much
    // as sampling them).
    const perProblem = p.token_stats_samples as number;
    if (perProblem > 0) idRollouts = idRollouts.filter((_, i) => i % n < perProblem);
    const lp = await sequenceLogprobs(
      model,
      idRollouts.map((r) => [...r.prompt, ...r.response]),
      idRollouts.map((r) => r.prompt.length),
    );
    disposeGpt(model);
    const oracle = idRollouts.map((r) => r.oracle);
    const sg = compileGrams(PAPER_STRATEGIC_GRAMS);
    const matched = idRollouts.map((r) => matchGrams(r.words, sg));
    const sgMask = matched.map((m) => m.mask);
    put("token_entropy/all", mean(lp.entropy.flat()));
    const ent = tokenEntropyStats(lp.entropy, oracle);
    put("token_entropy/planning", ent.planning);
    put("token_entropy/execution", ent.execution);
    const entSg = tokenEntropyStats(lp.entropy, sgMask);
    put("token_entropy/planning_sg", entSg.planning);
    put("token_entropy/execution_sg", entSg.execution);
    const notOracle = oracle.map((m) => m.map((x) => !x));
    put("ppl/planning", perplexity(lp.logprobs, oracle));
    put("ppl/execution", perplexity(lp.logprobs, notOracle));
    if (ctx.inputs.baseline) {
      const base = readJson<JsonObject>(ctx.inputs.baseline.dir, "eval.json");
      const rel = (name: string) =>
        relativePerplexity(
          (out[`ppl/${name}`] as number) ?? null,
          (base[`ppl/${name}`] as number) ?? null,
        );
      put("rel_ppl/planning", rel("planning"));
      put("rel_ppl/execution", rel("execution"));
    }
    put(
      "semantic_entropy",
      semanticEntropy(countGrams(matched, p.counting as GramCounting)),
    );
    put("length/mean", mean(idRollouts.map((r) => r.response.length)));
    put("planning_ratio", mean(oracle.flat().map((x) => (x ? 1 : 0))));
    put("accuracy/id", mean(idRollouts.map((r) => r.reward)));
    out.problems = idProblems.length;
    writeJson(ctx.outDir, "eval.json", out);
  },
};
