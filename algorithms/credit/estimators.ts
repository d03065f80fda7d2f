/**
 * The built-in advantage estimators: GRPO, HICRA (paper rule and the authors' code path),
 * the high-entropy ablation and the placebo ablation.
 *
 * @module
 */

import { topFracMask } from "../metrics/top_frac.ts";
import { checkInput, groupAdvantages, groupMeanLengths } from "./baseline.ts";
import type { CreditInput, CreditOptions, CreditOutput } from "./types.ts";

/**
 * GRPO: the sequence advantage (see {@link groupAdvantages}) broadcast to every token.
 * Nothing is modulated.
 */
export function grpo(input: CreditInput, opts: CreditOptions): CreditOutput {
  checkInput(input, []);
  const adv = groupAdvantages(input.rewards, input.groups, opts.stdScaling);
  return {
    advantages: input.lengths.map((len, i) => new Array<number>(len).fill(adv[i])),
    amplified: input.lengths.map((len) => new Array<boolean>(len).fill(false)),
  };
}

/**
 * Paper §3 rule on a token set: Â + α|Â| on selected tokens, Â elsewhere; that is
 * Â·(1+α) when Â > 0 and Â·(1−α) when Â < 0. `amplified` marks selected tokens with Â ≠ 0
 * (where the value actually changes).
 */
export function modulate(
  input: CreditInput,
  opts: CreditOptions,
  selected: readonly (readonly boolean[])[],
): CreditOutput {
  checkAlpha(opts.alpha);
  const adv = groupAdvantages(input.rewards, input.groups, opts.stdScaling);
  const advantages: number[][] = [];
  const amplified: boolean[][] = [];
  for (let i = 0; i < adv.length; i++) {
    const a = adv[i];
    const boosted = a + opts.alpha * Math.abs(a);
    const sel = selected[i];
    advantages.push(Array.from(sel, (s) => (s ? boosted : a)));
    amplified.push(Array.from(sel, (s) => s && a !== 0));
  }
  return { advantages, amplified };
}

/** HICRA as the paper writes it (§3): {@link modulate} on the planning tokens S_i. */
export function hicra(input: CreditInput, opts: CreditOptions): CreditOutput {
  checkInput(input, ["planning"]);
  return modulate(input, opts, input.planning);
}

/**
 * High-entropy ablation (ICLR version's "High-Entropy Advantage"): HICRA's rule on each
 * sequence's top `entropyTopFrac` entropy tokens instead of the planning tokens.
 */
export function highEntropy(
  input: CreditInput,
  opts: CreditOptions,
): CreditOutput {
  checkInput(input, ["entropy"]);
  return modulate(
    input,
    opts,
    input.entropy.map((h) => topFracMask(h, opts.entropyTopFrac)),
  );
}

/**
 * Placebo HICRA: HICRA's rule on the `random` mask (random spans, built by the planning
 * module's `placeboMask`).
 *
 * @throws Error when `input.random` is missing.
 */
export function placebo(input: CreditInput, opts: CreditOptions): CreditOutput {
  if (!input.random) {
    throw new Error(
      'advantage estimator "placebo" needs input.random (a placebo mask)',
    );
  }
  checkInput(input, ["random"]);
  return modulate(input, opts, input.random);
}

/**
 * HICRA as the authors' VeRL code does it, per TRL's transcription (paper digest §2):
 * in responses with Â > 0 AND length > the mean length of their group, tokens that are
 * high-entropy (strictly above the per-sequence 70th percentile) OR planning get Â·(1+α);
 * every other token keeps Â. Since only Â > 0 passes the gate, the code's (1 + α·sign Â) is
 * always 1 + α and the paper's (1 − α) dampening never fires. Pass an all-false planning mask
 * for the code's default entropy-only path. (TRL found the transcribed in-place update may be a
 * no-op in the original; this implements the intended effect.)
 */
export function hicraCode(
  input: CreditInput,
  opts: CreditOptions,
): CreditOutput {
  checkInput(input, ["planning", "entropy"]);
  checkAlpha(opts.alpha);
  const adv = groupAdvantages(input.rewards, input.groups, opts.stdScaling);
  const meanLen = groupMeanLengths(input.lengths, input.groups);
  const advantages: number[][] = [];
  const amplified: boolean[][] = [];
  for (let i = 0; i < adv.length; i++) {
    const a = adv[i];
    const len = input.lengths[i];
    if (!(a > 0 && len > meanLen[i])) {
      advantages.push(new Array<number>(len).fill(a));
      amplified.push(new Array<boolean>(len).fill(false));
      continue;
    }
    const high = topFracMask(input.entropy[i], opts.entropyTopFrac);
    const plan = input.planning[i];
    const sel = high.map((h, t) => h || plan[t]);
    advantages.push(sel.map((s) => (s ? a * (1 + opts.alpha) : a)));
    amplified.push(sel);
  }
  return { advantages, amplified };
}

function checkAlpha(alpha: number): void {
  if (!Number.isFinite(alpha) || alpha < 0) {
    throw new RangeError(`alpha must be a finite number >= 0 (got ${alpha})`);
  }
}
