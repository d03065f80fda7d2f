/**
 * Monte-Carlo values at segment starts for `assign-credit`'s `segment-mc` estimator: K
 * continuations of the policy from every distinct prefix (prompt + response up to a segment
 * start), scored with the sample stage's reward. The estimator itself is pure
 * (algorithms/credit/segment_mc.ts).
 *
 * @module
 */
import { dedupPrefixes, mcValue, segmentStarts } from "../algorithms/credit/mod.ts";
import { type Gpt, sample } from "../algorithms/policy/mod.ts";
import { EOS, type RewardMode, rewardOf, type WordTokenizer } from "../algorithms/tasks/mod.ts";
import type { RolloutsFile } from "./artifacts.ts";

/** How the continuations are sampled: the sample stage's settings and K. */
export interface McOptions {
  /** Continuations per distinct prefix (K). */
  rollouts: number;
  /** Execution gaps of at most this many tokens between planning runs are bridged. */
  mergeGap: number;
  temperature: number;
  topP: number;
  /** Response length cap, as the sample stage's `max_new_tokens`. */
  maxNewTokens: number;
  reward: RewardMode;
  /** Seed of the continuations (the stage derives it from its instance seed). */
  seed: number;
}

/** Segment starts and the values at all starts but the first, per rollout, and counts. */
export interface SegmentValues {
  starts: number[][];
  boundaryValues: number[][];
  /** Segment starts after the first, over the step: the prefixes that need a value. */
  prefixes: number;
  /** Distinct prefixes among them (each gets K continuations). */
  unique: number;
  /** Tokens sampled in all continuations. */
  sampledTokens: number;
}

/** Rows stepped together while sampling continuations (bounds the KV cache's memory). */
const BATCH_ROWS = 256;

/**
 * Values V̂ = mean reward of K continuations at every segment start after the first, for
 * the segments of `labels` (see `segmentStarts`). A continuation's response is the
 * prefix's response tokens plus the sampled ones, capped at the length the sample stage
 * allowed (its `max_new_tokens`, and the context left after the step's longest prompt), so a
 * continuation is scored as a fresh rollout would be.
 */
export async function segmentValues(
  model: Gpt,
  tokenizer: WordTokenizer,
  data: RolloutsFile,
  labels: readonly (readonly boolean[])[],
  opts: McOptions,
): Promise<SegmentValues> {
  const rs = data.rollouts;
  const starts = labels.map((l) => segmentStarts(l, opts.mergeGap));
  const owner: { rollout: number; cut: number }[] = [];
  const prefixes: number[][] = [];
  rs.forEach((r, i) =>
    starts[i].slice(1).forEach((cut) => {
      owner.push({ rollout: i, cut });
      prefixes.push([...r.prompt, ...r.response.slice(0, cut)]);
    })
  );
  const { unique, index } = dedupPrefixes(prefixes);
  // Where each distinct prefix's response part starts, and which problem it answers.
  const firstOf = new Array<number>(unique.length);
  index.forEach((u, k) => firstOf[u] ??= k);

  const maxPrompt = Math.max(0, ...rs.map((r) => r.prompt.length));
  const cap = Math.min(opts.maxNewTokens, model.config.contextLength - maxPrompt);
  const K = opts.rollouts;
  // Shortest prefixes first: a batch of similar lengths pads less (measured 1.5× faster).
  const order = unique.map((_, u) => u).sort((a, b) =>
    unique[a].length - unique[b].length || a - b
  );
  const prompts: number[][] = [];
  for (const u of order) for (let k = 0; k < K; k++) prompts.push(unique[u]);
  const minCut = Math.min(...owner.map((o) => o.cut));
  const seqs = prompts.length === 0 ? [] : await sample(model, prompts, {
    maxNewTokens: Math.max(1, cap - minCut),
    temperature: opts.temperature,
    topP: opts.topP,
    eosId: EOS,
    seed: opts.seed,
    batchSize: BATCH_ROWS,
  });

  let sampledTokens = 0;
  const values = new Array<number>(unique.length);
  order.forEach((u, rank) => {
    const { rollout, cut } = owner[firstOf[u]];
    const r = rs[rollout];
    const problem = data.problems[r.problem];
    const rewards: number[] = [];
    for (let k = 0; k < K; k++) {
      const seq = seqs[rank * K + k].tokens;
      sampledTokens += seq.length;
      // Truncate to the sample stage's cap (a fresh rollout would have stopped there).
      const words = tokenizer.tokens([...r.response.slice(0, cut), ...seq.slice(0, cap - cut)]);
      rewards.push(rewardOf(problem, words, opts.reward) ? 1 : 0);
    }
    values[u] = mcValue(rewards);
  });

  const boundaryValues = starts.map(() => [] as number[]);
  owner.forEach((o, k) => boundaryValues[o.rollout].push(values[index[k]]));
  return {
    starts,
    boundaryValues,
    prefixes: prefixes.length,
    unique: unique.length,
    sampledTokens,
  };
}
