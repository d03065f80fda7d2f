/**
 * Strategic-Gram mining with a local sentence-embedding model instead of the hashed default:
 * transformers.js's `feature-extraction` pipeline (mean pooling over tokens, L2-normalised) on a
 * model folder (config.json, tokenizer.json, onnx/model.onnx), offline.
 *
 * Mining asks for embeddings one n-gram at a time, synchronously; a model answers in batches,
 * asynchronously. So the candidate n-grams are collected first (one mining pass with the hashed
 * embedding records every n-gram it embeds), embedded in batches, then mined again with a lookup.
 *
 * @module
 */
import { hashEmbed, type NgramEmbedder } from "../algorithms/planning/embed.ts";
import { type MineOptions, mineStrategicGrams } from "../algorithms/planning/mod.ts";
import { UserError } from "../pipeline/errors.ts";

/** A loaded sentence-embedding model. */
export interface SentenceEmbedder {
  /** Embeds texts (mean-pooled, unit length), `batch` at a time. */
  embed(texts: string[], batch?: number): Promise<Float32Array[]>;
  /** Frees the ONNX session. */
  dispose(): Promise<void>;
}

/**
 * Loads the feature-extraction model in folder `dir` through transformers.js (CPU, fp32).
 *
 * @throws UserError when the folder is missing or transformers.js cannot load it
 */
export async function loadSentenceEmbedder(dir: string): Promise<SentenceEmbedder> {
  const clean = (dir.startsWith("/") ? dir : `${Deno.cwd()}/${dir}`).replace(/\/+$/, "");
  for (const f of ["config.json", "tokenizer.json", "onnx/model.onnx"]) {
    try {
      Deno.statSync(`${clean}/${f}`);
    } catch {
      throw new UserError(
        `${clean}/${f}: not found (an embedding model folder holds config.json, ` +
          `tokenizer.json and onnx/model.onnx)`,
      );
    }
  }
  const { pipeline, env } = await import("@huggingface/transformers");
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  const cut = clean.lastIndexOf("/");
  env.localModelPath = clean.slice(0, cut + 1) || "/";
  let extract;
  try {
    extract = await pipeline("feature-extraction", clean.slice(cut + 1), {
      dtype: "fp32",
      device: "cpu",
    });
  } catch (e) {
    throw new UserError(`${clean}: transformers.js cannot load it (${(e as Error).message})`);
  }
  return {
    async embed(texts, batch = 64) {
      const out: Float32Array[] = [];
      for (let i = 0; i < texts.length; i += batch) {
        const part = texts.slice(i, i + batch);
        const t = await extract(part, { pooling: "mean", normalize: true });
        const dim = t.dims[1] as number;
        const data = t.data as Float32Array;
        part.forEach((_, j) => out.push(data.slice(j * dim, (j + 1) * dim)));
      }
      return out;
    },
    async dispose() {
      await extract.dispose();
    },
  };
}

/**
 * Mines Strategic Grams from `docs` (word units of successful responses) with `embedder`'s
 * vectors for the candidate n-grams; the rest of mining (selection, clustering) is unchanged.
 */
export async function mineWithEmbedder(
  docs: readonly (readonly string[])[],
  opts: Partial<MineOptions>,
  embedder: SentenceEmbedder,
): Promise<string[]> {
  const texts: string[] = [];
  mineStrategicGrams(docs, {
    ...opts,
    embed: (t) => {
      texts.push(t);
      return hashEmbed(t);
    },
  });
  if (texts.length === 0) return [];
  const vectors = await embedder.embed(texts);
  const table = new Map(texts.map((t, i) => [t, vectors[i]]));
  const lookup: NgramEmbedder = (t) => {
    const v = table.get(t);
    if (!v) throw new Error(`n-gram "${t}" was not embedded`);
    return v;
  };
  return mineStrategicGrams(docs, { ...opts, embed: lookup }).grams;
}
