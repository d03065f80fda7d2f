/**
 * Policy bench: training and KV-cache sampling throughput of the default GPT
 * (DEFAULT_GPT_CONFIG) at batch 32 on wasm and cpu, and on webgpu when a
 * hardware (non-fallback) adapter exists. Shapes follow engine-notes §4:
 * a train step on 32 × 64 token positions (rlStep, Adam), and sampling of 32
 * sequences from 16-token prompts, 48 new tokens each (median of 3 runs).
 *
 * Run alone: `deno run -A bench/policy_bench.ts`.
 *
 * @module
 */
import { Rng } from "../algorithms/rng.ts";
import { type BackendName, useBackend } from "../algorithms/policy/backend.ts";
import {
  DEFAULT_GPT_CONFIG,
  disposeGpt,
  initGpt,
  parameterCount,
} from "../algorithms/policy/gpt.ts";
import { sample } from "../algorithms/policy/sampler.ts";
import { Adam, rlStep } from "../algorithms/policy/train.ts";
import type { BenchRow } from "./types.ts";

const BATCH = 32;
const PROMPT = 16;

/** Per backend: timed train steps, new tokens sampled, and the targets. */
const PLANS: Record<BackendName, {
  trainSteps: number;
  newTokens: number;
  trainTarget?: string;
  sampleTarget?: string;
}> = {
  wasm: {
    trainSteps: 8,
    newTokens: 48,
    trainTarget: "≥15k (issue; 3.2–3.3k before the wasm-specific gradients)",
    sampleTarget: "≥30k (issue; 7.8–9.3k before)",
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

/** Train and sample throughput on one backend. */
async function benchBackend(backend: BackendName): Promise<BenchRow[]> {
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
  rlStep(model, adam, batch); // warm-up (kernel setup, allocation)
  let t0 = performance.now();
  for (let i = 0; i < plan.trainSteps; i++) rlStep(model, adam, batch);
  let seconds = (performance.now() - t0) / 1000;
  rows.push({
    name: `policy train tok/s (rlStep, ${backend}, B32×T64)`,
    value: (BATCH * 64 * plan.trainSteps) / seconds,
    unit: "tok/s",
    target: plan.trainTarget,
    note: `${note}; ${(seconds / plan.trainSteps).toFixed(2)} s/step over ${plan.trainSteps} steps`,
  });
  adam.dispose();

  // Sample: KV cache, no EOS, so every sequence makes plan.newTokens tokens.
  const prompts = tokens(rng, BATCH, PROMPT);
  const opts = { temperature: 1, topP: 1, eosId: -1, seed: 0 };
  await sample(model, prompts, { ...opts, maxNewTokens: 2 }); // warm-up
  const runs: number[] = []; // one run is ~0.2 s on wasm: report the median of 3
  for (let i = 0; i < 3; i++) {
    t0 = performance.now();
    await sample(model, prompts, { ...opts, maxNewTokens: plan.newTokens });
    runs.push((performance.now() - t0) / 1000);
  }
  seconds = runs.sort((a, b) => a - b)[1];
  rows.push({
    name: `policy sample tok/s (KV cache, ${backend}, B32)`,
    value: (BATCH * plan.newTokens) / seconds,
    unit: "tok/s",
    target: plan.sampleTarget,
    note: `${note}; prompt ${PROMPT}, ${plan.newTokens} new tokens, ${
      (seconds * 1000 / plan.newTokens).toFixed(1)
    } ms/step`,
  });
  disposeGpt(model);
  return rows;
}

/** True when navigator.gpu offers a hardware (non-fallback) adapter. */
async function hasHardwareGpu(): Promise<boolean> {
  const adapter = await navigator.gpu?.requestAdapter({
    powerPreference: "high-performance",
  });
  return !!adapter && !adapter.info.isFallbackAdapter;
}

/** Runs the policy bench: wasm, cpu, and webgpu when a real GPU exists. */
export async function bench(): Promise<BenchRow[]> {
  const rows = [...await benchBackend("wasm"), ...await benchBackend("cpu")];
  if (await hasHardwareGpu()) rows.push(...await benchBackend("webgpu"));
  return rows;
}

if (import.meta.main) {
  for (const r of await bench()) {
    console.log(
      `${r.name}: ${Math.round(r.value).toLocaleString("en-US")} ${r.unit}` +
        (r.target ? ` (target ${r.target})` : "") +
        (r.note ? ` — ${r.note}` : ""),
    );
  }
}
