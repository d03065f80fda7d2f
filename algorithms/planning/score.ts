/**
 * Scores a predicted planning mask against oracle labels (testbed ground truth).
 *
 * @module
 */

/** Micro-averaged token-level agreement of two masks. */
export interface MaskScore {
  /** TP / predicted positives (0 when nothing is predicted). */
  precision: number;
  /** TP / oracle positives (0 when the oracle marks nothing). */
  recall: number;
  /** Harmonic mean of precision and recall (0 when both are 0). */
  f1: number;
  /** Predicted positives / all tokens (0 when there are no tokens). */
  predictedRatio: number;
  /** Oracle positives / all tokens (0 when there are no tokens). */
  oracleRatio: number;
}

/**
 * Token-level precision, recall and F1, micro-averaged over every token of every response;
 * any 0/0 is defined as 0.
 *
 * @throws RangeError when the masks differ in shape.
 */
export function scoreMask(
  pred: readonly (readonly boolean[])[],
  oracle: readonly (readonly boolean[])[],
): MaskScore {
  if (pred.length !== oracle.length) {
    throw new RangeError(
      `scoreMask: ${pred.length} predicted rows but ${oracle.length} oracle rows`,
    );
  }
  let tp = 0, p = 0, o = 0, total = 0;
  for (let i = 0; i < pred.length; i++) {
    const a = pred[i], b = oracle[i];
    if (a.length !== b.length) {
      throw new RangeError(
        `scoreMask: row ${i} has ${a.length} predicted but ${b.length} oracle tokens`,
      );
    }
    for (let t = 0; t < a.length; t++) {
      if (a[t]) p++;
      if (b[t]) o++;
      if (a[t] && b[t]) tp++;
    }
    total += a.length;
  }
  const div = (x: number, y: number) => (y === 0 ? 0 : x / y);
  const precision = div(tp, p);
  const recall = div(tp, o);
  return {
    precision,
    recall,
    f1: div(2 * precision * recall, precision + recall),
    predictedRatio: div(p, total),
    oracleRatio: div(o, total),
  };
}
