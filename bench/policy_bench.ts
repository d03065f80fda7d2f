/**
 * Policy bench: training and KV-cache sampling throughput of the default GPT
 * (DEFAULT_GPT_CONFIG) at batch 32 on onnx (onnxruntime; training with one
 * thread per core and with one), wasm and cpu. Shapes follow engine-notes §4: a train step
 * on 32 × 64 token positions (rlStep, Adam; median of 3 timed runs), and
 * sampling of 32 sequences from 16-token prompts, 48 new tokens each (median
 * of 5 runs after 4 warm-up runs; cpu: 1 of each). One more onnx row samples
 * the main job's batch: 16 prompts × 8.
 *
 * WebGPU (issue 13): forward and train tok/s (B32×T64, supervised loss,
 * gradients and Adam, awaited) on a real GPU when there is one, else
 * a row "unmeasured (no device)"; and on a software adapter (llvmpipe) only
 * with HICRA_ALLOW_SOFTWARE_GPU=1, since it adds minutes.
 *
 * Run alone: `deno run -A bench/policy_bench.ts`.
 *
 * @module
 */
import { Rng } from "../algorithms/rng.ts";
import {
  type BackendName,
  softwareGpuAllowed,
  useBackend,
  webGpuAdapterInfo,
} from "../algorithms/policy/backend.ts";
import {
  DEFAULT_GPT_CONFIG,
  disposeGpt,
  initGpt,
  parameterCount,
} from "../algorithms/policy/gpt.ts";
import { sample } from "../algorithms/policy/sampler.ts";
import { Adam, rlStep } from "../algorithms/policy/train.ts";
import { ortThreads, setOrtThreads } from "../algorithms/policy/onnx/threads.ts";
import type { BenchRow } from "./types.ts";
import { profileBatch, SEQ_POSITIONS, timeStep } from "./webgpu_profile.ts";

const BATCH = 32;
const PROMPT = 16;

/** Per backend: timed train steps, new tokens sampled, and the targets. */
const PLANS: Record<BackendName, {
  trainSteps: number;
  newTokens: number;
  trainTarget?: string;
  sampleTarget?: string;
}> = {
  onnx: {
    trainSteps: 10,
    newTokens: 48,
    trainTarget: "≥15k (issue 5; wasm 3.2–3.3k before it)",
    sampleTarget: "≥30k (issue 5; wasm 7.8–9.3k before it)",
  },
  wasm: {
    trainSteps: 4,
    newTokens: 48,
    trainTarget: "tfjs reference (3.2–3.3k before issue 5)",
    sampleTarget: "tfjs reference (7.8–9.3k before issue 5)",
  },
  cpu: {
    trainSteps: 1,
    newTokens: 8,
    trainTarget: "reference (engine-notes: 233)",
    sampleTarget: "reference (engine-notes: 271–373)",
  },
  webgpu: { trainSteps: 3, newTokens: 48 },
};

/** Random token rows with ids in 1..vocabSize-1. */
function tokens(rng: Rng, rows: number, length: number): number[][] {
  const v = DEFAULT_GPT_CONFIG.vocabSize;
  return Array.from(
    { length: rows },
    () => Array.from({ length }, () => rng.int(1, v - 1)),
  );
}

/** Median of `n` timings (seconds) of `f`. */
async function median(n: number, f: () => unknown): Promise<number> {
  const runs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await f();
    runs.push((performance.now() - t0) / 1000);
  }
  return runs.sort((a, b) => a - b)[Math.floor(n / 2)];
}

/**
 * Train and (unless `trainOnly`) sample throughput on one backend; `label`
 * names the variant.
 */
async function benchBackend(
  backend: BackendName,
  label: string = backend,
  trainOnly = false,
): Promise<BenchRow[]> {
  const plan = PLANS[backend];
  await useBackend(backend);
  const model = initGpt(DEFAULT_GPT_CONFIG, 0);
  const rng = new Rng(1);
  const rows: BenchRow[] = [];
  const note = `default GPT (${parameterCount(DEFAULT_GPT_CONFIG).toLocaleString("en-US")} params)`;

  // Train: sequences of 65 tokens = 64 input positions, 48 response tokens.
  const seqs = tokens(rng, BATCH, 65);
  const responseStart = seqs.map(() => 17);
  const batch = {
    tokens: seqs,
    responseStart,
    advantages: seqs.map((s) => s.slice(17).map(() => rng.normal())),
    oldLogprobs: seqs.map((s) => s.slice(17).map(() => -5)),
  };
  const adam = new Adam({ lr: 1e-4 });
  await rlStep(model, adam, batch); // warm-up (kernel setup, allocation)
  const timed = backend === "cpu" ? 1 : 3;
  let seconds = await median(timed, async () => {
    for (let i = 0; i < plan.trainSteps; i++) await rlStep(model, adam, batch);
  });
  rows.push({
    name: `policy train tok/s (rlStep, ${label}, B32×T64)`,
    value: (BATCH * 64 * plan.trainSteps) / seconds,
    unit: "tok/s",
    target: plan.trainTarget,
    note: `${note}; ${
      (seconds / plan.trainSteps * 1000).toFixed(0)
    } ms/step, median of ${timed} × ${plan.trainSteps} steps`,
  });
  adam.dispose();
  if (trainOnly) {
    disposeGpt(model);
    return rows;
  }

  // Sample: KV cache, no EOS, so every sequence makes plan.newTokens tokens.
  const prompts = tokens(rng, BATCH, PROMPT);
  const opts = { temperature: 1, topP: 1, eosId: -1, seed: 0 };
  // Warm-up: V8 tiers the sampling loop up and onnxruntime plans each new
  // input shape over the first few calls (the first is ~4× slower).
  const warmups = backend === "cpu" ? 1 : 4;
  for (let i = 0; i < warmups; i++) {
    await sample(model, prompts, { ...opts, maxNewTokens: plan.newTokens });
  }
  seconds = await median(
    backend === "cpu" ? 1 : 5,
    () => sample(model, prompts, { ...opts, maxNewTokens: plan.newTokens }),
  );
  rows.push({
    name: `policy sample tok/s (KV cache, ${label}, B32)`,
    value: (BATCH * plan.newTokens) / seconds,
    unit: "tok/s",
    target: plan.sampleTarget,
    note: `${note}; prompt ${PROMPT}, ${plan.newTokens} new tokens, ${
      (seconds * 1000 / plan.newTokens).toFixed(1)
    } ms/step`,
  });
  if (backend === "onnx") {
    // The main job's sampling batch: 16 prompts of 9–14 tokens, 8 samples each.
    const mainPrompts = tokens(rng, 16, 14).flatMap((p, i) =>
      Array(8).fill(p.slice(0, 9 + (i % 6)))
    );
    const n = mainPrompts.length;
    await sample(model, mainPrompts, { ...opts, maxNewTokens: plan.newTokens }); // warm-up
    seconds = await median(
      5,
      () => sample(model, mainPrompts, { ...opts, maxNewTokens: plan.newTokens }),
    );
    rows.push({
      name: `policy sample tok/s (KV cache, ${label}, B${n} ragged)`,
      value: (n * plan.newTokens) / seconds,
      unit: "tok/s",
      note: `${note}; 16 prompts of 9–14 tokens × 8 in one batch, ${plan.newTokens} new tokens`,
    });
  }
  disposeGpt(model);
  return rows;
}

/**
 * WebGPU rows: forward and train tok/s of the default GPT at B32×T64 (medians
 * of 3 after a warm-up; ~1.5 min on llvmpipe), or
 * one "unmeasured" row when there is no hardware adapter and the software
 * one is not opted into.
 */
export async function benchWebGpu(): Promise<BenchRow[]> {
  const adapter = await webGpuAdapterInfo();
  const hardware = !!adapter && !adapter.fallback;
  const rows: BenchRow[] = [];
  if (!hardware) {
    rows.push({
      name: "policy train tok/s (webgpu, real GPU, B32×T64)",
      value: NaN,
      unit: "tok/s",
      target: "within 5× of PyTorch eager fp32 (issue 13)",
      note: `unmeasured (no device${adapter ? `; only ${adapter.label}` : ""}); ` +
        "scripts/gpu_check.sh measures it on a GPU machine",
    });
  }
  if (!adapter || (!hardware && !softwareGpuAllowed())) return rows;
  await useBackend("webgpu", { allowFallbackAdapter: true });
  const model = initGpt(DEFAULT_GPT_CONFIG, 0);
  try {
    const t = await timeStep(model, profileBatch(DEFAULT_GPT_CONFIG, BATCH), 3);
    const tokens = BATCH * SEQ_POSITIONS;
    const label = hardware ? adapter.label : `${adapter.label}, software`;
    const ratio = (t.gradMs - t.forwardMs) / t.forwardMs;
    rows.push(
      {
        name: `policy forward tok/s (webgpu, ${label}, B32×T64)`,
        value: tokens / t.forwardMs * 1000,
        unit: "tok/s",
        note: `${t.forwardMs.toFixed(0)} ms per forward (loss included)`,
      },
      {
        name: `policy train tok/s (webgpu, ${label}, B32×T64)`,
        value: tokens / t.trainMs * 1000,
        unit: "tok/s",
        target: hardware
          ? "within 5× of PyTorch eager fp32 (issue 13)"
          : "backward ≤ 3× forward (issue 13)",
        note: `${t.trainMs.toFixed(0)} ms/step (forward, backward, Adam); ` +
          `backward = ${ratio.toFixed(2)}× forward`,
      },
    );
  } finally {
    disposeGpt(model);
  }
  return rows;
}

/** Runs the policy bench: onnx, wasm, cpu, and the webgpu rows (see benchWebGpu). */
export async function bench(): Promise<BenchRow[]> {
  // onnx: training with the default threads (one per core here) and with one
  // (as in pipeline workers); decoding always runs on one thread.
  const threads = ortThreads();
  const rows = await benchBackend("onnx", `onnx, ${threads} thread${threads === 1 ? "" : "s"}`);
  if (threads !== 1) {
    setOrtThreads(1);
    rows.push(...await benchBackend("onnx", "onnx, 1 thread", true));
    setOrtThreads(threads);
  }
  rows.push(...await benchBackend("wasm"), ...await benchBackend("cpu"));
  rows.push(...await benchWebGpu());
  return rows;
}

if (import.meta.main) {
  for (const r of await bench()) {
    console.log(
      `${r.name}: ${
        Number.isNaN(r.value) ? "unmeasured" : Math.round(r.value).toLocaleString("en-US")
      } ${r.unit}` +
        (r.target ? ` (target ${r.target})` : "") +
        (r.note ? ` — ${r.note}` : ""),
    );
  }
}
