/**
 * Solution traces as a (simulated) solver writes them: state a strategy, run
 * its arithmetic, optionally verify, and either answer or react to the miss,
 * backtrack and switch strategy. Knobs control how often the first strategy
 * is right and how often an arithmetic step slips, so warm-start data holds
 * good and bad first choices, recoveries and execution errors.
 *
 * @module
 */

import { Rng } from "../rng.ts";
import {
  allStrategies,
  applyOp,
  chainValues,
  inRange,
  isFeasible,
  OP_SYMBOL,
  renderExpression,
  type Strategy,
} from "./arithmetic.ts";
import { type Role, strategyWords, TEMPLATES } from "./phrases.ts";
import { difficultySpec, type Problem } from "./problems.ts";
import { formatPrompt } from "./prompt.ts";

/** Knobs of `generateTrace`. */
export interface TraceOptions {
  /** Probability that the first strategy tried is the working one. */
  pFirstChoiceCorrect: number;
  /** Probability that an arithmetic step writes a wrong result. */
  pExecError: number;
  /** Probability that a switch after a miss picks the working strategy (default 1). */
  pSwitchCorrect?: number;
  /** Probability that a slip is caught and rewritten at once (default 0.5). */
  pSelfCorrect?: number;
  /** Probability of a verification segment after a chain (default 0.5). */
  pCheck?: number;
  /** Strategies tried at most (default: the difficulty's `maxAttempts`). */
  maxAttempts?: number;
  /** Token budget incl. prompt and EOS (default: the difficulty's `maxLength`). */
  maxLength?: number;
}

/** A generated trace with its oracle labels and bookkeeping. */
export interface Trace {
  problem: Problem;
  /** Prompt words then response words (no BOS/EOS). */
  words: string[];
  /** Number of prompt words at the start of `words`. */
  promptLength: number;
  /** Oracle planning flag per word of `words`. */
  planning: boolean[];
  /** Whether the final answer solves the problem. */
  correct: boolean;
  firstStrategyCorrect: boolean;
  /** Strategy switches after a miss. */
  nBacktracks: number;
  /** Arithmetic facts written wrong (caught or not). */
  execErrors: number;
  /** Strategies tried, in order. */
  strategies: Strategy[];
}

/** Tries per stage of fitting the budget (see `generateTrace`). */
const TRIES = 32;

/**
 * One trace for `problem`. Strategy choices, slips and phrasing come from
 * three generators derived from `rng`. While the trace exceeds the token
 * budget, the phrasing is re-drawn (TRIES times), then without the optional
 * checks (TRIES times), and only then the slips too; strategy choices are
 * never re-drawn, so the budget does not bias them. Throws if nothing fits.
 */
export function generateTrace(
  problem: Problem,
  rng: Rng,
  opts: TraceOptions,
): Trace {
  const spec = difficultySpec(problem.difficulty);
  const maxLength = opts.maxLength ?? spec.maxLength;
  const choiceSeed = rng.uint32();
  let slipSeed = rng.uint32();
  for (let t = 0; t < 4 * TRIES; t++) {
    if (t >= 2 * TRIES) slipSeed = rng.uint32();
    const pCheck = t < TRIES ? opts.pCheck ?? 0.5 : 0;
    const draws = {
      choice: new Rng(choiceSeed),
      slip: new Rng(slipSeed),
      surface: rng,
    };
    const trace = writeTrace(problem, draws, { ...opts, pCheck });
    if (trace.words.length + 1 <= maxLength) return trace;
  }
  throw new Error(
    `Cannot fit a trace for ${problem.id} into ${maxLength} tokens: lower pExecError or maxAttempts`,
  );
}

/** The generators a trace draws from: strategy choices, slips, phrasing. */
interface Draws {
  choice: Rng;
  slip: Rng;
  surface: Rng;
}

/** Words and planning flags under construction. */
class Writer {
  words: string[] = [];
  planning: boolean[] = [];
  constructor(readonly surface: Rng) {}
  emit(words: readonly string[], planning = false): void {
    for (const w of words) {
      this.words.push(w);
      this.planning.push(planning);
    }
  }
  phrase(role: Role): void {
    const t = this.surface.pick(TEMPLATES[role]);
    this.words.push(...t.words);
    this.planning.push(...t.planning);
  }
  /** A strategy statement: decision phrases (planning) joined by `then` (formatting). */
  emitStatement(strategy: Strategy): void {
    for (const word of strategyWords(strategy)) this.emit([word], word !== "then");
  }
  fact(a: number, symbol: string, b: number, c: number): void {
    this.emit([String(a), symbol, String(b), "=", String(c), "."]);
  }
}

/** Writes one trace. */
function writeTrace(
  problem: Problem,
  draws: Draws,
  opts: TraceOptions,
): Trace {
  const { choice, slip: slips, surface } = draws;
  const spec = difficultySpec(problem.difficulty);
  const maxAttempts = opts.maxAttempts ?? spec.maxAttempts;
  const { numbers, target } = problem;
  const key = (s: Strategy) => s.join(" ");
  const feasible = allStrategies(numbers.length - 1).filter((s) => isFeasible(numbers, s));
  const w = new Writer(surface);
  w.emit(formatPrompt(problem));
  const promptLength = w.words.length;

  const tried: Strategy[] = [];
  let execErrors = 0;
  let strategy = pickStrategy(
    choice,
    problem,
    feasible,
    tried,
    opts.pFirstChoiceCorrect,
  );
  for (;;) {
    w.phrase(tried.length === 0 ? "open" : "switch");
    tried.push(strategy);
    w.emitStatement(strategy);
    w.emit(["."]);

    let acc = numbers[0];
    strategy.forEach((op, i) => {
      const truth = applyOp(op, acc, numbers[i + 1]);
      const slip = slips.bernoulli(opts.pExecError)
        ? slipValue(
          slips,
          truth,
          numbers.slice(i + 2),
          strategy.slice(i + 1),
        )
        : null;
      if (slip === null) {
        w.fact(acc, OP_SYMBOL[op], numbers[i + 1], truth);
        acc = truth;
        return;
      }
      execErrors++;
      w.fact(acc, OP_SYMBOL[op], numbers[i + 1], slip);
      if (slips.bernoulli(opts.pSelfCorrect ?? 0.5)) {
        w.phrase("fix");
        w.fact(acc, OP_SYMBOL[op], numbers[i + 1], truth);
        acc = truth;
      } else {
        acc = slip;
      }
    });

    const hit = acc === target;
    const untried = feasible.filter((s) => !tried.some((u) => key(u) === key(s)));
    const last = tried.length >= maxAttempts || untried.length === 0;
    if (hit || last) {
      if (hit && surface.bernoulli(opts.pCheck ?? 0.5)) check(w, acc, target);
      w.emit(["answer", ...renderExpression(numbers, strategy)]);
      break;
    }
    if (surface.bernoulli(opts.pCheck ?? 0.5)) check(w, acc, target);
    w.phrase("fail");
    strategy = pickStrategy(
      choice,
      problem,
      untried,
      tried,
      opts.pSwitchCorrect ?? 1,
    );
  }

  return {
    problem,
    words: w.words,
    promptLength,
    planning: w.planning,
    correct: key(strategy) === key(problem.strategy),
    firstStrategyCorrect: key(tried[0]) === key(problem.strategy),
    nBacktracks: tried.length - 1,
    execErrors,
    strategies: tried,
  };
}

/** The working strategy with probability `p` (if untried), else a wrong candidate. */
function pickStrategy(
  rng: Rng,
  problem: Problem,
  candidates: readonly Strategy[],
  tried: readonly Strategy[],
  p: number,
): Strategy {
  const key = (s: Strategy) => s.join(" ");
  const right = key(problem.strategy);
  const wrong = candidates.filter((s) => key(s) !== right);
  const rightOpen = !tried.some((s) => key(s) === right);
  if (rightOpen && (rng.bernoulli(p) || wrong.length === 0)) {
    return problem.strategy;
  }
  return rng.pick(wrong);
}

/**
 * A plausible wrong result (off by 1–3) that keeps the rest of the chain
 * writable, or null if there is none.
 */
function slipValue(
  rng: Rng,
  truth: number,
  rest: readonly number[],
  restOps: Strategy,
): number | null {
  for (const d of rng.shuffle([-3, -2, -1, 1, 2, 3])) {
    const v = truth + d;
    if (inRange(v) && chainValues([v, ...rest], restOps).every(inRange)) {
      return v;
    }
  }
  return null;
}

/** A verification segment: `<check phrase> v is [not] target .`. */
function check(w: Writer, value: number, target: number): void {
  w.phrase("check");
  w.emit([
    String(value),
    "is",
    ...(value === target ? [] : ["not"]),
    String(target),
    ".",
  ]);
}
