/**
 * # The testbed task family: "reach the target"
 *
 * **Task.** A prompt `reach 19 with 3 8 5 :` gives numbers and a target. A
 * *strategy* is the sequence of operations (add, subtract, multiply) applied
 * left to right over the numbers in the given order, `((3 op1 8) op2 5)`.
 * Exactly one of the 3^(k−1) strategies reaches the target, and which one is
 * decided by the numbers (generation draws the strategy uniformly, then
 * numbers, and rejects instances another strategy also solves). The answer is
 * an expression, e.g. `answer 3 * 8 - 5`, checked by evaluating it: it must
 * use each given number exactly once and hit the target (any order and
 * bracketing pass), so it cannot be copied from the prompt.
 *
 * **Traces (testbed v2).** `reach 19 with 3 8 5 : the plan is to think of
 * this as then work our way . 3 * 8 = 24 . 24 + 5 = 29 . to verify , 29 is not
 * 19 . but wait , let's backtrack . let's try a different angle : think of
 * this as then break it down . 3 * 8 = 24 . 24 - 5 = 19 . answer 3 * 8 - 5`.
 * Every planning phrase is a Strategic Gram of the paper's Listing 1, and the
 * planning phrases are where the decisions are: each operation is named by
 * its own decision phrase (`work our way` = add, `break it down` = subtract,
 * `think of this as` = multiply), so which phrase the policy writes decides
 * the arithmetic that follows, the paper's SG preset finds exactly the
 * oracle's planning tokens (precision = recall = 1 on generated traces), and
 * the SG frequency distribution (semantic entropy) moves with the chosen
 * strategies. Framing phrases fill five roles (open, switch, fail, check,
 * fix), drawn uniformly ("the plan is to", "let's try a different angle",
 * "but wait", "let's backtrack", "to verify", "wait, no", …; see
 * `planningInventory()`). Execution is arithmetic facts `a op b = c`.
 * (v1 stated strategies with verbs, `multiply then add`, which no SG covers:
 * SG recall was 0.60 and SG-HICRA amplified only the framing.)
 * `generateTrace` knobs: how often the first strategy is right, how often a
 * step slips (off by 1–3) and whether a slip is caught (`wait , no .` and the
 * right fact), how often a switch picks the working strategy, optional checks.
 *
 * **Why strategy choice is the bottleneck after warm start.** A random
 * strategy works with probability 1/9 (1/27 at level 2) and the working
 * strategy is drawn uniformly, so no fixed habit helps; choosing well needs
 * reading the numbers (the target's size against sums and products).
 * Execution is small arithmetic (results ≤ 100) that imitation should learn
 * quickly. Warm-start data mixes right and wrong first choices with
 * recoveries, so the base policy can backtrack but chooses poorly; a trace
 * holds at most `maxAttempts` (2) strategies, so a poor first choice costs
 * reward and RL must improve the choice. `analyseResponse` measures both
 * phases (first-choice accuracy vs per-fact accuracy) to check this.
 *
 * **Difficulty.** Level 1 (default): 3 numbers in 1..9, 9 strategies, at
 * most one backtrack, ≤ 88 tokens incl. EOS (prompt 6 words). Level 2: 4
 * numbers in 1..9, 27 strategies, at most one backtrack, ≤ 120 tokens (prompt
 * 7 words; the policy needs `context` ≥ 121). Every value a trace writes is in 0..100. Pools are finite: level
 * 1 has 3364 train and 824 id instances (see `distinct`).
 *
 * **Splits.** `train` and `id` are disjoint by instance: an instance is `id`
 * iff FNV-1a of its id mod 100 < 20. `ood` = larger numbers: inputs in 1..19
 * with at least one ≥ 10 (train/id inputs are ≤ 9), same format, token budget
 * and strategies. Chosen over a held-out strategy combination (whose
 * statement the policy would never have seen, likely ~0 accuracy for every
 * method) and longer chains (a new prompt length and unseen arity): larger
 * inputs keep the plan space and the format in distribution but shift the
 * number-to-strategy mapping (which strategy reaches a target changes with
 * magnitudes) and make some facts unfamiliar (two-digit left operands occur
 * in training only as intermediate values). `analyseResponse` separates the
 * two effects.
 *
 * **Label rule.** A word is planning iff it lies in an occurrence of a
 * planning phrase of the inventory (framing and decision phrases; greedy,
 * longest match, left to right). Numbers, operators, `=`, check values
 * (`29 is not 19`), `answer`, the connective `then`, the prompt and
 * punctuation outside phrases are execution. `oracleLabels` applies the rule
 * to any response and equals the generator's labels on generated traces.
 *
 * **Tokens.** Word level (`splitWords`): `let's`, `can't`, `double-check`
 * are one token, punctuation and operators are their own tokens, each number
 * 0..100 is one token. Vocabulary: 169 tokens. Measured over 1000 train
 * traces with pFirstChoiceCorrect 0.5, pExecError 0.1, other knobs at their
 * defaults (tokens = prompt + response + EOS, no BOS): level 1 p95 85, max 88
 * (no backtrack: mean 42.8; one backtrack: mean 75.4); level 2 p95 110, max
 * 120 (56.6 / 100.5). About 35% of response tokens are planning. The budget
 * binds on backtracking traces: it re-draws phrasing, then drops optional
 * checks, then re-draws slips, never strategy choices.
 *
 * @module
 */

export {
  allStrategies,
  applyOp,
  chainValues,
  MAX_VALUE,
  type Op,
  OP_SYMBOL,
  OPS,
  renderExpression,
  type Strategy,
} from "./arithmetic.ts";
export { type ParsedExpression, parseExpression } from "./expression.ts";
export {
  allProblems,
  DEFAULT_DIFFICULTY,
  DIFFICULTIES,
  type DifficultySpec,
  difficultySpec,
  generateProblems,
  type GenerateProblemsOptions,
  ID_PERCENT,
  type Problem,
  problemId,
  type Split,
  splitOf,
} from "./problems.ts";
export { formatPrompt, promptLength } from "./prompt.ts";
export {
  matchOpPhrase,
  matchPlanningPhrase,
  matchStrategy,
  OP_PHRASE_TEXT,
  OP_PHRASES,
  PLANNING_PHRASES,
  planningInventory,
  type Role,
  strategyWords,
  TEMPLATE_TEXT,
} from "./phrases.ts";
export { generateTrace, type Trace, type TraceOptions } from "./trace.ts";
export { responseWords, type Verdict, verify } from "./verify.ts";
export { findStrategies, oracleLabels, type StrategyMention } from "./labels.ts";
export {
  analyseResponse,
  earnsReward,
  type Fact,
  findFacts,
  type ResponseAnalysis,
  REWARD_MODES,
  type RewardMode,
  rewardOf,
} from "./analysis.ts";
export {
  BOS,
  EOS,
  PAD,
  SPECIAL_TOKENS,
  testbedVocabulary,
  UNK,
  WordTokenizer,
  type WordTokenizerJson,
} from "./tokenizer.ts";
export { joinWords, splitWords } from "./words.ts";
