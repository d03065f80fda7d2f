/**
 * The paper's analyses on real rollouts, as pure functions over tokenized rows: planning masks
 * (paper preset or mined Strategic Grams), semantic entropy, token entropy / perplexity split
 * planning vs execution, pass@k, and per-token advantages from the lab's estimator registry.
 *
 * @module
 */
import {
  compileGrams,
  countGrams,
  type GramCounting,
  type MineOptions,
  mineStrategicGrams,
  PAPER_STRATEGIC_GRAMS,
  semanticEntropy,
} from "../algorithms/planning/mod.ts";
import { type CreditOptions, type CreditOutput, getEstimator } from "../algorithms/credit/mod.ts";
import { meanPassAtK, perplexity, tokenEntropyStats } from "../algorithms/metrics/mod.ts";
import { planningMask, tokenSpans, unitSpans } from "./align.ts";
import type { RealRow } from "./readers.ts";
import type { ByteTokenizer } from "./tokenizer.ts";

/** A rollout with token ids, ready for token-level analysis. */
export interface TokenRow {
  /** Training step in the dump. */
  step: number;
  /** Index of the rollout among its step's rows, in file order: the export key with `step`. */
  row: number;
  /** Group id within the step (prompts numbered in order of first appearance). */
  group: number;
  prompt: string;
  ids: number[];
  reward: number;
  correct: boolean;
  logprobs: number[] | null;
  entropy: number[] | null;
}

/** The distinct steps of a dump, ascending. */
export function stepsOf(rows: readonly RealRow[]): number[] {
  return [...new Set(rows.map((r) => r.step))].sort((a, b) => a - b);
}

/**
 * Tokenizes one step's rows (ids kept when the format has them) and numbers groups by prompt.
 *
 * @param correctAt a row without a `correct` flag counts as correct when reward ≥ this
 */
export function tokenRows(
  rows: readonly RealRow[],
  step: number,
  tok: ByteTokenizer,
  correctAt: number,
): TokenRow[] {
  const groups = new Map<string, number>();
  return rows.filter((r) => r.step === step).map((r, row) => {
    if (!groups.has(r.prompt)) groups.set(r.prompt, groups.size);
    const ids = r.ids ?? tok.encode(r.response);
    for (const id of ids) {
      if (id >= tok.size) {
        throw new RangeError(`${r.origin}: token id ${id} is outside ${tok.source}'s vocabulary`);
      }
    }
    return {
      step,
      row,
      group: groups.get(r.prompt)!,
      prompt: r.prompt,
      ids,
      reward: r.reward,
      correct: r.correct ?? r.reward >= correctAt,
      logprobs: r.logprobs,
      entropy: r.entropy,
    };
  });
}

/** Mean unbiased pass@k over the step's prompts, for each k ≤ the smallest group. */
export function passAtKs(rows: readonly TokenRow[], ks: readonly number[]): Map<number, number> {
  const per = new Map<number, { n: number; c: number }>();
  for (const r of rows) {
    const p = per.get(r.group) ?? { n: 0, c: 0 };
    p.n++;
    if (r.correct) p.c++;
    per.set(r.group, p);
  }
  const probs = [...per.values()];
  const smallest = Math.min(...probs.map((p) => p.n));
  const out = new Map<number, number>();
  for (const k of ks) if (k <= smallest) out.set(k, meanPassAtK(probs, k));
  return out;
}

/** Mines Strategic Grams from the correct rows' decoded text (units as words). */
export function mineGrams(
  rows: readonly TokenRow[],
  tok: ByteTokenizer,
  opts: Partial<MineOptions>,
): { grams: string[]; successful: number } {
  const docs = successfulDocs(rows, tok);
  return { grams: mineStrategicGrams(docs, opts).grams, successful: docs.length };
}

/** The word units of each correct rollout's response (markup tokens left out): mining's input. */
export function successfulDocs(rows: readonly TokenRow[], tok: ByteTokenizer): string[][] {
  return rows.filter((r) => r.correct).map((r) => {
    const s = tokenSpans(r.ids, tok);
    const chars = [...s.text];
    const markup = new Uint8Array(chars.length);
    r.ids.forEach((_, t) => {
      if (s.added[t]) markup.fill(1, s.charStart[t], s.charEnd[t]);
    });
    return unitSpans(s.text, (c) => markup[c] === 1).map((u) => u.unit);
  });
}

/** Planning masks and semantic-entropy statistics of one step. */
export interface PlanningResult {
  grams: string[];
  masks: boolean[][];
  semanticEntropy: number;
  distinctMatched: number;
  planningRatio: number;
  /** Token entropy / perplexity split, null where the rows carry no per-token data. */
  entropyPlanning: number | null;
  entropyExecution: number | null;
  perplexityPlanning: number | null;
  perplexityExecution: number | null;
}

/** Planning masks from `grams` (the paper's preset when omitted) and the step's statistics. */
export function analysePlanning(
  rows: readonly TokenRow[],
  tok: ByteTokenizer,
  grams: readonly string[] = PAPER_STRATEGIC_GRAMS,
  counting: GramCounting = "greedy",
): PlanningResult {
  const matcher = compileGrams(grams);
  const matched = rows.map((r) => planningMask(r.ids, tok, matcher));
  const masks = matched.map((m) => m.mask);
  const counts = countGrams(matched, counting);
  let marked = 0, total = 0;
  for (const m of masks) {
    total += m.length;
    for (const x of m) if (x) marked++;
  }
  const withTokens = rows.every((r) => r.entropy !== null && r.logprobs !== null);
  const ent = withTokens ? tokenEntropyStats(rows.map((r) => r.entropy!), masks) : null;
  const exec = masks.map((m) => m.map((x) => !x));
  return {
    grams: [...grams],
    masks,
    semanticEntropy: semanticEntropy(counts),
    distinctMatched: counts.size,
    planningRatio: total ? marked / total : 0,
    entropyPlanning: ent?.planning ?? null,
    entropyExecution: ent?.execution ?? null,
    perplexityPlanning: withTokens ? perplexity(rows.map((r) => r.logprobs!), masks) : null,
    perplexityExecution: withTokens ? perplexity(rows.map((r) => r.logprobs!), exec) : null,
  };
}

/** Estimators that read per-token entropies. */
const NEEDS_ENTROPY = new Set(["hicra-code", "hicra-code-entropy", "high-entropy"]);

/**
 * Per-token advantages of one step from a registered estimator.
 *
 * @throws Error when the estimator needs entropies and the rows have none
 */
export function advantages(
  rows: readonly TokenRow[],
  masks: readonly boolean[][],
  estimator: string,
  opts: CreditOptions,
): CreditOutput {
  const missing = rows.find((r) => r.entropy === null);
  if (NEEDS_ENTROPY.has(estimator) && missing) {
    throw new Error(
      `estimator ${estimator} needs per-token entropies, and row ${missing.row} of step ` +
        `${missing.step} has none (verl and TRL dumps carry none: use the hicra format, ` +
        `or an estimator that reads none: grpo, hicra)`,
    );
  }
  return getEstimator(estimator)({
    rewards: rows.map((r) => r.reward),
    groups: rows.map((r) => r.group),
    lengths: rows.map((r) => r.ids.length),
    planning: masks.map((m) => [...m]),
    entropy: rows.map((r) => r.entropy ?? new Array<number>(r.ids.length).fill(0)),
  }, opts);
}

/** One line of the advantages file (bridge/FORMAT.md, "Advantages out"). */
export interface AdvantageRecord {
  step: number;
  row: number;
  group: number;
  estimator: string;
  reward: number;
  token_ids: number[];
  advantages: number[];
  planning: number[];
}

/** The advantages file's records of one step. */
export function advantageRecords(
  rows: readonly TokenRow[],
  masks: readonly boolean[][],
  out: CreditOutput,
  estimator: string,
): AdvantageRecord[] {
  return rows.map((r, i) => ({
    step: r.step,
    row: r.row,
    group: r.group,
    estimator,
    reward: r.reward,
    token_ids: r.ids,
    advantages: out.advantages[i],
    planning: masks[i].map((x) => (x ? 1 : 0)),
  }));
}
