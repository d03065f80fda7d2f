/**
 * `warmstart`: supervised training of the base policy on generated solution
 * traces (a mix of right and wrong first strategy choices, recoveries and
 * arithmetic slips), so that RL starts from a policy that executes decently
 * but chooses strategies poorly. Shared by every sweep point that fixes its
 * `seed:`.
 *
 * @module
 */
import {
  Adam,
  disposeGpt,
  initGpt,
  parameterCount,
  supervisedStep,
} from "../algorithms/policy/mod.ts";
import { generateProblems, generateTrace, PAD, WordTokenizer } from "../algorithms/tasks/mod.ts";
import { Rng } from "../algorithms/rng.ts";
import type { StageKind } from "../pipeline/types.ts";
import { mean } from "./metrics_util.ts";
import { backendFrom, savePolicy } from "./policy_io.ts";

/** The stage kind. */
export const warmstart: StageKind = {
  name: "warmstart",
  version: 2,
  doc: "Supervised warm start of the base policy on generated traces",
  params: {
    d_model: { type: "integer", default: 128, min: 8, max: 2048, doc: "Residual width" },
    layers: { type: "integer", default: 2, min: 1, max: 48, doc: "Transformer blocks" },
    heads: { type: "integer", default: 4, min: 1, max: 64, doc: "Attention heads" },
    context: { type: "integer", default: 96, min: 16, max: 4096, doc: "Context length (tokens)" },
    steps: {
      type: "integer",
      default: 400,
      min: 1,
      max: 100_000,
      doc: "Optimizer steps (at most 100,000: ~3 h at the default size on 2 cores)",
    },
    batch: { type: "integer", default: 32, min: 1, max: 4096, doc: "Traces per step" },
    lr: {
      type: "number",
      default: 8e-3,
      exclusiveMin: 0,
      max: 1,
      doc: "Peak learning rate (cosine decay)",
    },
    min_lr_frac: { type: "number", default: 0.1, min: 0, max: 1, doc: "Final lr / peak lr" },
    warmup: { type: "integer", default: 20, min: 0, max: 100_000, doc: "Linear warm-up steps" },
    difficulty: { type: "integer", default: 1, min: 1, max: 2, doc: "Task difficulty level" },
    p_first_correct: {
      type: "number",
      default: 0.3,
      min: 0,
      max: 1,
      doc: "Probability that a trace's first strategy is the working one",
    },
    p_switch_correct: {
      type: "number",
      default: 0.6,
      min: 0,
      max: 1,
      doc: "Probability that a switch after backtracking picks the working strategy",
    },
    p_exec_error: {
      type: "number",
      default: 0.05,
      min: 0,
      max: 1,
      doc: "Probability of an arithmetic slip per step",
    },
  },
  inputs: {},
  check(p) {
    return (p.d_model as number) % (p.heads as number) === 0
      ? []
      : [`heads: ${p.heads} must divide d_model ${p.d_model}`];
  },
  async run(ctx) {
    await backendFrom(ctx.runtime, ctx.threads);
    const p = ctx.params;
    const steps = p.steps as number;
    const batch = p.batch as number;
    const tokenizer = WordTokenizer.testbed();
    const model = initGpt({
      vocabSize: tokenizer.size,
      contextLength: p.context as number,
      dModel: p.d_model as number,
      nLayers: p.layers as number,
      nHeads: p.heads as number,
      mlpRatio: 4,
    }, ctx.seed);
    ctx.metric("model/parameters", parameterCount(model.config));
    const problems = generateProblems({
      seed: ctx.seed,
      count: steps * batch,
      split: "train",
      difficulty: p.difficulty as number,
      distinct: false,
    });
    const rng = new Rng(`warmstart/${ctx.seed}`);
    const traceOpts = {
      pFirstChoiceCorrect: p.p_first_correct as number,
      pSwitchCorrect: p.p_switch_correct as number,
      pExecError: p.p_exec_error as number,
    };
    const peak = p.lr as number;
    const adam = new Adam({ lr: peak });
    const losses: number[] = [];
    const warmup = p.warmup as number;
    const minFrac = p.min_lr_frac as number;
    for (let s = 0; s < steps; s++) {
      const traces = problems.slice(s * batch, (s + 1) * batch).map((pr) =>
        generateTrace(pr, rng, traceOpts)
      );
      const seqs = traces.map((t) => tokenizer.encode(t.words, { bos: true, eos: true }));
      const width = Math.max(...seqs.map((q) => q.length));
      if (width > model.config.contextLength) {
        throw new Error(
          `a trace has ${width} tokens, more than the context of ${model.config.contextLength}; raise context`,
        );
      }
      const tokens = seqs.map((q) => [...q, ...Array(width - q.length).fill(PAD)]);
      // Loss on the response only: positions after BOS + prompt, up to EOS.
      const lossMask = traces.map((t, i) =>
        tokens[i].map((_, j) => j > t.promptLength && j < seqs[i].length)
      );
      const progress = warmup > 0 && s < warmup ? (s + 1) / warmup : minFrac +
        (1 - minFrac) * 0.5 *
          (1 + Math.cos(Math.PI * (s - warmup) / Math.max(1, steps - warmup)));
      adam.lr = peak * progress;
      const r = await supervisedStep(model, adam, { tokens, lossMask });
      if (!Number.isFinite(r.loss)) throw new Error(`loss is ${r.loss} at warm-start step ${s}`);
      losses.push(r.loss);
      if (s % 10 === 9 || s === steps - 1) {
        ctx.progress(s + 1, steps, `loss ${mean(losses.slice(-10)).toFixed(3)}`);
      }
    }
    ctx.metric("loss/first", mean(losses.slice(0, 10)));
    ctx.metric("loss/final", mean(losses.slice(-10)));
    ctx.rows("warmstart_loss", losses.map((loss, step) => ({ iteration: step, loss })));
    await savePolicy(ctx.outDir, model, tokenizer);
    disposeGpt(model);
  },
};
