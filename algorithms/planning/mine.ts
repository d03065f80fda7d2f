/**
 * Strategic-Gram mining (paper §2.1): n-grams (n ∈ [3,5]) of successful solutions →
 * embedding → clustering → Cluster DF → keep the top-20% clusters → union of their n-grams.
 *
 * Choices where the paper is silent (digest §6.1):
 * - n counts normalised units (words, and punctuation marks as their own units; see
 *   `normalize.ts`) of the given word tokens, lowercased; n-grams are stored in readable form
 *   (`joinUnits`), which `matchGrams` normalises back to the same units.
 * - Only the `maxNgrams` (default 5000) n-grams with the highest document frequency are
 *   clustered (ties: higher total count, then lexicographic), after dropping those below
 *   `minDf` (default 1, i.e. no filter, as in the paper). This bounds k-means cost.
 * - Embedding: `hashEmbed` (hashed words + character trigrams); pluggable via `embed`.
 * - Clustering: k-means with k-means++ initialisation from `Rng(seed)`, `maxIter` Lloyd steps.
 * - Cluster DF: number of distinct responses containing ≥ 1 n-gram of the cluster.
 * - Selection: exactly ⌈topFrac · K⌉ clusters (K = non-empty clusters) by Cluster DF; ties at
 *   the cut go to the larger cluster, then the lexicographically smaller first member (TRL
 *   keeps every cluster at or above the 80th percentile instead, which may keep more).
 *
 * @module
 */

import { Rng } from "../rng.ts";
import { hashEmbed } from "./embed.ts";
import { kmeans } from "./kmeans.ts";
import { joinUnits, tokensToUnits } from "./normalize.ts";

/** Mining options; every field has a default. */
export interface MineOptions {
  /** Smallest n (3). */
  nMin: number;
  /** Largest n (5). */
  nMax: number;
  /** Number of k-means clusters (100, TRL's choice; capped at the number of n-grams). */
  clusters: number;
  /** Fraction of clusters kept by Cluster DF (0.2). */
  topFrac: number;
  /** Seed of the k-means++ initialisation (0). */
  seed: number;
  /** n-gram embedding (default `hashEmbed`); must return vectors of one fixed width. */
  embed?: (ngram: string) => Float32Array;
  /** Minimum document frequency of an n-gram to be clustered (1). */
  minDf?: number;
  /** Cap on the number of distinct n-grams clustered, most frequent first (5000). */
  maxNgrams?: number;
  /** Maximum Lloyd iterations (50). */
  maxIter?: number;
}

/** Defaults of {@link MineOptions}. */
export const DEFAULT_MINE_OPTIONS: Readonly<
  Required<Omit<MineOptions, "embed">>
> = Object.freeze({
  nMin: 3,
  nMax: 5,
  clusters: 100,
  topFrac: 0.2,
  seed: 0,
  minDf: 1,
  maxNgrams: 5000,
  maxIter: 50,
});

/** One cluster of mined n-grams. */
export interface MinedCluster {
  /** Member n-grams, by document frequency (desc) then lexicographically. */
  members: string[];
  /** Cluster DF: distinct responses containing at least one member. */
  df: number;
  /** Whether the cluster is among the top `topFrac` by Cluster DF. */
  selected: boolean;
}

/** Result of {@link mineStrategicGrams}. */
export interface MineResult {
  /** The Strategic-Gram set: members of the selected clusters, in cluster order. */
  grams: string[];
  /** All non-empty clusters, by Cluster DF (desc), ties as in the selection rule. */
  clusters: MinedCluster[];
}

interface NgramStat {
  text: string;
  df: number;
  count: number;
  lastDoc: number;
  docs: number[];
}

/**
 * Mines Strategic Grams from successful responses (each a list of word tokens).
 * Deterministic for given inputs and seed.
 */
export function mineStrategicGrams(
  successfulResponses: readonly (readonly string[])[],
  opts: Partial<MineOptions> = {},
): MineResult {
  const o = { ...DEFAULT_MINE_OPTIONS, ...opts };
  if (!(o.nMin >= 1 && o.nMax >= o.nMin)) {
    throw new RangeError(`need 1 <= nMin <= nMax (got ${o.nMin}, ${o.nMax})`);
  }
  if (!(o.topFrac > 0 && o.topFrac <= 1)) {
    throw new RangeError(`topFrac must be in (0, 1] (got ${o.topFrac})`);
  }
  const embed = opts.embed ?? hashEmbed;

  const ngrams = collectNgrams(successfulResponses, o.nMin, o.nMax)
    .filter((g) => g.df >= o.minDf)
    .sort((a, b) => b.df - a.df || b.count - a.count || cmp(a.text, b.text))
    .slice(0, o.maxNgrams);
  if (ngrams.length === 0) return { grams: [], clusters: [] };

  const vectors = ngrams.map((g) => embed(g.text));
  const dim = vectors[0].length;
  const data = new Float64Array(ngrams.length * dim);
  vectors.forEach((v, i) => {
    if (v.length !== dim) {
      throw new RangeError(`embed returned width ${v.length}, expected ${dim}`);
    }
    data.set(v, i * dim);
  });
  const km = kmeans(data, dim, o.clusters, new Rng(o.seed), {
    maxIter: o.maxIter,
  });

  const byCluster: NgramStat[][] = Array.from({ length: km.k }, () => []);
  ngrams.forEach((g, i) => byCluster[km.assignments[i]].push(g));
  const seen = new Int32Array(successfulResponses.length).fill(-1);
  const clusters = byCluster.filter((m) => m.length > 0).map((members, c) => {
    let df = 0;
    for (const g of members) {
      for (const d of g.docs) {
        if (seen[d] !== c) {
          seen[d] = c;
          df++;
        }
      }
    }
    const names = members.sort((a, b) => b.df - a.df || cmp(a.text, b.text))
      .map((g) => g.text);
    return { members: names, df, selected: false };
  });
  clusters.sort((a, b) =>
    b.df - a.df || b.members.length - a.members.length ||
    cmp(a.members[0], b.members[0])
  );
  const keep = Math.ceil(o.topFrac * clusters.length);
  for (let i = 0; i < keep; i++) clusters[i].selected = true;
  return {
    grams: clusters.filter((c) => c.selected).flatMap((c) => c.members),
    clusters,
  };
}

/** Distinct unit n-grams of every response with their document frequency and doc list. */
function collectNgrams(
  responses: readonly (readonly string[])[],
  nMin: number,
  nMax: number,
): NgramStat[] {
  const stats = new Map<string, NgramStat>();
  responses.forEach((words, doc) => {
    const { units } = tokensToUnits(words);
    for (let n = nMin; n <= nMax; n++) {
      for (let s = 0; s + n <= units.length; s++) {
        const slice = units.slice(s, s + n);
        const key = slice.join(" ");
        let st = stats.get(key);
        if (!st) {
          st = {
            text: joinUnits(slice),
            df: 0,
            count: 0,
            lastDoc: -1,
            docs: [],
          };
          stats.set(key, st);
        }
        st.count++;
        if (st.lastDoc !== doc) {
          st.lastDoc = doc;
          st.df++;
          st.docs.push(doc);
        }
      }
    }
  });
  return [...stats.values()];
}

/** Code-unit string order (locale-independent, so results do not depend on the machine). */
function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
