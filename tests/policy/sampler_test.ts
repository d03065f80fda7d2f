import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../../algorithms/rng.ts";
import { useBackend } from "../../algorithms/policy/backend.ts";
import { disposeGpt, logits } from "../../algorithms/policy/gpt.ts";
import { sample, type SampleOptions } from "../../algorithms/policy/sampler.ts";
import { sequenceLogprobs } from "../../algorithms/policy/train.ts";
import { maxAbsDiff, randomGpt, randomTokens, TINY } from "./helpers.ts";

const OPTS: SampleOptions = {
  maxNewTokens: 8,
  temperature: 1,
  topP: 1,
  eosId: -1, // never: every sequence runs to its limit
  seed: 1,
};

/** Prompts of three different lengths, interleaved. */
function prompts(): number[][] {
  const rng = new Rng(4);
  return [
    ...randomTokens(rng, 3, 2, TINY.vocabSize),
    ...randomTokens(rng, 2, 3, TINY.vocabSize),
    ...randomTokens(rng, 1, 6, TINY.vocabSize),
  ].map((_p, i, all) => all[(i * 5) % all.length]);
}

Deno.test("sampling is deterministic per seed", async () => {
  await useBackend("cpu");
  const model = randomGpt(TINY, 1, 0.5);
  const ps = prompts();
  const a = await sample(model, ps, OPTS);
  const b = await sample(model, ps, OPTS);
  const c = await sample(model, ps, { ...OPTS, seed: 2 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.map((s) => s.tokens), c.map((s) => s.tokens));
  // A sequence's draws do not depend on batching.
  const solo = await sample(model, ps, { ...OPTS, batchSize: 1 });
  assert.deepEqual(solo.map((s) => s.tokens), a.map((s) => s.tokens));
  // Lengths: maxNewTokens, or the context for the 6-token prompt.
  a.forEach((s, i) => {
    const room = TINY.contextLength - ps[i].length;
    assert.equal(s.tokens.length, Math.min(OPTS.maxNewTokens, room));
    assert.equal(
      s.stopReason,
      room <= OPTS.maxNewTokens ? "context" : "length",
    );
    assert.equal(s.logprobs.length, s.tokens.length);
    assert.equal(s.entropy.length, s.tokens.length);
  });
  disposeGpt(model);
});

Deno.test("KV-cache sampling log-probs equal a full re-forward's", async () => {
  for (const backend of ["cpu", "wasm"] as const) {
    await useBackend(backend);
    const model = randomGpt(TINY, 2, 0.5);
    const ps = prompts();
    for (const temperature of [1, 0.7]) {
      const out = await sample(model, ps, { ...OPTS, temperature });
      const full = await sequenceLogprobs(
        model,
        ps.map((p, i) => [...p, ...out[i].tokens]),
        ps.map((p) => p.length),
        { temperature },
      );
      out.forEach((s, i) => {
        assert.ok(maxAbsDiff(s.logprobs, full.logprobs[i]) < 1e-4, backend);
        assert.ok(maxAbsDiff(s.entropy, full.entropy[i]) < 1e-4, backend);
      });
    }
    disposeGpt(model);
  }
  await useBackend("cpu");
});

Deno.test("EOS stops a sequence and is kept; greedy and top-p", async () => {
  await useBackend("cpu");
  const model = randomGpt(TINY, 3, 0.5);
  const ps = prompts();
  const greedy = await sample(model, ps, { ...OPTS, temperature: 0 });
  // Greedy = top-p with a tiny nucleus (only the most likely token).
  const nucleus = await sample(model, ps, { ...OPTS, topP: 1e-6, seed: 9 });
  assert.deepEqual(nucleus.map((s) => s.tokens), greedy.map((s) => s.tokens));
  // Greedy log-probs are at temperature 1, i.e. those of the full re-forward.
  const full = await sequenceLogprobs(
    model,
    ps.map((p, i) => [...p, ...greedy[i].tokens]),
    ps.map((p) => p.length),
  );
  greedy.forEach((s, i) => assert.ok(maxAbsDiff(s.logprobs, full.logprobs[i]) < 1e-4));
  // Make the first greedy token of sequence 0 the EOS id.
  const eosId = greedy[0].tokens[0];
  const stopped = await sample(model, ps, { ...OPTS, temperature: 0, eosId });
  assert.deepEqual(stopped[0].tokens, [eosId]);
  assert.equal(stopped[0].stopReason, "eos");
  stopped.forEach((s, i) => {
    const cut = greedy[i].tokens.indexOf(eosId);
    const expected = cut < 0 ? greedy[i].tokens : greedy[i].tokens.slice(0, cut + 1);
    assert.deepEqual(s.tokens, expected);
  });
  disposeGpt(model);
});

Deno.test("top-p sampling only draws from the nucleus", async () => {
  await useBackend("cpu");
  const model = randomGpt(TINY, 6, 1.0);
  const prompt = [[1, 2, 3]];
  const topP = 0.5;
  // The first position's full distribution, then its nucleus.
  const probs = tf.tidy(() => {
    const z = logits(model, tf.tensor2d(prompt, undefined, "int32"));
    const last = tf.slice(z, [0, 2, 0], [1, 1, TINY.vocabSize]);
    return Array.from(
      tf.softmax(tf.reshape(last, [TINY.vocabSize])).dataSync(),
    );
  });
  const order = probs.map((p, i) => [p, i]).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  const nucleus = new Set<number>();
  let mass = 0;
  for (const [p, i] of order) {
    if (mass >= topP) break;
    nucleus.add(i);
    mass += p;
  }
  const seen = new Set<number>();
  for (let seed = 0; seed < 60; seed++) {
    const [s] = await sample(model, prompt, {
      ...OPTS,
      maxNewTokens: 1,
      topP,
      seed,
    });
    assert.ok(
      nucleus.has(s.tokens[0]),
      `token ${s.tokens[0]} outside the nucleus`,
    );
    seen.add(s.tokens[0]);
  }
  assert.ok(nucleus.size < TINY.vocabSize);
  if (nucleus.size > 1) assert.ok(seen.size > 1);
  disposeGpt(model);
});

Deno.test("sample validates prompts and options", async () => {
  await useBackend("cpu");
  const model = randomGpt(TINY, 1);
  await assert.rejects(() => sample(model, [[]], OPTS), /Prompt 0 is empty/);
  await assert.rejects(
    () => sample(model, [new Array(TINY.contextLength).fill(1)], OPTS),
    /no room left/,
  );
  await assert.rejects(() => sample(model, [[99]], OPTS), /outside 0..10/);
  await assert.rejects(
    () => sample(model, [[1]], { ...OPTS, topP: 0 }),
    /topP/,
  );
  const none = await sample(model, [[1, 2]], { ...OPTS, maxNewTokens: 0 });
  assert.deepEqual(none[0].tokens, []);
  disposeGpt(model);
});

Deno.test("sampling leaks no tensors", async () => {
  await useBackend("cpu");
  const model = randomGpt(TINY, 1);
  await sample(model, prompts(), OPTS);
  const before = tf.memory().numTensors;
  await sample(model, prompts(), { ...OPTS, eosId: 3 });
  assert.equal(tf.memory().numTensors, before);
  disposeGpt(model);
});
