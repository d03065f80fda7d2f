/**
 * The lab's training, scoring and sampling on webgpu (issue 13, follow-up):
 * one rlStep (plain, and with the options whose loss reads forward-pass values
 * while the gradient is recorded), one supervisedStep, sequenceLogprobs and
 * one sampling call run on webgpu and agree with cpu. webgpu reads only
 * asynchronously under Deno, so this fails if any of them reads a GPU tensor
 * synchronously.
 *
 * Runs in a child process (this file with `--child`; Deno's WebGPU instance
 * can abort at exit while other test isolates run), on whatever adapter
 * navigator.gpu offers, a software one (llvmpipe) included via
 * HICRA_ALLOW_SOFTWARE_GPU=1; skips with a printed reason when there is none.
 *
 * @module
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend, webGpuAdapterInfo } from "../../algorithms/policy/backend.ts";
import { disposeGpt, gptFromArrays, namedParameters } from "../../algorithms/policy/gpt.ts";
import { sample } from "../../algorithms/policy/sampler.ts";
import {
  Adam,
  type RlOptions,
  rlStep,
  sequenceLogprobs,
  supervisedStep,
} from "../../algorithms/policy/train.ts";
import { Rng } from "../../algorithms/rng.ts";
import { randomTokens, randomWeights, TINY } from "./helpers.ts";

/** The rlStep option sets compared: plain, and the ones with constants read inside the loss. */
const OPTION_SETS: RlOptions[] = [
  { klBeta: 0.1, entropyCoef: 0.01 },
  { topEntropyQuantile: 0.5, ratioLevel: "sequence-token", lossAgg: "seq-mean-token-mean" },
  { policyLoss: "clip-cov", clipCovRatio: 0.5, clipCovLb: -10, rng: new Rng(4) },
];

/** Everything the child measures on one backend. */
interface Run {
  rl: Record<string, number>[];
  supervised: { loss: number; gradNorm: number };
  weightsAfter: number[];
  logprobs: number[][];
  samples: { tokens: number[]; logprobs: number[] }[];
}

/** The steps on `backend`, from the same weights and batch each time. */
async function runOn(backend: "cpu" | "webgpu"): Promise<Run> {
  await useBackend(backend, { allowFallbackAdapter: true });
  const arrays = randomWeights(TINY, 31, 0.3);
  const rng = new Rng(32);
  const tokens = randomTokens(rng, 4, 10, TINY.vocabSize).map((s, i) => s.slice(0, 7 + i));
  const responseStart = tokens.map(() => 4);
  const rl: Record<string, number>[] = [];
  for (const opts of OPTION_SETS) {
    const model = gptFromArrays(TINY, arrays);
    const ref = gptFromArrays(TINY, arrays.map((a) => a.map((x) => x * 0.9)));
    const cur = await sequenceLogprobs(model, tokens, responseStart);
    const adam = new Adam({ lr: 1e-2 });
    // Fresh rng per backend: clip-cov draws its random subset from it.
    const r = await rlStep(model, adam, {
      tokens,
      responseStart,
      advantages: cur.logprobs.map((row, i) => row.map((_, j) => ((i % 3) - 1) * (1 + 0.1 * j))),
      oldLogprobs: cur.logprobs.map((row) => row.map((x, j) => x - 0.05 * Math.sin(j + 1))),
      refModel: ref,
    }, { ...opts, rng: opts.rng ? new Rng(4) : undefined });
    rl.push({ ...r });
    adam.dispose();
    [model, ref].forEach(disposeGpt);
  }
  const model = gptFromArrays(TINY, arrays);
  // ε 1e-4, not 1e-8: Adam's first step is ±lr for any gradient ≫ ε, so a near-zero
  // gradient's float32 noise would flip whole steps.
  const adam = new Adam({ lr: 1e-2, epsilon: 1e-4 });
  const sup = await supervisedStep(model, adam, {
    tokens,
    lossMask: tokens.map((s) => s.map((_, j) => j >= 2)),
  });
  const weightsAfter: number[] = [];
  for (const { variable } of namedParameters(model)) weightsAfter.push(...await variable.data());
  const lp = await sequenceLogprobs(model, tokens, responseStart, { temperature: 0.8 });
  const samples = await sample(model, tokens.map((s) => s.slice(0, 3)), {
    maxNewTokens: 5,
    temperature: 1,
    topP: 1,
    eosId: -1,
    seed: 7,
  });
  adam.dispose();
  disposeGpt(model);
  return {
    rl,
    supervised: { loss: sup.loss, gradNorm: sup.gradNorm },
    weightsAfter,
    logprobs: lp.logprobs,
    samples: samples.map((s) => ({ tokens: s.tokens, logprobs: s.logprobs })),
  };
}

if (Deno.args[0] === "--child") {
  const adapter = await webGpuAdapterInfo();
  if (!adapter) {
    console.log(JSON.stringify({ skip: "no WebGPU adapter on this machine" }));
  } else {
    const cpu = await runOn("cpu");
    const gpu = await runOn("webgpu");
    console.log(JSON.stringify({ adapter, backend: tf.getBackend(), cpu, gpu }));
  }
  Deno.exit(0);
}

const close = (a: number, b: number, rel: number, what: string) =>
  assert.ok(Math.abs(a - b) <= rel * Math.max(1, Math.abs(a)), `${what}: cpu ${a}, webgpu ${b}`);

Deno.test("webgpu rlStep, supervisedStep, sequenceLogprobs and sampling run and agree with cpu", async () => {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, "--child"],
    env: { HICRA_ALLOW_SOFTWARE_GPU: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  const r = JSON.parse(new TextDecoder().decode(stdout).trim().split("\n").at(-1)!);
  if (r.skip) {
    console.log(`skipped: ${r.skip}`);
    return;
  }
  assert.equal(r.backend, "webgpu");
  // float32 with other summation orders on the GPU: ~1e-6 relative; the gradient norm and the
  // selections it drives (clip-cov, forking tokens) get more room.
  r.cpu.rl.forEach((want: Record<string, number>, i: number) => {
    const got = r.gpu.rl[i];
    assert.ok(want.gradNorm > 0, `option set ${i}: a real gradient`);
    for (const key of ["loss", "pgLoss", "kl", "entropy", "ratioMean"]) {
      close(want[key], got[key], 1e-4, `option set ${i} ${key}`);
    }
    close(want.gradNorm, got.gradNorm, 1e-3, `option set ${i} gradNorm`);
    for (const key of ["clipLowFrac", "clipHighFrac", "entropyKeptFrac", "covSelectedFrac"]) {
      assert.equal(got[key], want[key], `option set ${i} ${key}`);
    }
  });
  assert.ok(r.cpu.rl[1].entropyKeptFrac < 1, "forking tokens selected a subset");
  assert.ok(r.cpu.rl[2].covSelectedFrac > 0, "clip-cov detached some tokens");
  close(r.cpu.supervised.loss, r.gpu.supervised.loss, 1e-4, "supervised loss");
  close(r.cpu.supervised.gradNorm, r.gpu.supervised.gradNorm, 1e-3, "supervised gradNorm");
  // Every parameter after the supervised step (Adam, lr 1e-2, ε 1e-4, norm clipped at 1).
  r.cpu.weightsAfter.forEach((w: number, k: number) =>
    assert.ok(Math.abs(w - r.gpu.weightsAfter[k]) <= 1e-4, `weight ${k} after the step`)
  );
  r.cpu.logprobs.flat().forEach((x: number, k: number) =>
    close(x, r.gpu.logprobs.flat()[k], 1e-4, `sequenceLogprobs ${k}`)
  );
  // Same seed, near-equal distributions: the same tokens (a flip needs a draw within ~1e-6 of
  // a cumulative-probability boundary) and near-equal log-probs.
  r.cpu.samples.forEach((s: { tokens: number[]; logprobs: number[] }, i: number) => {
    assert.deepEqual(r.gpu.samples[i].tokens, s.tokens, `sample ${i} tokens`);
    s.logprobs.forEach((x, j) => close(x, r.gpu.samples[i].logprobs[j], 1e-4, `sample ${i}`));
  });
});
