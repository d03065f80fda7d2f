/**
 * Exports a testbed GPT as a Hugging Face causal-LM folder that transformers.js loads offline
 * (`AutoModelForCausalLM.from_pretrained(dir, { dtype: "fp32" })` with `env.localModelPath`):
 *
 *  - `config.json`: `model_type: "gpt2"` with the network's shape, `use_cache: false`;
 *  - `generation_config.json`;
 *  - `onnx/model.onnx`: the forward pass of `gpt_graphs.ts` with the weights as initializers and
 *    the inputs transformers.js feeds a decoder: `input_ids`, `attention_mask`, `position_ids`
 *    (int64 [batch, sequence]) → `logits` [batch, sequence, vocab]. No `past_key_values`: every
 *    call reads the whole sequence (teacher-forced scoring needs nothing else).
 *
 * The additive attention mask of the graph is built from `attention_mask` (padded keys) and the
 * causal triangle, with the value the testbed uses (`MASKED`), so an unpadded or right-padded row
 * gives the logits of the project's own forward pass.
 *
 * @module
 */
import { type Gpt, MASKED, namedParameters } from "../gpt.ts";
import { forward } from "./gpt_graphs.ts";
import { GraphBuilder } from "./graph.ts";
import { DataType, encodeModel } from "./proto.ts";

/** The `onnx/model.onnx` bytes of a model (see the module doc). */
export function causalLmOnnx(model: Gpt): Uint8Array {
  const g = new GraphBuilder();
  const dims = ["batch_size", "sequence_length"];
  const ids = g.input("input_ids", DataType.INT64, dims);
  const attn = g.input("attention_mask", DataType.INT64, dims);
  const pos = g.input("position_ids", DataType.INT64, dims);
  // The inputs of `forward`, computed under the names it reads.
  g.node("Cast", [ids], { to: DataType.INT32 }, "tokens");
  g.node("Cast", [pos], { to: DataType.INT32 }, "positions");
  const t = g.node("Shape", [ids], { start: 1, end: 2 });
  const ones = g.node("ConstantOfShape", [g.node("Concat", [t, t], { axis: 0 })], {
    value: { floatTensor: Float32Array.of(1), dims: [1] },
  });
  const causal = g.node("Trilu", [ones], { upper: 0 }); // [T, T], 1 where key ≤ query
  const keys = g.node("Unsqueeze", [
    g.node("Cast", [attn], { to: DataType.FLOAT }),
    g.ints([1, 2]),
  ]);
  const allowed = g.mul(causal, keys); // [B, 1, T, T]
  g.node("Mul", [g.sub(allowed, g.scalar(1)), g.scalar(-MASKED)], {}, "mask");
  forward(g, model.config, false);

  const def = g.build();
  const params = namedParameters(model);
  const computed = new Set(["tokens", "positions", "mask", ...params.map((p) => p.name)]);
  def.inputs = def.inputs.filter((v) => !computed.has(v.name));
  for (const { name, variable } of params) {
    def.initializers.push({
      name,
      type: DataType.FLOAT,
      dims: variable.shape,
      data: (variable.dataSync() as Float32Array).slice(),
    });
  }
  return encodeModel(def);
}

/** `config.json` of the exported folder: GPT-2's field names for the testbed shape. */
export function causalLmConfig(model: Gpt, eosTokenId: number): Record<string, unknown> {
  const c = model.config;
  return {
    model_type: "gpt2",
    architectures: ["GPT2LMHeadModel"],
    vocab_size: c.vocabSize,
    n_positions: c.contextLength,
    n_ctx: c.contextLength,
    n_embd: c.dModel,
    n_layer: c.nLayers,
    n_head: c.nHeads,
    n_inner: c.mlpRatio * c.dModel,
    activation_function: "gelu",
    layer_norm_epsilon: 1e-5,
    bos_token_id: eosTokenId,
    eos_token_id: eosTokenId,
    use_cache: false,
  };
}

/**
 * Writes the folder `dir` (config.json, generation_config.json, onnx/model.onnx); tokenizer
 * files are the caller's (they depend on the tokenizer, not the network).
 */
export function writeCausalLm(model: Gpt, dir: string, eosTokenId: number): void {
  Deno.mkdirSync(`${dir}/onnx`, { recursive: true });
  const config = causalLmConfig(model, eosTokenId);
  Deno.writeTextFileSync(`${dir}/config.json`, JSON.stringify(config, null, 2));
  Deno.writeTextFileSync(
    `${dir}/generation_config.json`,
    JSON.stringify({ bos_token_id: eosTokenId, eos_token_id: eosTokenId, use_cache: false }),
  );
  Deno.writeFileSync(`${dir}/onnx/model.onnx`, causalLmOnnx(model));
}
