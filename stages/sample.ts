/**
 * `sample`: G responses per training prompt from the current policy, with
 * per-token log-probs, entropies, rewards and oracle planning labels.
 *
 * @module
 */
import { disposeGpt } from "../algorithms/policy/mod.ts";
import { generateProblems, REWARD_MODES, type RewardMode } from "../algorithms/tasks/mod.ts";
import { tokenEntropyStats } from "../algorithms/metrics/mod.ts";
import type { StageKind } from "../pipeline/types.ts";
import { type RolloutsFile, writeJson } from "./artifacts.ts";
import { mean, recordIfFinite, std } from "./metrics_util.ts";
import { backendFrom, loadPolicy } from "./policy_io.ts";
import { behaviour, plainRollout, rollOut } from "./rollout.ts";

/** The stage kind. */
export const sampleStage: StageKind = {
  name: "sample",
  version: 2,
  doc: "G samples per training prompt from the current policy",
  params: {
    prompts: { type: "integer", default: 16, min: 1, max: 4096, doc: "Prompts per step" },
    group_size: { type: "integer", default: 8, min: 1, max: 1024, doc: "Samples per prompt (G)" },
    temperature: {
      type: "number",
      default: 1,
      min: 0,
      max: 10,
      doc: "Sampling temperature (0: greedy)",
    },
    top_p: { type: "number", default: 1, exclusiveMin: 0, max: 1, doc: "Nucleus mass, in (0, 1]" },
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
      doc: "answer: the answer verifies; strict: also every fact right and the last one = target",
    },
  },
  inputs: { policy: { doc: "Policy to sample from (warmstart or update)" } },
  async run(ctx) {
    await backendFrom(ctx.runtime, ctx.threads);
    const { model, tokenizer } = await loadPolicy(ctx.inputs.policy.dir);
    const p = ctx.params;
    const problems = generateProblems({
      seed: ctx.seed,
      count: p.prompts as number,
      split: "train",
      difficulty: p.difficulty as number,
    });
    const G = p.group_size as number;
    const rs = await rollOut(model, tokenizer, problems, {
      groupSize: G,
      temperature: p.temperature as number,
      topP: p.top_p as number,
      maxNewTokens: p.max_new_tokens as number,
      seed: ctx.seed,
      reward: p.reward as RewardMode,
    });
    disposeGpt(model);

    const rewards = rs.map((r) => r.reward);
    ctx.metric("reward/mean", mean(rewards));
    ctx.metric("reward/std", std(rewards));
    let zeroStd = 0;
    for (let i = 0; i < problems.length; i++) {
      const g = rewards.slice(i * G, (i + 1) * G);
      if (std(g) === 0) zeroStd++;
    }
    ctx.metric("frac_zero_std", zeroStd / problems.length);
    ctx.metric("length/mean", mean(rs.map((r) => r.response.length)));
    const entropy = rs.map((r) => r.entropy);
    const oracle = rs.map((r) => r.oracle);
    ctx.metric("token_entropy/all", mean(entropy.flat()));
    const split = tokenEntropyStats(entropy, oracle);
    recordIfFinite(ctx, "token_entropy/planning", split.planning);
    recordIfFinite(ctx, "token_entropy/execution", split.execution);
    ctx.metric(
      "planning_ratio/oracle",
      split.nPlanning / Math.max(1, split.nPlanning + split.nExecution),
    );
    const b = behaviour(rs);
    recordIfFinite(ctx, "strategy/first_correct", b.firstStrategyCorrect);
    recordIfFinite(ctx, "exec/accuracy", b.execAccuracy);
    ctx.metric("backtracks/mean", b.backtracksPerResponse);
    ctx.metric("exec/sound", b.execSound);
    ctx.metric("answer/correct", b.answerCorrect);
    recordIfFinite(ctx, "strategy/diversity", b.strategyDiversity);

    ctx.rows(
      "rollouts",
      rs.map((r, i) => ({
        rollout: i,
        problem: problems[r.problem].id,
        sample: i % G,
        reward: r.reward,
        correct: r.correct,
        length: r.response.length,
        first_strategy_correct: r.analysis.firstStrategyCorrect,
        backtracks: r.analysis.nBacktracks,
        exec_steps: r.analysis.execSteps,
        exec_correct: r.analysis.execCorrect,
        text: tokenizer.decode(r.response),
      })),
    );
    const out: RolloutsFile = { groupSize: G, problems, rollouts: rs.map(plainRollout) };
    writeJson(ctx.outDir, "rollouts.json", out);
  },
};
