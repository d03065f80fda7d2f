/**
 * Teacher-forced scoring with a local causal LM through transformers.js: the log-prob of every
 * response token and the entropy (nats) of the next-token distribution at it, given the prompt
 * and the response tokens before it. Offline only (`env.allowRemoteModels = false`): the model
 * is a folder as `save_pretrained` + an ONNX export writes it (`config.json`,
 * `onnx/model.onnx`; `algorithms/policy/onnx/hf_export.ts` writes one for the testbed GPT).
 *
 * Rows are scored in batches, right-padded: a causal model's logits at real positions do not
 * see the padding, so batching does not change the numbers.
 *
 * @module
 */
import { UserError } from "../pipeline/errors.ts";

/** One sequence to score: prompt ids (at least one) then the response ids scored. */
export interface ScoreRequest {
  prompt: number[];
  response: number[];
}

/** Per response token: natural-log probability and next-token entropy (nats). */
export interface TokenScores {
  logprobs: number[];
  entropy: number[];
}

/** A loaded local causal LM. */
export interface CausalLm {
  /** The folder it was loaded from. */
  dir: string;
  /** Its vocabulary size (logits per position). */
  vocabSize: number;
  /** The longest sequence it takes (config `n_positions` / `max_position_embeddings`), or null. */
  maxLength: number | null;
  /** Scores rows, `batch` at a time. */
  score(rows: ScoreRequest[], batch?: number): Promise<TokenScores[]>;
  /** Frees the ONNX session. */
  dispose(): Promise<void>;
}

/**
 * Loads the causal LM in folder `dir` (transformers.js, CPU, fp32 `onnx/model.onnx`).
 *
 * @throws UserError when the folder or its config / ONNX file is missing or not loadable
 */
export async function loadCausalLm(dir: string): Promise<CausalLm> {
  const abs = dir.startsWith("/") ? dir : `${Deno.cwd()}/${dir}`;
  const clean = abs.replace(/\/+$/, "");
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(Deno.readTextFileSync(`${clean}/config.json`));
  } catch (e) {
    throw new UserError(
      `${clean}/config.json: ${
        e instanceof Deno.errors.NotFound ? "not found" : (e as Error).message
      } (a causal-LM folder holds config.json and onnx/model.onnx)`,
    );
  }
  try {
    Deno.statSync(`${clean}/onnx/model.onnx`);
  } catch {
    throw new UserError(
      `${clean}/onnx/model.onnx: not found (export the model to ONNX, e.g. with optimum-cli export onnx)`,
    );
  }
  // Imported on first use: the registry (and every worker thread) loads this module.
  const { AutoModelForCausalLM, env, Tensor } = await import("@huggingface/transformers");
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  const cut = clean.lastIndexOf("/");
  env.localModelPath = clean.slice(0, cut + 1) || "/";
  let model;
  try {
    model = await AutoModelForCausalLM.from_pretrained(clean.slice(cut + 1), {
      dtype: "fp32",
      device: "cpu",
    });
  } catch (e) {
    throw new UserError(`${clean}: transformers.js cannot load it (${(e as Error).message})`);
  }
  const maxLength = Number(config.n_positions ?? config.max_position_embeddings ?? NaN);
  const vocabSize = Number(config.vocab_size);
  const limit = Number.isFinite(maxLength) ? maxLength : null;
  return {
    dir: clean,
    vocabSize,
    maxLength: limit,
    async score(rows, batch = 16) {
      const out: TokenScores[] = [];
      for (let i = 0; i < rows.length; i += batch) {
        const part = rows.slice(i, i + batch);
        out.push(...await scoreBatch(model, Tensor, part, limit, vocabSize, clean));
      }
      return out;
    },
    async dispose() {
      await model.dispose();
    },
  };
}

// deno-lint-ignore no-explicit-any
type Model = any;
type TensorClass = typeof import("@huggingface/transformers").Tensor;

async function scoreBatch(
  model: Model,
  Tensor: TensorClass,
  rows: ScoreRequest[],
  maxLength: number | null,
  vocabSize: number,
  dir: string,
): Promise<TokenScores[]> {
  const seqs = rows.map((r, i) => {
    if (r.prompt.length === 0) throw new UserError(`row ${i}: an empty prompt cannot be scored`);
    const seq = [...r.prompt, ...r.response];
    const bad = seq.find((id) => !Number.isInteger(id) || id < 0 || id >= vocabSize);
    if (bad !== undefined) {
      throw new UserError(
        `${dir}: token id ${bad} is outside the model's vocabulary (${vocabSize} ids); ` +
          `the rollouts' tokenizer must be the model's`,
      );
    }
    return seq;
  });
  const t = Math.max(...seqs.map((s) => s.length));
  if (maxLength !== null && t > maxLength) {
    throw new UserError(
      `${dir}: a sequence of ${t} tokens (prompt + response) exceeds the model's ${maxLength}`,
    );
  }
  const b = seqs.length;
  const ids = new BigInt64Array(b * t);
  const mask = new BigInt64Array(b * t);
  seqs.forEach((s, r) =>
    s.forEach((id, j) => {
      ids[r * t + j] = BigInt(id);
      mask[r * t + j] = 1n;
    })
  );
  const { logits } = await model({
    input_ids: new Tensor("int64", ids, [b, t]),
    attention_mask: new Tensor("int64", mask, [b, t]),
  });
  const data = logits.data as Float32Array;
  const v = logits.dims[2] as number;
  return rows.map((row, r) => {
    const logprobs: number[] = [];
    const entropy: number[] = [];
    row.response.forEach((id, j) => {
      // Logits at position p−1 predict the token at p.
      const p = row.prompt.length + j;
      const off = (r * t + p - 1) * v;
      const s = stats(data, off, v, id);
      logprobs.push(s.logp);
      entropy.push(s.entropy);
    });
    return { logprobs, entropy };
  });
}

/** log-softmax at `target` and entropy of logits[off .. off+v) (in float64). */
function stats(data: Float32Array, off: number, v: number, target: number) {
  let max = -Infinity;
  for (let k = 0; k < v; k++) max = Math.max(max, data[off + k]);
  let z = 0;
  for (let k = 0; k < v; k++) z += Math.exp(data[off + k] - max);
  const logZ = max + Math.log(z);
  let h = 0;
  for (let k = 0; k < v; k++) {
    const lp = data[off + k] - logZ;
    h -= Math.exp(lp) * lp;
  }
  return { logp: data[off + target] - logZ, entropy: h };
}
