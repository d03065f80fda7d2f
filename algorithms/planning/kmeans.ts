/**
 * Seeded k-means (k-means++ initialisation, Lloyd iterations), deterministic for a given
 * seed and input order.
 *
 * @module
 */

import type { Rng } from "../rng.ts";

/** Options of {@link kmeans}. */
export interface KMeansOptions {
  /** Maximum Lloyd iterations (default 50). */
  maxIter?: number;
  /** Stop when no centroid moves by more than this squared distance (default 1e-10). */
  tol?: number;
}

/** Result of {@link kmeans}. */
export interface KMeansResult {
  /** Cluster index per point, in [0, k). */
  assignments: Int32Array;
  /** Row-major k × dim centroids. */
  centroids: Float64Array;
  /** Number of clusters actually used (below k when there are fewer distinct points). */
  k: number;
  /** Lloyd iterations run. */
  iterations: number;
}

/**
 * Clusters `n` points of width `dim` (row-major `data`) into at most `k` clusters.
 * Ties go to the lower cluster index; an empty cluster keeps its previous centroid;
 * k-means++ stops adding centres once every point coincides with one.
 */
export function kmeans(
  data: Float64Array,
  dim: number,
  k: number,
  rng: Rng,
  opts: KMeansOptions = {},
): KMeansResult {
  const n = dim > 0 ? data.length / dim : 0;
  if (!Number.isInteger(n)) {
    throw new RangeError(
      `data length ${data.length} is not a multiple of dim ${dim}`,
    );
  }
  if (n === 0 || k < 1) {
    return {
      assignments: new Int32Array(n),
      centroids: new Float64Array(0),
      k: 0,
      iterations: 0,
    };
  }
  const maxIter = opts.maxIter ?? 50;
  const tol = opts.tol ?? 1e-10;
  const centers = initPlusPlus(data, dim, n, Math.min(k, n), rng);
  const kk = centers.length / dim;
  const assign = new Int32Array(n).fill(-1);
  let iterations = 0;
  for (; iterations < maxIter; iterations++) {
    let changed = false;
    for (let i = 0; i < n; i++) {
      const c = nearest(data, i * dim, centers, kk, dim);
      if (c !== assign[i]) {
        assign[i] = c;
        changed = true;
      }
    }
    if (!changed && iterations > 0) break;
    const sums = new Float64Array(kk * dim);
    const counts = new Int32Array(kk);
    for (let i = 0; i < n; i++) {
      const c = assign[i];
      counts[c]++;
      for (let d = 0; d < dim; d++) sums[c * dim + d] += data[i * dim + d];
    }
    let maxShift = 0;
    for (let c = 0; c < kk; c++) {
      if (counts[c] === 0) continue;
      let shift = 0;
      for (let d = 0; d < dim; d++) {
        const m = sums[c * dim + d] / counts[c];
        shift += (m - centers[c * dim + d]) ** 2;
        centers[c * dim + d] = m;
      }
      if (shift > maxShift) maxShift = shift;
    }
    if (maxShift <= tol) {
      iterations++;
      break;
    }
  }
  // Final assignment against the final centroids.
  for (let i = 0; i < n; i++) {
    assign[i] = nearest(data, i * dim, centers, kk, dim);
  }
  return { assignments: assign, centroids: centers, k: kk, iterations };
}

/** k-means++: first centre uniform, then each next centre with probability ∝ D². */
function initPlusPlus(
  data: Float64Array,
  dim: number,
  n: number,
  k: number,
  rng: Rng,
): Float64Array {
  const chosen: number[] = [rng.int(0, n - 1)];
  const d2 = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    d2[i] = sqDist(data, i * dim, data, chosen[0] * dim, dim);
  }
  while (chosen.length < k) {
    let total = 0;
    for (let i = 0; i < n; i++) total += d2[i];
    if (total <= 0) break;
    let r = rng.float() * total;
    let pick = -1;
    for (let i = 0; i < n; i++) {
      if (d2[i] <= 0) continue;
      pick = i;
      r -= d2[i];
      if (r < 0) break;
    }
    chosen.push(pick);
    for (let i = 0; i < n; i++) {
      const d = sqDist(data, i * dim, data, pick * dim, dim);
      if (d < d2[i]) d2[i] = d;
    }
  }
  const centers = new Float64Array(chosen.length * dim);
  chosen.forEach((p, c) => centers.set(data.subarray(p * dim, p * dim + dim), c * dim));
  return centers;
}

/** Index of the closest centroid (lowest index on ties). */
function nearest(
  data: Float64Array,
  off: number,
  centers: Float64Array,
  k: number,
  dim: number,
): number {
  let best = 0;
  let bestD = Infinity;
  for (let c = 0; c < k; c++) {
    const d = sqDist(data, off, centers, c * dim, dim);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best;
}

/** Squared Euclidean distance between two rows. */
function sqDist(
  a: Float64Array,
  ao: number,
  b: Float64Array,
  bo: number,
  dim: number,
): number {
  let s = 0;
  for (let d = 0; d < dim; d++) {
    const x = a[ao + d] - b[bo + d];
    s += x * x;
  }
  return s;
}
