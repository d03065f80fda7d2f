/**
 * Sampling G responses per problem and scoring them: the piece `sample` and
 * `evaluate` share.
 *
 * @module
 */
import { type Gpt, sample } from "../algorithms/policy/mod.ts";
import {
  analyseResponse,
  BOS,
  earnsReward,
  EOS,
  formatPrompt,
  oracleLabels,
  type Problem,
  type ResponseAnalysis,
  type RewardMode,
  type WordTokenizer,
} from "../algorithms/tasks/mod.ts";
import { meanGroupEntropy } from "../algorithms/metrics/mod.ts";
import type { Rollout } from "./artifacts.ts";

/** Sampling settings. */
export interface RolloutOptions {
  groupSize: number;
  temperature: number;
  topP: number;
  maxNewTokens: number;
  seed: number;
  /** What earns reward 1 (default `answer`). */
  reward?: RewardMode;
}

/** A rollout with the analysis of its response. */
export interface ScoredRollout extends Rollout {
  analysis: ResponseAnalysis;
}

/** Samples `groupSize` responses for every problem and scores them. */
export async function rollOut(
  model: Gpt,
  tokenizer: WordTokenizer,
  problems: Problem[],
  opts: RolloutOptions,
): Promise<ScoredRollout[]> {
  const prompts: number[][] = [];
  const owner: number[] = [];
  problems.forEach((p, i) => {
    const ids = [BOS, ...tokenizer.encode(formatPrompt(p))];
    for (let g = 0; g < opts.groupSize; g++) {
      prompts.push(ids);
      owner.push(i);
    }
  });
  const room = model.config.contextLength - Math.max(...prompts.map((p) => p.length));
  const seqs = await sample(model, prompts, {
    maxNewTokens: Math.min(opts.maxNewTokens, room),
    temperature: opts.temperature,
    topP: opts.topP,
    eosId: EOS,
    seed: opts.seed,
  });
  return seqs.map((s, k) => {
    const problem = problems[owner[k]];
    const words = tokenizer.tokens(s.tokens);
    const analysis = analyseResponse(problem, words);
    const earned = earnsReward(analysis, opts.reward ?? "answer");
    return {
      problem: owner[k],
      prompt: prompts[k],
      response: s.tokens,
      words,
      logprobs: s.logprobs,
      entropy: s.entropy,
      reward: earned ? 1 : 0,
      correct: earned,
      oracle: oracleLabels(problem, words),
      analysis,
    };
  });
}

/** Strips the analysis (what goes into the artifact file). */
export function plainRollout({ analysis: _a, ...r }: ScoredRollout): Rollout {
  return r;
}

/**
 * Behaviour summary: first-strategy accuracy, per-fact execution accuracy, the share of
 * execution-sound traces, answer accuracy whatever the reward mode, and strategy diversity (mean
 * over problems of the entropy of the first strategy chosen across that problem's samples).
 */
export function behaviour(rs: ScoredRollout[]): {
  firstStrategyCorrect: number | null;
  execAccuracy: number | null;
  backtracksPerResponse: number;
  parsedFrac: number;
  execSound: number;
  answerCorrect: number;
  strategyDiversity: number;
} {
  const byProblem = new Map<number, (string | null)[]>();
  for (const r of rs) {
    const list = byProblem.get(r.problem) ?? [];
    list.push(r.analysis.firstStrategy);
    byProblem.set(r.problem, list);
  }
  const chose = rs.filter((r) => r.analysis.firstStrategyCorrect !== null);
  const steps = rs.reduce((n, r) => n + r.analysis.execSteps, 0);
  const right = rs.reduce((n, r) => n + r.analysis.execCorrect, 0);
  return {
    firstStrategyCorrect: chose.length
      ? chose.filter((r) => r.analysis.firstStrategyCorrect).length / chose.length
      : null,
    execAccuracy: steps ? right / steps : null,
    backtracksPerResponse: rs.reduce((n, r) => n + r.analysis.nBacktracks, 0) /
      Math.max(1, rs.length),
    parsedFrac: rs.filter((r) => r.analysis.parsed).length / Math.max(1, rs.length),
    execSound: rs.filter((r) => r.analysis.executionSound).length / Math.max(1, rs.length),
    answerCorrect: rs.filter((r) => r.analysis.correct).length / Math.max(1, rs.length),
    strategyDiversity: meanGroupEntropy([...byProblem.values()]),
  };
}
