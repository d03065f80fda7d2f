/**
 * A small seeded pseudo-random generator for resampling methods, so that
 * bootstrap and Monte Carlo permutation results are reproducible from a seed.
 * sfc32 (Chris Doty-Humphrey's "small fast counting" generator, PractRand)
 * with its state filled by splitmix32.
 *
 * @module
 */

/** A seeded source of uniform 32-bit integers and floats in [0, 1). */
export interface RandomSource {
  /** Uniform unsigned 32-bit integer. */
  uint32(): number;
  /** Uniform float in [0, 1) (32 bits of resolution). */
  float(): number;
  /** Uniform integer in [0, n) for 1 ≤ n ≤ 2³² (bias below n/2³²). */
  below(n: number): number;
}

/** Creates an sfc32 generator from a numeric seed (its low 32 bits are used). */
export function seededRandom(seed: number): RandomSource {
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number (got ${seed})`);
  let s = Math.trunc(seed) >>> 0;
  const splitmix = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix();
  let b = splitmix();
  let c = splitmix();
  let d = splitmix();
  const uint32 = () => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t;
  };
  for (let i = 0; i < 12; i++) uint32();
  const float = () => uint32() / 4294967296;
  return { uint32, float, below: (n: number) => Math.floor(float() * n) };
}
