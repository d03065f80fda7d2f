import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../../algorithms/rng.ts";
import { useBackend } from "../../algorithms/policy/backend.ts";
import {
  loadCheckpoint,
  loadOptimizer,
  saveCheckpoint,
} from "../../algorithms/policy/checkpoint.ts";
import { disposeGpt, logits, namedParameters } from "../../algorithms/policy/gpt.ts";
import { Adam, supervisedStep } from "../../algorithms/policy/train.ts";
import { randomGpt, randomTokens, TINY } from "./helpers.ts";

async function readAll(dir: string): Promise<Record<string, Uint8Array>> {
  const out: Record<string, Uint8Array> = {};
  for await (const e of Deno.readDir(dir)) {
    out[e.name] = await Deno.readFile(join(dir, e.name));
  }
  return out;
}

Deno.test("checkpoint round-trips byte-exactly with identical logits", async () => {
  await useBackend("cpu");
  const tmp = await Deno.makeTempDir();
  try {
    const model = randomGpt(TINY, 1);
    await saveCheckpoint(model, join(tmp, "a"));
    const loaded = await loadCheckpoint(join(tmp, "a"));
    await saveCheckpoint(loaded, join(tmp, "b"));
    const [a, b] = [
      await readAll(join(tmp, "a")),
      await readAll(join(tmp, "b")),
    ];
    assert.deepEqual(Object.keys(a).sort(), ["config.json", "weights.bin"]);
    assert.deepEqual(a, b);
    assert.deepEqual(loaded.config, TINY);
    const x = tf.tensor2d(
      randomTokens(new Rng(1), 2, 8, TINY.vocabSize),
      undefined,
      "int32",
    );
    const [la, lb] = tf.tidy(
      () => [logits(model, x).dataSync(), logits(loaded, x).dataSync()],
    );
    assert.deepEqual(la, lb);
    x.dispose();
    disposeGpt(model);
    disposeGpt(loaded);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("checkpoint with optimizer state resumes training identically", async () => {
  await useBackend("cpu");
  const tmp = await Deno.makeTempDir();
  try {
    const tokens = randomTokens(new Rng(2), 3, 8, TINY.vocabSize);
    const batch = { tokens, lossMask: tokens.map((s) => s.map(() => true)) };
    const model = randomGpt(TINY, 2);
    const adam = new Adam({ lr: 1e-2, beta2: 0.99, weightDecay: 0.1 });
    await supervisedStep(model, adam, batch);
    await supervisedStep(model, adam, batch);
    await saveCheckpoint(model, tmp, { optimizer: adam });
    const resumed = await loadCheckpoint(tmp);
    const adam2 = await loadOptimizer(tmp, resumed);
    if (!adam2) throw new Error("the optimizer state was not saved");
    assert.equal(adam2.step, 2);
    assert.equal(adam2.beta2, 0.99);
    for (let i = 0; i < 2; i++) {
      const l1: number = (await supervisedStep(model, adam, batch)).loss;
      const l2: number = (await supervisedStep(resumed, adam2, batch)).loss;
      assert.equal(l1, l2);
    }
    const pa = namedParameters(model), pb = namedParameters(resumed);
    pa.forEach((p, i) => assert.deepEqual(p.variable.dataSync(), pb[i].variable.dataSync()));
    // Without optimizer state: loadOptimizer gives null.
    await saveCheckpoint(model, join(tmp, "plain"));
    assert.equal(await loadOptimizer(join(tmp, "plain"), model), null);
    adam.dispose();
    adam2.dispose();
    disposeGpt(model);
    disposeGpt(resumed);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("loading a damaged checkpoint fails clearly", async () => {
  await useBackend("cpu");
  const tmp = await Deno.makeTempDir();
  try {
    const model = randomGpt(TINY, 3);
    await saveCheckpoint(model, tmp);
    const bytes = await Deno.readFile(join(tmp, "weights.bin"));
    await Deno.writeFile(join(tmp, "weights.bin"), bytes.slice(0, 100));
    await assert.rejects(
      () => loadCheckpoint(tmp),
      /weights.bin has 100 bytes/,
    );
    await assert.rejects(
      () => loadCheckpoint(join(tmp, "missing")),
      /Cannot load checkpoint/,
    );
    disposeGpt(model);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
