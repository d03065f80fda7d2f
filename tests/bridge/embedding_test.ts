/**
 * Strategic-Gram mining with a local sentence-embedding model (bridge/embedding.ts) through
 * transformers.js's feature-extraction pipeline, on a tiny model the test writes itself.
 */
import assert from "node:assert/strict";
import { onnxLogits } from "../../algorithms/policy/onnx/engine.ts";
import { hashEmbed } from "../../algorithms/planning/embed.ts";
import { mineStrategicGrams } from "../../algorithms/planning/mod.ts";
import { loadSentenceEmbedder, mineWithEmbedder } from "../../bridge/embedding.ts";
import { loadTokenizer } from "../../bridge/tokenizer.ts";
import { UserError } from "../../pipeline/errors.ts";
import { writeTinyLm } from "./tiny_lm.ts";
import { entryOf, runLab } from "./helpers.ts";

Deno.test("feature extraction of the tiny model: mean-pooled, normalised features of its tokens", async () => {
  const root = Deno.makeTempDirSync();
  const model = writeTinyLm(`${root}/lm`);
  const emb = await loadSentenceEmbedder(`${root}/lm`);
  const texts = ["let's try another", "wait", "so the answer is 12 ."];
  const got = await emb.embed(texts, 2); // two batches, padded within the first
  await emb.dispose();
  const tok = await loadTokenizer(`${root}/lm`);
  texts.forEach((text, i) => {
    // The model's "features" are its logits: mean over the text's tokens, unit length.
    const ids = tok.encode(text);
    const logits = onnxLogits(model, Int32Array.from(ids), 1, ids.length);
    const v = model.config.vocabSize;
    const mean = new Float64Array(v);
    for (let t = 0; t < ids.length; t++) {
      for (let k = 0; k < v; k++) mean[k] += logits[t * v + k] / ids.length;
    }
    const norm = Math.hypot(...mean);
    assert.equal(got[i].length, v);
    for (let k = 0; k < v; k++) {
      assert.ok(Math.abs(got[i][k] - mean[k] / norm) < 1e-4, `${text}[${k}]`);
    }
  });
  await assert.rejects(
    () => loadSentenceEmbedder(`${root}/none`),
    (e: Error) => e instanceof UserError && /none\/config\.json: not found/.test(e.message),
  );
  Deno.removeSync(root, { recursive: true });
});

Deno.test("mining with a model embedding: deterministic, and the embedding decides the clusters", async () => {
  const root = Deno.makeTempDirSync();
  writeTinyLm(`${root}/lm`);
  const docs = [
    "let's try another way . 3 + 4 = 7 . wait , that is not right .",
    "first , break it down . 6 * 2 = 12 . so the answer is 12 .",
    "let's try another way . 5 - 1 = 4 . so the answer is 4 .",
    "wait , that is not right . break it down . 2 + 2 = 4 .",
  ].map((d) => d.split(" "));
  const opts = { clusters: 6, topFrac: 0.5, seed: 1 };
  const emb = await loadSentenceEmbedder(`${root}/lm`);
  const a = await mineWithEmbedder(docs, opts, emb);
  const b = await mineWithEmbedder(docs, opts, emb);
  await emb.dispose();
  assert.deepEqual(a, b);
  assert.ok(a.length > 0);
  const hashed = mineStrategicGrams(docs, { ...opts, embed: hashEmbed }).grams;
  assert.notDeepEqual(a, hashed, "the model's vectors were not used");
  Deno.removeSync(root, { recursive: true });
});

Deno.test("real-planning with embedding: a model folder mines with it; hashed keeps its key", async () => {
  const root = Deno.makeTempDirSync();
  Deno.mkdirSync(`${root}/exp`);
  writeTinyLm(`${root}/exp/emb`);
  const hicra = new URL("../fixtures/rollouts/hicra.jsonl", import.meta.url).pathname;
  const yaml = `${root}/exp/mine.yaml`;
  Deno.writeTextFileSync(
    yaml,
    `name: mine
loop:
  steps: 1
  stages:
    rollouts: { kind: read-rollouts, with: { format: hicra, path: ${hicra} } }
    hashed: { kind: real-planning, needs: { rollouts: rollouts }, with: { method: mined, clusters: 20 } }
    model: { kind: real-planning, needs: { rollouts: rollouts }, with: { method: mined, clusters: 20, embedding: emb } }
`,
  );
  const results = `${root}/results`;
  const s = await runLab(yaml, results);
  assert.deepEqual(s.runs.map((r) => r.status), ["done"], String(s.runs[0].error));
  const entry = (label: string) => entryOf(results, s, label);
  const grams = (label: string) =>
    JSON.parse(Deno.readTextFileSync(`${entry(label)}/out/mask.json`)).grams as string[];
  assert.ok(grams("model@0").length > 0);
  assert.notDeepEqual(grams("model@0"), grams("hashed@0"));
  const parts = (label: string) =>
    JSON.parse(Deno.readTextFileSync(`${entry(label)}/manifest.json`)).keyParts;
  // The default leaves the key as before the param existed; a model folder is a key file.
  assert.ok(!("embedding" in parts("hashed@0").params) && !("files" in parts("hashed@0")));
  assert.deepEqual(Object.keys(parts("model@0").files), ["emb"]);
  Deno.removeSync(root, { recursive: true });
});
