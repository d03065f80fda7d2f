/**
 * A tiny causal LM the tests write themselves (never a download): a testbed GPT exported by
 * `algorithms/policy/onnx/hf_export.ts`, with a byte-level BPE tokenizer.json whose ids are the
 * 256 bytes (GPT-2 byte table) plus chat markup as added tokens.
 */
import {
  disposeGpt,
  type Gpt,
  gptFromArrays,
  initGpt,
  namedParameters,
} from "../../algorithms/policy/gpt.ts";
import { writeCausalLm } from "../../algorithms/policy/onnx/hf_export.ts";
import { BYTE_TO_CHAR } from "../../bridge/bytes.ts";

/** Added tokens of the tiny tokenizer, from id 256. */
export const TINY_ADDED = ["<|im_start|>", "<|im_end|>", "<think>", "</think>"];

/** The tokenizer.json: byte-level BPE with a few merges over the 256 byte symbols. */
export function tinyTokenizerJson(): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  BYTE_TO_CHAR.forEach((c, b) => vocab[c] = b);
  const byteLevel = { add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: TINY_ADDED.map((content, i) => ({
      id: 256 + i,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: { type: "ByteLevel", ...byteLevel },
    post_processor: null,
    decoder: { type: "ByteLevel", ...byteLevel },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges: [],
    },
  };
}

/**
 * Writes the tiny LM into `dir` and returns the network. `sharpen` scales the output head so
 * the next-token distributions are far from uniform (a fresh init is nearly uniform).
 */
export function writeTinyLm(dir: string, seed = 3, sharpen = 40): Gpt {
  const config = {
    vocabSize: 256 + TINY_ADDED.length,
    contextLength: 512,
    dModel: 32,
    nLayers: 2,
    nHeads: 4,
    mlpRatio: 2,
  };
  const init = initGpt(config, seed);
  const arrays = namedParameters(init).map(({ name, variable }) => {
    const a = (variable.dataSync() as Float32Array).slice();
    return name === "head" ? a.map((x) => x * sharpen) : a;
  });
  disposeGpt(init);
  const model = gptFromArrays(config, arrays);
  writeCausalLm(model, dir, 256 + 1);
  Deno.writeTextFileSync(`${dir}/tokenizer.json`, JSON.stringify(tinyTokenizerJson()));
  Deno.writeTextFileSync(
    `${dir}/tokenizer_config.json`,
    JSON.stringify({
      model_max_length: 512,
      eos_token: "<|im_end|>",
      pad_token: "<|im_end|>",
      padding_side: "right",
    }),
  );
  return model;
}
