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
  EOS,
  formatPrompt,
  oracleLabels,
  type Problem,
  type ResponseAnalysis,
  verify,
  type WordTokenizer,
} from "../algorithms/tasks/mod.ts";
import type { Rollout } from "./artifacts.ts";

/** Sampling settings. */
export interface RolloutOptions {
  groupSize: number;
  temperature: number;
  topP: number;
  maxNewTokens: number;
  seed: number;
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
    const verdict = verify(problem, words);
    return {
      problem: owner[k],
      prompt: prompts[k],
      response: s.tokens,
      words,
      logprobs: s.logprobs,
      entropy: s.entropy,
      reward: verdict.correct ? 1 : 0,
      correct: verdict.correct,
      oracle: oracleLabels(problem, words),
      analysis: analyseResponse(problem, words),
    };
  });
}

/** Strips the analysis (what goes into the artifact file). */
export function plainRollout({ analysis: _a, ...r }: ScoredRollout): Rollout {
  return r;
}

/** Behaviour summary: first-strategy accuracy and per-fact execution accuracy. */
export function behaviour(rs: ScoredRollout[]): {
  firstStrategyCorrect: number | null;
  execAccuracy: number | null;
  backtracksPerResponse: number;
  parsedFrac: number;
} {
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
  };
}
