/**
 * Per-kernel profile of the policy's forward pass and training step, to find
 * the kernels that make a backward pass slow (issue 13). Runs on webgpu by
 * default — on a software adapter (Mesa llvmpipe) too, since profiling is
 * what the HICRA_ALLOW_SOFTWARE_GPU opt-in is for — or on any other tfjs
 * backend for comparison.
 *
 * One step = next-token cross-entropy (supervisedLoss) over B × 64 positions,
 * its gradients for every parameter, and one Adam update. Wall times are
 * medians over `--repeats` runs after a warm-up (shader compilation), each
 * ending with an awaited read of every output. The kernel table comes from
 * one `tf.profile` of the gradient computation, split where the loss
 * function returns: kernels before are the forward pass, after it the
 * backward pass. On webgpu, kernel times are GPU timestamps (one pass per
 * kernel while profiling); on cpu/wasm they are wall times per kernel.
 *
 * Usage: `deno run -A bench/webgpu_profile.ts [--batch 8] [--repeats 2]
 * [--models default,small] [--top 10] [--backend webgpu] [--ops webgpu|wasm]
 * [--json FILE]`; `--ops wasm` profiles the wasm-oriented ops on webgpu (the
 * state before issue 13's fixes).
 *
 * @module
 */
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs";
import {
  type BackendName,
  BACKENDS,
  useBackend,
  webGpuAdapterInfo,
} from "../algorithms/policy/backend.ts";
import {
  DEFAULT_GPT_CONFIG,
  disposeGpt,
  type Gpt,
  type GptConfig,
  initGpt,
  namedParameters,
  parameterCount,
  setWebGpuOps,
} from "../algorithms/policy/gpt.ts";
import { Adam, supervisedLoss } from "../algorithms/policy/train.ts";

/**
 * The profiled models: the default policy, a smaller one, and (for real
 * GPUs: scripts/gpu_check.sh) a 25M-parameter one like engine-notes §7's.
 */
export const PROFILE_MODELS: Record<string, GptConfig> = {
  default: { ...DEFAULT_GPT_CONFIG },
  small: { ...DEFAULT_GPT_CONFIG, dModel: 64, nLayers: 1, nHeads: 2 },
  large: { ...DEFAULT_GPT_CONFIG, dModel: 512, nLayers: 8, nHeads: 8 },
};

/** Positions per sequence (the policy bench's B × 64). */
export const SEQ_POSITIONS = 64;

/** A supervised batch of `b` fixed pseudo-random sequences of 65 tokens. */
export function profileBatch(config: GptConfig, b: number) {
  const tokens = Array.from(
    { length: b },
    (_, i) =>
      Array.from(
        { length: SEQ_POSITIONS + 1 },
        (_, j) => 1 + ((i * 7919 + j * 104729) % (config.vocabSize - 1)),
      ),
  );
  return { tokens, lossMask: tokens.map((s) => s.map(() => true)) };
}

/** Wall times (ms, medians) of one forward, forward + backward, and full train step. */
export interface StepTimes {
  forwardMs: number;
  /** Forward + backward (all gradients read back). */
  gradMs: number;
  /** Forward + backward + Adam update. */
  trainMs: number;
}

/** Awaits every tensor's data (so the device has finished), then frees them. */
async function settle(tensors: tf.Tensor[]): Promise<void> {
  await Promise.all(tensors.map((t) => t.data()));
  tf.dispose(tensors);
}

async function medianMs(repeats: number, f: () => Promise<void>): Promise<number> {
  const runs: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await f();
    runs.push(performance.now() - t0);
  }
  return runs.sort((a, b) => a - b)[Math.floor(repeats / 2)];
}

/** The loss's gradients for every parameter, with the loss value. */
function lossAndGrads(
  model: Gpt,
  batch: ReturnType<typeof profileBatch>,
  onForwardEnd?: () => void,
) {
  const params = namedParameters(model).map((p) => p.variable);
  const { value, grads } = tf.variableGrads(() => {
    const loss = supervisedLoss(model, batch);
    onForwardEnd?.();
    return loss;
  }, params);
  return { value, grads: params.map((p) => grads[p.name]), params };
}

/**
 * Median wall times of a forward pass, a forward + backward pass and a train
 * step (with Adam) on the active backend, after one warm-up of each.
 */
export async function timeStep(
  model: Gpt,
  batch: ReturnType<typeof profileBatch>,
  repeats: number,
): Promise<StepTimes> {
  const adam = new Adam({ lr: 1e-4 });
  const forward = () => settle([supervisedLoss(model, batch)]);
  const grad = () => {
    const { value, grads } = lossAndGrads(model, batch);
    return settle([value, ...grads]);
  };
  const train = async () => {
    const { value, grads, params } = lossAndGrads(model, batch);
    adam.apply(params, grads);
    tf.dispose(grads);
    await settle([value, ...params.map((p) => tf.clone(p))]);
  };
  try {
    await forward();
    await grad();
    await train();
    return {
      forwardMs: await medianMs(repeats, forward),
      gradMs: await medianMs(repeats, grad),
      trainMs: await medianMs(repeats, train),
    };
  } finally {
    adam.dispose();
  }
}

/** One kernel call as tf.profile reports it. */
export interface KernelCall {
  name: string;
  ms: number;
  inputShapes: number[][];
  outputShapes: number[][];
}

/** Kernel calls of one forward + backward pass, split at the end of the forward. */
export interface KernelProfile {
  forward: KernelCall[];
  backward: KernelCall[];
}

/** Profiles one gradient computation kernel by kernel (after `timeStep`'s warm-up). */
export async function profileKernels(
  model: Gpt,
  batch: ReturnType<typeof profileBatch>,
): Promise<KernelProfile> {
  const engine = tf.engine();
  let split = -1;
  const info = await tf.profile(() => {
    const { value, grads } = lossAndGrads(model, batch, () => {
      split = engine.state.activeProfile.kernels.length;
    });
    return [value, ...grads];
  });
  tf.dispose(info.result as tf.Tensor[]);
  // tf.profile returns the engine's live profile object: copy what we need.
  const calls: KernelCall[] = info.kernels.map((k) => ({
    name: k.name,
    ms: Number(k.kernelTimeMs) || 0,
    inputShapes: k.inputShapes.map((s) => s ?? []),
    outputShapes: k.outputShapes,
  }));
  return { forward: calls.slice(0, split), backward: calls.slice(split) };
}

/** Per kernel name: time and calls in the forward and the backward pass. */
export interface KernelRow {
  name: string;
  fwdMs: number;
  fwdCalls: number;
  bwdMs: number;
  bwdCalls: number;
}

/** Aggregates a profile by `key` (default: kernel name), slowest first. */
export function aggregate(
  profile: KernelProfile,
  key: (c: KernelCall) => string = (c) => c.name,
): KernelRow[] {
  const rows = new Map<string, KernelRow>();
  const add = (c: KernelCall, fwd: boolean) => {
    const k = key(c);
    let row = rows.get(k);
    if (!row) rows.set(k, row = { name: k, fwdMs: 0, fwdCalls: 0, bwdMs: 0, bwdCalls: 0 });
    if (fwd) {
      row.fwdMs += c.ms;
      row.fwdCalls++;
    } else {
      row.bwdMs += c.ms;
      row.bwdCalls++;
    }
  };
  profile.forward.forEach((c) => add(c, true));
  profile.backward.forEach((c) => add(c, false));
  return [...rows.values()]
    .filter((r) => r.fwdMs + r.bwdMs > 0 || !/^(Identity|Reshape|unnamed scope)\b/.test(r.name))
    .sort((a, b) => b.fwdMs + b.bwdMs - (a.fwdMs + a.bwdMs));
}

/** Kernel name with its input shapes, e.g. `BatchMatMul [512,1]ᵀ…`. */
export function shapeKey(c: KernelCall): string {
  return `${c.name} ${c.inputShapes.map((s) => `[${s.join(",")}]`).join(" ")}`;
}

/** A markdown table of the top `top` rows plus the totals. */
export function kernelTable(rows: KernelRow[], top: number): string {
  const f = (x: number) => x.toFixed(1);
  const total = rows.reduce(
    (t, r) => ({
      fwd: t.fwd + r.fwdMs,
      bwd: t.bwd + r.bwdMs,
      fc: t.fc + r.fwdCalls,
      bc: t.bc + r.bwdCalls,
    }),
    { fwd: 0, bwd: 0, fc: 0, bc: 0 },
  );
  const lines = [
    "| kernel | fwd ms | fwd calls | bwd ms | bwd calls | share of step |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
    ...rows.slice(0, top).map((r) =>
      `| ${r.name} | ${f(r.fwdMs)} | ${r.fwdCalls} | ${f(r.bwdMs)} | ${r.bwdCalls} | ${
        (100 * (r.fwdMs + r.bwdMs) / (total.fwd + total.bwd || 1)).toFixed(0)
      }% |`
    ),
    `| **all kernels** | ${f(total.fwd)} | ${total.fc} | ${f(total.bwd)} | ${total.bc} | 100% |`,
  ];
  return lines.join("\n");
}

/** Everything measured for one model. */
export interface ModelProfile {
  model: string;
  params: number;
  batch: number;
  times: StepTimes;
  byName: KernelRow[];
  byShape: KernelRow[];
}

/** Times and profiles one model at batch `b` on the active backend. */
export async function profileModel(
  name: string,
  config: GptConfig,
  b: number,
  repeats: number,
): Promise<ModelProfile> {
  const model = initGpt(config, 0);
  try {
    const batch = profileBatch(config, b);
    const times = await timeStep(model, batch, repeats);
    const profile = await profileKernels(model, batch);
    return {
      model: name,
      params: parameterCount(config),
      batch: b,
      times,
      byName: aggregate(profile),
      byShape: aggregate(profile, shapeKey),
    };
  } finally {
    disposeGpt(model);
  }
}

/** The report of one model: wall times, the backward/forward ratio and the kernel tables. */
export function formatProfile(p: ModelProfile, top: number): string {
  const { forwardMs, gradMs, trainMs } = p.times;
  const backwardMs = gradMs - forwardMs;
  const tokens = p.batch * SEQ_POSITIONS;
  return [
    `## ${p.model} policy (${
      p.params.toLocaleString("en-US")
    } params), B${p.batch}×T${SEQ_POSITIONS}`,
    "",
    `wall: forward ${forwardMs.toFixed(0)} ms (${(tokens / forwardMs * 1000).toFixed(0)} tok/s), ` +
    `forward+backward ${gradMs.toFixed(0)} ms, train step (+Adam) ${trainMs.toFixed(0)} ms ` +
    `(${(tokens / trainMs * 1000).toFixed(0)} tok/s); ` +
    `backward = ${(backwardMs / forwardMs).toFixed(2)}× forward`,
    "",
    `Top ${top} kernels by time (forward vs backward):`,
    "",
    kernelTable(p.byName, top),
    "",
    `Top ${top} kernel calls by shape:`,
    "",
    kernelTable(p.byShape, top),
  ].join("\n");
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      batch: { type: "string", default: "8" },
      repeats: { type: "string", default: "2" },
      models: { type: "string", default: "default,small" },
      top: { type: "string", default: "10" },
      backend: { type: "string", default: "webgpu" },
      ops: { type: "string", default: "webgpu" },
      json: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(
      "Usage: deno run -A bench/webgpu_profile.ts [--batch 8] [--repeats 2] " +
        "[--models default,small] [--top 10] [--backend webgpu|wasm|cpu] [--ops webgpu|wasm] " +
        "[--json FILE]\n\n--ops wasm: run the wasm-oriented ops on webgpu too (the state before issue 13).",
    );
    Deno.exit(0);
  }
  const backend = values.backend as BackendName;
  const batch = Number(values.batch), repeats = Number(values.repeats), top = Number(values.top);
  const models = values.models.split(",");
  const problems = [
    !BACKENDS.includes(backend) || backend === "onnx"
      ? `--backend: "${backend}" is not a tfjs backend`
      : "",
    !(Number.isInteger(batch) && batch >= 1)
      ? `--batch: expected a positive integer, got "${values.batch}"`
      : "",
    !(Number.isInteger(repeats) && repeats >= 1) ? `--repeats: expected a positive integer` : "",
    !["webgpu", "wasm"].includes(values.ops)
      ? `--ops: expected webgpu or wasm, got "${values.ops}"`
      : "",
    ...models.filter((m) => !PROFILE_MODELS[m]).map((m) =>
      `--models: unknown model "${m}" (known: ${Object.keys(PROFILE_MODELS).join(", ")})`
    ),
  ].filter(Boolean);
  if (problems.length) {
    for (const p of problems) console.error(`error: ${p}`);
    Deno.exit(2);
  }
  try {
    // Profiling is what the software-adapter opt-in exists for.
    await useBackend(backend, { allowFallbackAdapter: true });
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    Deno.exit(2);
  }
  setWebGpuOps(values.ops === "webgpu");
  const adapter = backend === "webgpu" ? await webGpuAdapterInfo() : null;
  console.log(`# ${backend}${adapter ? ` (${adapter.label})` : ""}, ${values.ops} ops\n`);
  const results: ModelProfile[] = [];
  for (const m of models) {
    const p = await profileModel(m, PROFILE_MODELS[m], batch, repeats);
    results.push(p);
    console.log(formatProfile(p, top) + "\n");
    // After each model, so a run cut short by a time limit keeps what it measured.
    if (values.json) Deno.writeTextFileSync(values.json, JSON.stringify(results, null, 2));
  }
}
