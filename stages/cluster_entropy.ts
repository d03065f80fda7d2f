/**
 * `cluster-entropy`: identifies planning tokens in a step's rollouts and
 * measures semantic entropy (paper §2.1–2.2.2).
 *
 * Methods: `paper` (the paper's 249 Strategic Grams), `mined` (n-grams of the
 * step's successful responses, or of the optional `corpus` input, clustered
 * and filtered by Cluster DF), `oracle` (the generator's labels), `random`
 * (placebo: the paper mask's per-rollout token budget at random positions).
 * Semantic entropy is measured with the method's own grams, or with the
 * paper's grams for `oracle` and `random` (which have none). Param `counting`
 * picks which gram occurrences are counted: `greedy` (longest-first,
 * non-overlapping, each written phrase once; default) or `all-occurrences`
 * (every occurrence of every gram, nested ones included, as TRL counts); see
 * `algorithms/planning/semantic_entropy.ts`.
 *
 * Version 2: adds `counting`.
 *
 * @module
 */
import {
  compileGrams,
  countGrams,
  GRAM_COUNTINGS,
  type GramCounting,
  matchGrams,
  mineStrategicGrams,
  PAPER_STRATEGIC_GRAMS,
  placeboMask,
  scoreMask,
  semanticEntropy,
} from "../algorithms/planning/mod.ts";
import { tokenEntropyStats } from "../algorithms/metrics/mod.ts";
import { Rng } from "../algorithms/rng.ts";
import type { StageKind } from "../pipeline/types.ts";
import { type MaskFile, readJson, type RolloutsFile, writeJson } from "./artifacts.ts";
import { recordIfFinite } from "./metrics_util.ts";

/** The stage kind. */
export const clusterEntropy: StageKind = {
  name: "cluster-entropy",
  version: 2,
  doc: "Planning-token identification (Strategic Grams) and semantic entropy",
  params: {
    method: {
      type: "enum",
      values: ["paper", "mined", "oracle", "random"],
      default: "paper",
      doc: "How planning tokens are identified",
    },
    bins: {
      type: "enum",
      values: ["grams", "clusters"],
      default: "grams",
      doc: "Semantic-entropy bins: Strategic Grams (paper) or mined clusters",
    },
    counting: {
      type: "enum",
      values: GRAM_COUNTINGS,
      default: "greedy",
      doc: "Semantic-entropy occurrences: greedy (longest-first, non-overlapping: each phrase " +
        "once; paper silent) or all-occurrences (every gram occurrence, nested ones too, as TRL)",
    },
    clusters: {
      type: "integer",
      default: 100,
      min: 1,
      max: 10_000,
      doc: "k-means clusters (mined)",
    },
    top_frac: {
      type: "number",
      default: 0.2,
      exclusiveMin: 0,
      max: 1,
      doc: "Fraction of clusters kept by Cluster DF (mined), in (0, 1]",
    },
    min_df: { type: "integer", default: 1, min: 1, doc: "Drop n-grams in fewer responses (mined)" },
  },
  inputs: {
    rollouts: { doc: "Output of sample" },
    corpus: { doc: "Rollouts to mine Strategic Grams from (default: this step's)", optional: true },
  },
  check(p) {
    return p.bins === "clusters" && p.method !== "mined"
      ? [`bins: "clusters" needs method: mined (got "${p.method}")`]
      : [];
  },
  run(ctx) {
    const data = readJson<RolloutsFile>(ctx.inputs.rollouts.dir, "rollouts.json");
    const words = data.rollouts.map((r) => r.words);
    const oracle = data.rollouts.map((r) => r.oracle);
    const rng = new Rng(ctx.seed);
    const method = ctx.params.method as string;

    let grams: string[] = [...PAPER_STRATEGIC_GRAMS];
    let clusterOf: Map<string, string> | undefined;
    if (method === "mined") {
      const source = ctx.inputs.corpus
        ? readJson<RolloutsFile>(ctx.inputs.corpus.dir, "rollouts.json")
        : data;
      const successful = source.rollouts.filter((r) => r.correct).map((r) => r.words);
      const mined = mineStrategicGrams(successful, {
        clusters: ctx.params.clusters as number,
        topFrac: ctx.params.top_frac as number,
        minDf: ctx.params.min_df as number,
        seed: ctx.seed,
      });
      grams = mined.grams;
      clusterOf = new Map();
      mined.clusters.forEach((c, i) => {
        if (c.selected) { for (const m of c.members) clusterOf!.set(m, `c${i}`); }
      });
      ctx.metric("sg/mined_count", grams.length);
      ctx.metric("sg/successful_responses", successful.length);
    }
    const matcher = compileGrams(grams);
    const matched = words.map((w) => matchGrams(w, matcher));
    const gramMask = matched.map((m) => m.mask);
    const planning = method === "oracle"
      ? oracle
      : method === "random"
      ? placeboMask(gramMask, words, rng.fork("random-method"))
      : gramMask;
    const random = placeboMask(planning, words, rng.fork("placebo"));

    const counts = countGrams(
      matched,
      ctx.params.counting as GramCounting,
      ctx.params.bins === "clusters" ? "clusters" : "grams",
      clusterOf,
    );
    ctx.metric("semantic_entropy", semanticEntropy(counts));
    ctx.metric("sg/distinct_matched", counts.size);
    const score = scoreMask(planning, oracle);
    ctx.metric("planning_ratio", score.predictedRatio);
    ctx.metric("mask/precision", score.precision);
    ctx.metric("mask/recall", score.recall);
    ctx.metric("mask/f1", score.f1);
    const ent = tokenEntropyStats(data.rollouts.map((r) => r.entropy), planning);
    recordIfFinite(ctx, "token_entropy/planning_identified", ent.planning);
    recordIfFinite(ctx, "token_entropy/execution_identified", ent.execution);

    const out: MaskFile = { method, grams: method === "oracle" ? [] : grams, planning, random };
    writeJson(ctx.outDir, "mask.json", out);
    return Promise.resolve();
  },
};
