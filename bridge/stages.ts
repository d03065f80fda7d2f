/**
 * Stage kinds of the real-LLM bridge, thin adapters over `analysis.ts`:
 * - `read-rollouts`: one training step of a verl / TRL / hicra dump (loop step t reads the dump's
 *   t-th step), tokenized with a real tokenizer; pass@k and reward metrics.
 * - `real-planning`: planning masks (paper preset or mined Strategic Grams) on the real tokens,
 *   semantic entropy, token entropy and perplexity split planning / execution.
 * - `score-rollouts`: per-token log-probs and entropies of the rollouts under a local causal LM
 *   (transformers.js, teacher-forced), filled into the rollouts for the entropy-reading analyses.
 * - `real-credit`: per-token advantages from the estimator registry, written as
 *   `advantages.jsonl` and `advantages.parquet` (bridge/FORMAT.md) and the `real_tokens` table.
 *
 * `read-rollouts` declares its dump and tokenizer directory as key files: their contents are in
 * the cache key (a dump rewritten in place is read again), and relative paths are relative to the
 * experiment file.
 *
 * @module
 */
import { estimatorNames, type StdEstimator, type StdScaling } from "../algorithms/credit/mod.ts";
import { GRAM_COUNTINGS, type GramCounting } from "../algorithms/planning/mod.ts";
import type { StageKind } from "../pipeline/types.ts";
import { UserError } from "../pipeline/errors.ts";
import { hashJson } from "../pipeline/hash.ts";
import { hashPath, resolveIn } from "../pipeline/key_files.ts";
import {
  advantageRecords,
  advantages,
  analysePlanning,
  mineGrams,
  passAtKs,
  stepsOf,
  successfulDocs,
  type TokenRow,
  tokenRows,
} from "./analysis.ts";
import { writeAdvantages } from "./export.ts";
import { type Format, FORMATS, readRollouts } from "./readers.ts";
import { loadSentenceEmbedder, mineWithEmbedder } from "./embedding.ts";
import { loadCausalLm } from "./score.ts";
import { loadTokenizer } from "./tokenizer.ts";

/** `read-rollouts` output: `rollouts.json`. */
export interface RealRolloutsFile {
  format: string;
  tokenizer: string;
  /**
   * Content hash of a tokenizer directory (null for the shipped "qwen3"), so that downstream
   * keys change when the tokenizer does.
   */
  tokenizer_hash: string | null;
  /** The dump's step this loop step read. */
  step: number;
  rows: TokenRow[];
}

/** `real-planning` output: `mask.json`. */
export interface RealMaskFile {
  method: string;
  grams: string[];
  planning: boolean[][];
}

const read = <T>(dir: string, name: string): T =>
  JSON.parse(Deno.readTextFileSync(`${dir}/${name}`)) as T;
const write = (dir: string, name: string, v: unknown) =>
  Deno.writeTextFileSync(`${dir}/${name}`, JSON.stringify(v));
const finite = (ctx: { metric(n: string, v: number): void }, n: string, v: number | null) => {
  if (v !== null && Number.isFinite(v)) ctx.metric(n, v);
};

/** The `read-rollouts` stage kind. */
export const readRolloutsStage: StageKind = {
  name: "read-rollouts",
  version: 2,
  doc: "One step of a real RL rollout dump (verl, TRL or hicra format), tokenized",
  params: {
    format: { type: "enum", values: FORMATS, doc: "verl | trl | hicra (bridge/FORMAT.md)" },
    path: { type: "string", doc: "The dump: verl rollout_data_dir (or one file), TRL parquet, …" },
    tokenizer: {
      type: "string",
      default: "qwen3",
      doc: '"qwen3" (shipped) or a directory holding tokenizer.json',
    },
    correct_at: {
      type: "number",
      default: 1,
      doc: "A row without a `correct` flag is correct when its reward is at least this",
    },
    k: { type: "number[]", default: [1, 4, 8], doc: "pass@k values (k ≤ the smallest group)" },
  },
  inputs: {},
  keyFiles: (p, dir) => [p.path as string, ...tokenizerFiles(p.tokenizer as string, dir)],
  async run(ctx) {
    const format = ctx.params.format as Format;
    const all = await readRollouts(format, resolveIn(ctx.dir, ctx.params.path as string));
    const steps = stepsOf(all);
    const t = ctx.step ?? 0;
    if (t >= steps.length) {
      throw new UserError(
        `${ctx.params.path}: has ${steps.length} steps (${steps.join(", ")}); loop step ${t} ` +
          `has none: set loop.steps to at most ${steps.length}`,
      );
    }
    const tokenizer = ctx.params.tokenizer as string;
    const tok = await loadTokenizerIn(ctx.dir, tokenizer);
    const rows = tokenRowsOrError(all, steps[t], tok, ctx.params.correct_at as number);
    ctx.metric("source_step", steps[t]);
    ctx.metric("rollouts", rows.length);
    ctx.metric("groups", new Set(rows.map((r) => r.group)).size);
    ctx.metric("reward/mean", rows.reduce((s, r) => s + r.reward, 0) / rows.length);
    ctx.metric("length/mean", rows.reduce((s, r) => s + r.ids.length, 0) / rows.length);
    for (const [k, v] of passAtKs(rows, ctx.params.k as number[])) ctx.metric(`pass@${k}`, v);
    const file: RealRolloutsFile = {
      format,
      tokenizer,
      tokenizer_hash: tokenizer === "qwen3" ? null : hashJson(
        tokenizerFiles(tokenizer, ctx.dir).map((f) => hashPath(resolveIn(ctx.dir, f))),
      ),
      step: steps[t],
      rows,
    };
    write(ctx.outDir, "rollouts.json", file);
  },
};

/**
 * The files a tokenizer source reads (none for the shipped "qwen3"): `tokenizer.json` and, when
 * present, `tokenizer_config.json` — not the whole folder, which often holds the model too.
 */
function tokenizerFiles(source: string, dir: string | undefined): string[] {
  if (source === "qwen3") return [];
  const folder = source.replace(/\/+$/, "");
  const files = [`${folder}/tokenizer.json`];
  try {
    Deno.statSync(resolveIn(dir, `${folder}/tokenizer_config.json`));
    files.push(`${folder}/tokenizer_config.json`);
  } catch {
    // optional
  }
  return files;
}

/** {@link loadTokenizer} of a source written in an experiment (a directory relative to `dir`). */
function loadTokenizerIn(dir: string | undefined, source: string) {
  return loadTokenizer(source === "qwen3" ? source : resolveIn(dir, source));
}

/** {@link tokenRows} with its out-of-vocabulary error as a user error. */
function tokenRowsOrError(...args: Parameters<typeof tokenRows>): TokenRow[] {
  try {
    return tokenRows(...args);
  } catch (e) {
    if (e instanceof RangeError) throw new UserError(e.message);
    throw e;
  }
}

/** The `score-rollouts` stage kind. */
export const scoreRolloutsStage: StageKind = {
  name: "score-rollouts",
  version: 1,
  doc: "Per-token log-probs and entropies of rollouts under a local causal LM (transformers.js)",
  params: {
    model: {
      type: "string",
      doc: "Folder with config.json and onnx/model.onnx (relative to the experiment file)",
    },
    batch: { type: "integer", default: 8, min: 1, doc: "Rollouts per forward pass" },
  },
  inputs: { rollouts: { doc: "Output of read-rollouts (tokenized with the model's tokenizer)" } },
  keyFiles: (p) => [p.model as string],
  async run(ctx) {
    const data = read<RealRolloutsFile>(ctx.inputs.rollouts.dir, "rollouts.json");
    const tok = await loadTokenizerIn(ctx.dir, data.tokenizer);
    const lm = await loadCausalLm(resolveIn(ctx.dir, ctx.params.model as string));
    const batch = ctx.params.batch as number;
    const rows: TokenRow[] = [];
    let n = 0, logp = 0, ent = 0, drift = 0, nDrift = 0;
    try {
      for (let i = 0; i < data.rows.length; i += batch) {
        const chunk = data.rows.slice(i, i + batch);
        const scores = await lm.score(
          chunk.map((r) => ({ prompt: tok.encode(r.prompt), response: r.ids })),
          batch,
        );
        chunk.forEach((r, j) => {
          const s = scores[j];
          s.logprobs.forEach((v, t) => {
            n++;
            logp += v;
            ent += s.entropy[t];
            // The dump's own log-probs (the sampler's), when it has them: how far the model is.
            if (r.logprobs) {
              drift += Math.abs(v - r.logprobs[t]);
              nDrift++;
            }
          });
          rows.push({ ...r, logprobs: s.logprobs, entropy: s.entropy });
        });
        ctx.progress(Math.min(i + batch, data.rows.length), data.rows.length, "rollouts scored");
      }
    } finally {
      await lm.dispose();
    }
    if (n > 0) {
      ctx.metric("score/logprob_mean", logp / n);
      ctx.metric("score/entropy_mean", ent / n);
      ctx.metric("score/perplexity", Math.exp(-logp / n));
    }
    if (nDrift > 0) ctx.metric("score/logprob_abs_diff_vs_dump", drift / nDrift);
    write(ctx.outDir, "rollouts.json", { ...data, rows } satisfies RealRolloutsFile);
  },
};

/** The `real-planning` stage kind. */
export const realPlanningStage: StageKind = {
  name: "real-planning",
  version: 1,
  doc: "Strategic-Gram planning masks on real tokens, semantic entropy, entropy/perplexity split",
  params: {
    method: {
      type: "enum",
      values: ["paper", "mined"],
      default: "paper",
      doc: "paper: the 249 grams of Listing 1; mined: n-grams of this step's correct rollouts",
    },
    counting: {
      type: "enum",
      values: GRAM_COUNTINGS,
      default: "greedy",
      doc: "Semantic-entropy occurrences (see cluster-entropy)",
    },
    clusters: { type: "integer", default: 100, min: 1, doc: "k-means clusters (mined)" },
    top_frac: { type: "number", default: 0.2, min: 0, max: 1, doc: "Clusters kept (mined)" },
    min_df: { type: "integer", default: 1, min: 1, doc: "Drop rarer n-grams (mined)" },
    embedding: {
      type: "string",
      default: "hashed",
      omitAtDefault: true,
      doc: "n-gram embedding (mined): hashed, or a sentence-embedding model folder " +
        "(transformers.js feature-extraction; relative to the experiment file)",
    },
  },
  inputs: { rollouts: { doc: "Output of read-rollouts" } },
  keyFiles: (p) => p.method === "mined" && p.embedding !== "hashed" ? [p.embedding as string] : [],
  keyParams: (p) => p.method === "mined" ? p : { ...p, embedding: "hashed" },
  async run(ctx) {
    const data = read<RealRolloutsFile>(ctx.inputs.rollouts.dir, "rollouts.json");
    const tok = await loadTokenizerIn(ctx.dir, data.tokenizer);
    let grams: string[] | undefined;
    if (ctx.params.method === "mined") {
      const opts = {
        clusters: ctx.params.clusters as number,
        topFrac: ctx.params.top_frac as number,
        minDf: ctx.params.min_df as number,
        seed: ctx.seed,
      };
      const embedding = ctx.params.embedding as string;
      let successful: number;
      if (embedding === "hashed") {
        const m = mineGrams(data.rows, tok, opts);
        grams = m.grams;
        successful = m.successful;
      } else {
        const docs = successfulDocs(data.rows, tok);
        const embedder = await loadSentenceEmbedder(resolveIn(ctx.dir, embedding));
        try {
          grams = await mineWithEmbedder(docs, opts, embedder);
        } finally {
          await embedder.dispose();
        }
        successful = docs.length;
      }
      ctx.metric("sg/mined_count", grams.length);
      ctx.metric("sg/successful_responses", successful);
    }
    const p = analysePlanning(data.rows, tok, grams, ctx.params.counting as GramCounting);
    ctx.metric("semantic_entropy", p.semanticEntropy);
    ctx.metric("sg/distinct_matched", p.distinctMatched);
    ctx.metric("planning_ratio", p.planningRatio);
    finite(ctx, "token_entropy/planning", p.entropyPlanning);
    finite(ctx, "token_entropy/execution", p.entropyExecution);
    finite(ctx, "perplexity/planning", p.perplexityPlanning);
    finite(ctx, "perplexity/execution", p.perplexityExecution);
    const file: RealMaskFile = {
      method: ctx.params.method as string,
      grams: p.grams,
      planning: p.masks,
    };
    write(ctx.outDir, "mask.json", file);
  },
};

/** The `real-credit` stage kind. */
export const realCreditStage: StageKind = {
  name: "real-credit",
  version: 1,
  doc: "Per-token advantages on real rollouts, exported as JSONL and parquet for a trainer",
  params: {
    estimator: { type: "string", default: "hicra", doc: `One of: ${estimatorNames().join(", ")}` },
    alpha: { type: "number", default: 0.2, min: 0, max: 1, doc: "HICRA's α" },
    std_scaling: {
      type: "enum",
      values: ["none", "group", "batch"],
      default: "group",
      doc: "Divide r − group mean by the group / batch std (group: as verl and TRL)",
    },
    std_estimator: {
      type: "enum",
      values: ["unbiased", "population"],
      default: "unbiased",
      doc: "Std for std_scaling: unbiased ÷(n−1) as torch.std, or population ÷n",
    },
    entropy_top_frac: {
      type: "number",
      default: 0.3,
      min: 0,
      max: 1,
      doc: "High-entropy token fraction (hicra-code, high-entropy)",
    },
    token_rows: { type: "boolean", default: true, doc: "Write the per-token `real_tokens` table" },
  },
  inputs: {
    rollouts: { doc: "Output of read-rollouts" },
    mask: { doc: "Output of real-planning" },
  },
  check(p) {
    const names = estimatorNames();
    return names.includes(p.estimator as string) ? [] : [
      `estimator: unknown advantage estimator "${p.estimator}" (known: ${names.join(", ")})`,
    ];
  },
  async run(ctx) {
    const data = read<RealRolloutsFile>(ctx.inputs.rollouts.dir, "rollouts.json");
    const mask = read<RealMaskFile>(ctx.inputs.mask.dir, "mask.json");
    const estimator = ctx.params.estimator as string;
    let out;
    try {
      out = advantages(data.rows, mask.planning, estimator, {
        alpha: ctx.params.alpha as number,
        stdScaling: ctx.params.std_scaling as StdScaling,
        stdEstimator: ctx.params.std_estimator as StdEstimator,
        entropyTopFrac: ctx.params.entropy_top_frac as number,
      });
    } catch (e) {
      throw new UserError((e as Error).message);
    }
    let n = 0, sum = 0, abs = 0, plan = 0, nPlan = 0, amp = 0;
    out.advantages.forEach((adv, i) =>
      adv.forEach((a, t) => {
        n++;
        sum += a;
        abs += Math.abs(a);
        if (mask.planning[i][t]) {
          plan += a;
          nPlan++;
        }
        if (out.amplified[i][t]) amp++;
      })
    );
    if (n > 0) {
      ctx.metric("adv/mean", sum / n);
      ctx.metric("adv/abs_mean", abs / n);
      ctx.metric("adv/amplified_frac", amp / n);
    }
    if (nPlan > 0) ctx.metric("adv/planning_mean", plan / nPlan);
    const records = advantageRecords(data.rows, mask.planning, out, estimator);
    await writeAdvantages(
      records,
      `${ctx.outDir}/advantages.jsonl`,
      `${ctx.outDir}/advantages.parquet`,
    );
    if (ctx.params.token_rows) {
      const tok = await loadTokenizerIn(ctx.dir, data.tokenizer);
      ctx.rows(
        "real_tokens",
        data.rows.flatMap((r, i) =>
          r.ids.map((id, t) => ({
            source_step: r.step,
            row: r.row,
            position: t,
            token_id: id,
            token: tok.tokenString(id),
            planning: mask.planning[i][t],
            entropy: r.entropy?.[t] ?? null,
            logprob: r.logprobs?.[t] ?? null,
            advantage: out.advantages[i][t],
          }))
        ),
      );
    }
  },
};

/** The bridge's stage kinds, for the registry. */
export const BRIDGE_STAGES: readonly StageKind[] = [
  readRolloutsStage,
  scoreRolloutsStage,
  realPlanningStage,
  realCreditStage,
];
