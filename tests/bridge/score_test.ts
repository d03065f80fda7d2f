/**
 * Teacher-forced scoring through transformers.js (bridge/score.ts) of a testbed GPT exported in
 * Hugging Face layout (algorithms/policy/onnx/hf_export.ts), against the project's own scoring.
 */
import assert from "node:assert/strict";
import { onnxTokenStats } from "../../algorithms/policy/onnx/engine.ts";
import { Rng } from "../../algorithms/rng.ts";
import { UserError } from "../../pipeline/errors.ts";
import type { ExecuteOptions } from "../../pipeline/executor.ts";
import { loadCausalLm } from "../../bridge/score.ts";
import { writeTinyLm } from "./tiny_lm.ts";
import { entryOf, runLab } from "./helpers.ts";

Deno.test("transformers.js scores an exported testbed GPT as the project's ONNX scoring does (1e-4)", async () => {
  const dir = `${Deno.makeTempDirSync()}/tiny-lm`;
  const model = writeTinyLm(dir);
  const lm = await loadCausalLm(dir);
  assert.equal(lm.vocabSize, 260);
  assert.equal(lm.maxLength, 512);
  const rng = new Rng(11);
  const draw = (n: number) => Array.from({ length: n }, () => rng.int(0, 259));
  // Rows of different lengths in one batch (right-padded inside), one longer than the rest.
  const rows = [[3, 20], [1, 7], [5, 40], [2, 90], [9, 3]].map(([p, r]) => ({
    prompt: draw(p),
    response: draw(r),
  }));
  const got = await lm.score(rows, 3);
  let maxDiff = 0, entropySum = 0, n = 0;
  rows.forEach((row, i) => {
    const seq = [...row.prompt, ...row.response];
    const t = seq.length - 1;
    const own = onnxTokenStats(model, {
      inputs: Int32Array.from(seq.slice(0, -1)),
      targets: Int32Array.from(seq.slice(1)),
      b: 1,
      t,
      temperature: 1,
    });
    const from = row.prompt.length - 1; // the first response token's position
    assert.equal(got[i].logprobs.length, row.response.length);
    row.response.forEach((_, j) => {
      maxDiff = Math.max(
        maxDiff,
        Math.abs(got[i].logprobs[j] - own.logp[from + j]),
        Math.abs(got[i].entropy[j] - own.entropy[from + j]),
      );
      entropySum += got[i].entropy[j];
      n++;
    });
  });
  assert.ok(maxDiff < 1e-4, `max |Δ| = ${maxDiff}`);
  // The sharpened head makes the comparison meaningful: far from the uniform ln 260 = 5.56.
  assert.ok(entropySum / n < 4, `mean entropy ${entropySum / n}`);
  await lm.dispose();
  Deno.removeSync(dir.slice(0, dir.lastIndexOf("/")), { recursive: true });
});

Deno.test("causal-LM scoring: missing folder, too long a sequence, an id outside the vocabulary", async () => {
  const root = Deno.makeTempDirSync();
  await assert.rejects(
    () => loadCausalLm(`${root}/none`),
    (e: Error) => e instanceof UserError && /none\/config\.json: not found/.test(e.message),
  );
  writeTinyLm(`${root}/lm`);
  Deno.removeSync(`${root}/lm/onnx/model.onnx`);
  await assert.rejects(
    () => loadCausalLm(`${root}/lm`),
    (e: Error) => e instanceof UserError && /onnx\/model\.onnx: not found/.test(e.message),
  );
  writeTinyLm(`${root}/lm`);
  const lm = await loadCausalLm(`${root}/lm`);
  await assert.rejects(
    () => lm.score([{ prompt: [1], response: new Array(600).fill(5) }]),
    (e: Error) => e instanceof UserError && /601 tokens .* exceeds the model's 512/.test(e.message),
  );
  await assert.rejects(
    () => lm.score([{ prompt: [1], response: [5, 300] }]),
    (e: Error) => e instanceof UserError && /token id 300 is outside/.test(e.message),
  );
  await lm.dispose();
  Deno.removeSync(root, { recursive: true });
});

Deno.test("score-rollouts fills per-token log-probs and entropies the entropy analyses read", async () => {
  const root = Deno.makeTempDirSync();
  Deno.mkdirSync(`${root}/exp`);
  writeTinyLm(`${root}/exp/lm`);
  const verl = new URL("../fixtures/rollouts/verl", import.meta.url).pathname;
  const yaml = `${root}/exp/score.yaml`;
  Deno.writeTextFileSync(
    yaml,
    `name: score
loop:
  steps: 1
  stages:
    rollouts: { kind: read-rollouts, with: { format: verl, path: ${verl}, tokenizer: lm } }
    scored: { kind: score-rollouts, needs: { rollouts: rollouts }, with: { model: lm } }
    planning: { kind: real-planning, needs: { rollouts: scored } }
    credit: { kind: real-credit, needs: { rollouts: scored, mask: planning }, with: { estimator: hicra-code } }
`,
  );
  const results = `${root}/results`;
  const go = (extra: Partial<ExecuteOptions> = {}) => runLab(yaml, results, extra);
  const first = await go();
  assert.deepEqual(first.runs.map((r) => r.status), ["done"], String(first.runs[0].error));
  const entry = (label: string) => entryOf(results, first, label);
  const metrics = (label: string) =>
    new Map(
      (JSON.parse(Deno.readTextFileSync(`${entry(label)}/metrics.json`)) as {
        name: string;
        value: number;
      }[]).map((m) => [m.name, m.value]),
    );
  // The entropy split and the entropy-reading estimator now have their inputs.
  assert.ok(metrics("planning@0").has("token_entropy/planning"));
  assert.ok(metrics("planning@0").has("perplexity/execution"));
  assert.ok(metrics("credit@0").has("adv/amplified_frac"));
  // The filled values are the model's: score two rows again directly.
  const scored = JSON.parse(Deno.readTextFileSync(`${entry("scored@0")}/out/rollouts.json`));
  const { loadTokenizer } = await import("../../bridge/tokenizer.ts");
  const tok = await loadTokenizer(`${root}/exp/lm`);
  const lm = await loadCausalLm(`${root}/exp/lm`);
  const again = await lm.score(
    scored.rows.slice(0, 2).map((r: { prompt: string; ids: number[] }) => ({
      prompt: tok.encode(r.prompt),
      response: r.ids,
    })),
  );
  await lm.dispose();
  assert.deepEqual(scored.rows[0].logprobs, again[0].logprobs);
  assert.deepEqual(scored.rows[1].entropy, again[1].entropy);
  const m = metrics("scored@0");
  assert.ok(m.get("score/entropy_mean")! > 0 && m.get("score/logprob_mean")! < 0);
  // The model folder is a key file: a rewritten model reruns the scoring, named by --explain.
  assert.equal((await go()).computed, 0);
  writeTinyLm(`${root}/exp/lm`, 4);
  const dry = await go({ dryRun: true, explain: true });
  assert.match(dry.details.find((d) => d.label === "scored@0")!.why!.join("; "), /file lm changed/);
  Deno.removeSync(root, { recursive: true });
});
