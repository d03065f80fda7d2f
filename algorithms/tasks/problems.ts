/**
 * Problems of the task family: reach a target from given numbers by chaining
 * operations left to right over the numbers in the given order. Exactly one
 * strategy (sequence of operations) works, and which one is decided by the
 * numbers. Splits: `train` and `id` are disjoint by a hash of the problem;
 * `ood` uses larger input numbers.
 *
 * @module
 */

import { hashString, Rng } from "../rng.ts";
import { allStrategies, chainValues, inRange, type Strategy } from "./arithmetic.ts";

/** Which split a problem belongs to. */
export type Split = "train" | "id" | "ood";

/** One problem instance. */
export interface Problem {
  /** Stable id, e.g. `d1:3.8.5>19`. */
  id: string;
  difficulty: number;
  split: Split;
  /** The given numbers, in the order strategies use them. */
  numbers: readonly number[];
  target: number;
  /** The unique strategy that reaches the target (oracle; not shown to the policy). */
  strategy: Strategy;
}

/** What a difficulty level fixes. */
export interface DifficultySpec {
  level: number;
  /** Numbers per problem; a strategy has `nNumbers - 1` operations. */
  nNumbers: number;
  /** Inclusive range of input numbers for `train` and `id`. */
  inputRange: readonly [number, number];
  /** Inclusive range for `ood`; at least one input exceeds `inputRange`. */
  oodInputRange: readonly [number, number];
  /** Strategies a generated trace tries at most (so backtracks ≤ this − 1). */
  maxAttempts: number;
  /** Token budget of a generated trace: prompt + response + EOS. */
  maxLength: number;
}

/** The difficulty levels, indexed by `level - 1`. */
export const DIFFICULTIES: readonly DifficultySpec[] = [
  {
    level: 1,
    nNumbers: 3,
    inputRange: [1, 9],
    oodInputRange: [1, 19],
    maxAttempts: 2,
    maxLength: 88,
  },
  {
    level: 2,
    nNumbers: 4,
    inputRange: [1, 9],
    oodInputRange: [1, 19],
    maxAttempts: 2,
    maxLength: 120,
  },
];

/** The level used when none is given. */
export const DEFAULT_DIFFICULTY = 1;

/** Percent of in-distribution problem instances (by hash) held out as `id`. */
export const ID_PERCENT = 20;

/** The spec of a difficulty level; throws on an unknown level. */
export function difficultySpec(level: number): DifficultySpec {
  const spec = DIFFICULTIES[level - 1];
  if (spec === undefined || spec.level !== level) {
    throw new Error(
      `Unknown difficulty ${level}: expected 1..${DIFFICULTIES.length}`,
    );
  }
  return spec;
}

/** Stable id of a problem instance. */
export function problemId(
  difficulty: number,
  numbers: readonly number[],
  target: number,
): string {
  return `d${difficulty}:${numbers.join(".")}>${target}`;
}

/**
 * The split an instance belongs to: `ood` if an input exceeds the in-distribution
 * range, else `id` for ID_PERCENT% of instances by hash of the id, else `train`.
 */
export function splitOf(
  difficulty: number,
  numbers: readonly number[],
  target: number,
): Split {
  const spec = difficultySpec(difficulty);
  if (numbers.some((n) => n > spec.inputRange[1])) return "ood";
  const bucket = hashString(problemId(difficulty, numbers, target)) % 100;
  return bucket < ID_PERCENT ? "id" : "train";
}

/** Options of `generateProblems`. */
export interface GenerateProblemsOptions {
  seed: number;
  count: number;
  split: Split;
  /** Difficulty level (default DEFAULT_DIFFICULTY). */
  difficulty?: number;
  /**
   * Whether instances are distinct (default true). Pools are finite (level 1:
   * 3364 train, 824 id instances; the smallest strategy pool, subtract then
   * subtract, has 71 and 13), so a count near a pool's size skews strategies
   * toward those with large pools; `false` keeps strategies exactly uniform.
   */
  distinct?: boolean;
}

/** Consecutive fruitless draws after which `generateProblems` gives up. */
const MAX_DRAWS = 20_000;

/**
 * `count` distinct problems of one split and difficulty, deterministic in the
 * seed. The solving strategy is drawn uniformly first, then numbers until the
 * instance is valid (all values writable, target ≥ 1, the strategy is the only
 * one reaching the target, the instance hashes to the split), so every
 * strategy is equally likely and no strategy prior solves the task (see
 * `distinct` for the limit of that).
 */
export function generateProblems(opts: GenerateProblemsOptions): Problem[] {
  const difficulty = opts.difficulty ?? DEFAULT_DIFFICULTY;
  const spec = difficultySpec(difficulty);
  const rng = new Rng(`problems:${opts.seed}:${opts.split}:${difficulty}`);
  const strategies = allStrategies(spec.nNumbers - 1);
  const distinct = opts.distinct ?? true;
  const seen = new Set<string>();
  const out: Problem[] = [];
  let fruitless = 0;
  while (out.length < opts.count && fruitless < MAX_DRAWS) {
    const strategy = rng.pick(strategies);
    // Retry numbers for the same strategy so that strategies stay uniform.
    let problem: Problem | null = null;
    for (let i = 0; i < 100 && problem === null; i++) {
      problem = drawInstance(rng, spec, opts.split, strategy, strategies);
      if (problem !== null && distinct && seen.has(problem.id)) problem = null;
    }
    if (problem === null) {
      fruitless += 100;
      continue;
    }
    fruitless = 0;
    seen.add(problem.id);
    out.push(problem);
  }
  if (out.length < opts.count) {
    throw new Error(
      `Cannot generate ${opts.count} distinct "${opts.split}" problems at difficulty ${difficulty}: found only ${out.length}`,
    );
  }
  return out;
}

/** One random instance solved by `strategy`, or null if the draw is invalid. */
function drawInstance(
  rng: Rng,
  spec: DifficultySpec,
  split: Split,
  strategy: Strategy,
  strategies: readonly Strategy[],
): Problem | null {
  const [lo, hi] = split === "ood" ? spec.oodInputRange : spec.inputRange;
  const numbers = Array.from({ length: spec.nNumbers }, () => rng.int(lo, hi));
  const values = chainValues(numbers, strategy);
  const target = values[values.length - 1];
  if (!values.every(inRange) || target < 1) return null;
  const solvers = strategies.filter((s) => chainValues(numbers, s).at(-1) === target);
  if (solvers.length !== 1) return null;
  if (splitOf(spec.level, numbers, target) !== split) return null;
  return {
    id: problemId(spec.level, numbers, target),
    difficulty: spec.level,
    split,
    numbers,
    target,
    strategy,
  };
}

/**
 * Every instance of a split's pool at a difficulty (distinct, sorted by id), e.g. to evaluate
 * on the whole `id` pool (level 1: 824 instances). Deterministic; no seed.
 */
export function allProblems(split: Split, difficulty = DEFAULT_DIFFICULTY): Problem[] {
  const spec = difficultySpec(difficulty);
  const [lo, hi] = split === "ood" ? spec.oodInputRange : spec.inputRange;
  const strategies = allStrategies(spec.nNumbers - 1);
  const out: Problem[] = [];
  const numbers = new Array<number>(spec.nNumbers).fill(lo);
  for (;;) {
    // Same validity rules as `drawInstance`: writable chain, target ≥ 1, no other strategy
    // (writable or not) reaches the target.
    const chains = strategies.map((s) => chainValues(numbers, s));
    const finals = chains.map((v) => v[v.length - 1]);
    strategies.forEach((strategy, i) => {
      const target = finals[i];
      if (!chains[i].every(inRange) || target < 1) return;
      if (finals.filter((f) => f === target).length !== 1) return;
      if (splitOf(spec.level, numbers, target) !== split) return;
      out.push({
        id: problemId(spec.level, numbers, target),
        difficulty: spec.level,
        split,
        numbers: [...numbers],
        target,
        strategy,
      });
    });
    let k = numbers.length - 1;
    while (k >= 0 && numbers[k] === hi) numbers[k--] = lo;
    if (k < 0) break;
    numbers[k]++;
  }
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
