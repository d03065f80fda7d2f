import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../../algorithms/rng.ts";
import { useBackend } from "../../algorithms/policy/backend.ts";
import {
  cloneGpt,
  DEFAULT_GPT_CONFIG,
  disposeCache,
  disposeGpt,
  forwardCached,
  initGpt,
  logits,
  namedParameters,
  parameterCount,
} from "../../algorithms/policy/gpt.ts";
import { supervisedLoss } from "../../algorithms/policy/train.ts";
import { maxAbsDiff, randomGpt, randomTokens, TINY } from "./helpers.ts";

Deno.test("parameter counts: engine-notes model and the default", () => {
  // engine-notes §4: vocab 64, ctx 64, d 128, 2 layers, 4 heads → 421,376.
  assert.equal(
    parameterCount({ ...DEFAULT_GPT_CONFIG, vocabSize: 64, contextLength: 64 }),
    421_376,
  );
  assert.equal(parameterCount(DEFAULT_GPT_CONFIG), 460_288);
  assert.throws(
    () => parameterCount({ ...TINY, nHeads: 3 }),
    /divisible by nHeads/,
  );
});

Deno.test("init is deterministic per seed and backend-independent", async () => {
  await useBackend("cpu");
  const a = initGpt(TINY, 7);
  const b = initGpt(TINY, 7);
  const c = initGpt(TINY, 8);
  const pa = namedParameters(a), pb = namedParameters(b);
  const pc = namedParameters(c);
  pa.forEach((p, i) => {
    assert.deepEqual(p.variable.dataSync(), pb[i].variable.dataSync());
  });
  assert.notDeepEqual(pa[0].variable.dataSync(), pc[0].variable.dataSync());
  [a, b, c].forEach(disposeGpt);
});

Deno.test("finite-difference gradient check of the LM loss (cpu)", async () => {
  await useBackend("cpu");
  const model = randomGpt(TINY, 3);
  const rng = new Rng(11);
  const tokens = randomTokens(rng, 3, 9, TINY.vocabSize);
  const lossMask = tokens.map((s) => s.map((_, j) => j >= 2));
  const batch = { tokens, lossMask };
  const params = namedParameters(model);
  const vars = params.map((p) => p.variable);
  const lossAt = () => tf.tidy(() => supervisedLoss(model, batch).dataSync()[0]);
  const { grads } = tf.variableGrads(() => supervisedLoss(model, batch), vars);

  // Per parameter tensor, the directional derivative along
  // u = (ĝ + r)/|ĝ + r| (ĝ: the gradient's direction, r: a random unit
  // vector): finite difference of L(θ + εu) vs g·u. Including ĝ keeps the
  // derivative well above float32 rounding noise (~1e-5 at ε = 1e-2), and r
  // probes the directions orthogonal to g.
  const eps = 1e-2;
  let worst = 0;
  for (const { name, variable } of params) {
    const n = variable.size;
    const g = grads[variable.name].dataSync();
    const gNorm = Math.hypot(...g);
    const r = Array.from({ length: n }, () => rng.normal());
    const rNorm = Math.hypot(...r);
    const u = new Float32Array(n);
    for (let i = 0; i < n; i++) u[i] = g[i] / gNorm + r[i] / rNorm;
    const uNorm = Math.hypot(...u);
    for (let i = 0; i < n; i++) u[i] /= uNorm;
    let analytic = 0;
    for (let i = 0; i < n; i++) analytic += g[i] * u[i];
    const theta = (variable.dataSync() as Float32Array).slice();
    const shifted = (s: number) =>
      tf.tidy(() =>
        variable.assign(
          tf.tensor(theta.map((t, i) => t + s * u[i]), variable.shape),
        )
      );
    shifted(eps);
    const up = lossAt();
    shifted(-eps);
    const down = lossAt();
    shifted(0);
    const numeric = (up - down) / (2 * eps);
    const err = Math.abs(numeric - analytic) /
      Math.max(Math.abs(numeric), Math.abs(analytic), 1e-3);
    worst = Math.max(worst, err);
    assert.ok(
      err < 1e-2,
      `${name}: finite difference ${numeric} vs gradient ${analytic} (rel err ${err})`,
    );
  }
  assert.ok(worst < 1e-2);
  tf.dispose(Object.values(grads));
  disposeGpt(model);
});

Deno.test("KV-cache incremental logits equal the full forward", async () => {
  await useBackend("cpu");
  const model = randomGpt(TINY, 5);
  const tokens = randomTokens(new Rng(2), 2, 10, TINY.vocabSize);
  const full = tf.tidy(() => logits(model, tf.tensor2d(tokens, undefined, "int32")));
  const fullData = full.arraySync();
  // Prefill 4 tokens, then feed one at a time.
  const first = tf.tensor2d(
    tokens.map((s) => s.slice(0, 4)),
    undefined,
    "int32",
  );
  let step = forwardCached(model, first, null);
  first.dispose();
  const pieces = [step.logits.arraySync()];
  step.logits.dispose();
  for (let t = 4; t < 10; t++) {
    const x = tf.tensor2d(tokens.map((s) => [s[t]]), undefined, "int32");
    const next = forwardCached(model, x, step.cache);
    disposeCache(step.cache);
    x.dispose();
    step = next;
    pieces.push(step.logits.arraySync());
    step.logits.dispose();
  }
  disposeCache(step.cache);
  for (let b = 0; b < 2; b++) {
    const inc = pieces.flatMap((p) => p[b]).flat();
    assert.ok(maxAbsDiff(inc, fullData[b].flat()) < 1e-5);
  }
  full.dispose();
  disposeGpt(model);
});

Deno.test("cpu and wasm logits agree within 1e-4", async () => {
  const tokens = randomTokens(new Rng(9), 4, 32, DEFAULT_GPT_CONFIG.vocabSize);
  const run = async (backend: "cpu" | "wasm") => {
    await useBackend(backend);
    const model = initGpt(DEFAULT_GPT_CONFIG, 1);
    const big = randomGpt(TINY, 4);
    const out = tf.tidy(() => [
      logits(model, tf.tensor2d(tokens, undefined, "int32")).dataSync(),
      logits(
        big,
        tf.tensor2d(
          tokens.map((s) => s.slice(0, 12).map((t) => t % 11)),
          undefined,
          "int32",
        ),
      )
        .dataSync(),
    ]);
    disposeGpt(model);
    disposeGpt(big);
    return out;
  };
  const [cpuDefault, cpuTiny] = await run("cpu");
  const [wasmDefault, wasmTiny] = await run("wasm");
  assert.ok(maxAbsDiff(cpuDefault, wasmDefault) < 1e-4);
  assert.ok(
    maxAbsDiff(cpuTiny, wasmTiny) < 1e-4,
    `tiny: ${maxAbsDiff(cpuTiny, wasmTiny)}`,
  );
  await useBackend("cpu");
});

Deno.test("cloneGpt copies weights into independent variables", async () => {
  await useBackend("cpu");
  const a = randomGpt(TINY, 1);
  const b = cloneGpt(a);
  const pa = namedParameters(a)[0].variable,
    pb = namedParameters(b)[0].variable;
  assert.deepEqual(pa.dataSync(), pb.dataSync());
  pa.assign(tf.zerosLike(pa));
  assert.notDeepEqual(pa.dataSync(), pb.dataSync());
  disposeGpt(a);
  disposeGpt(b);
});

Deno.test("forward rejects sequences longer than the context", async () => {
  await useBackend("cpu");
  const model = randomGpt(TINY, 1);
  const x = tf.zeros([1, TINY.contextLength + 1], "int32") as tf.Tensor2D;
  assert.throws(
    () => tf.tidy(() => logits(model, x)),
    /exceeds the context length 12/,
  );
  x.dispose();
  disposeGpt(model);
});
