/**
 * The LayerNorm and broadcast-row-add ops with hand-written gradients, shared
 * by gpt.ts (wasm / cpu) and webgpu_ops.ts. The backends differ only in how a
 * gradient is summed over rows (a ones-vector matMul on wasm, a column-sum
 * kernel on webgpu), so that sum is a parameter.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Sums an [N, k] tensor over its rows, giving [k]. */
export type RowSum = (x: tf.Tensor) => tf.Tensor;

/** x̂ = (x − mean)·rstd over the last axis, rstd = 1/√(var + 1e-5). */
export function normalise(x: tf.Tensor): { xHat: tf.Tensor; rstd: tf.Tensor } {
  const centred = tf.sub(x, tf.mean(x, -1, true));
  const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(centred), -1, true), 1e-5));
  return { xHat: tf.mul(centred, rstd), rstd };
}

/**
 * LayerNorm of [N, d] with gain g and bias b, with the closed-form gradient
 * dx = rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂ ⊙ x̂)), dx̂ = dy ⊙ g: about half the
 * ops of autodiff through the mean and variance. The gain and bias gradients
 * are summed over rows with `rowSum`.
 */
export function layerNormOp(
  rowSum: RowSum,
): (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.Tensor {
  return tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, g, b, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const { xHat, rstd } = normalise(x);
    save([xHat, rstd, g]);
    return {
      value: tf.add(tf.mul(xHat, g), b),
      gradFunc: (dy: tf.Tensor, [sxHat, sRstd, sg]: tf.Tensor[]) => {
        const dxHat = tf.mul(dy, sg);
        const proj = tf.mul(sxHat, tf.mean(tf.mul(dxHat, sxHat), -1, true));
        const dx = tf.mul(tf.sub(tf.sub(dxHat, tf.mean(dxHat, -1, true)), proj), sRstd);
        return [dx, rowSum(tf.mul(dy, sxHat)), rowSum(dy)];
      },
    };
  }) as (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.Tensor;
}

/** x + row for x [N, k], row [k]: a broadcast add whose row gradient is `rowSum(dy)`. */
export function addRowOp(rowSum: RowSum): (x: tf.Tensor, row: tf.Tensor) => tf.Tensor {
  return tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, row] = args as [tf.Tensor, tf.Tensor];
    return {
      value: tf.add(x, row),
      gradFunc: (dy: tf.Tensor) => [dy, rowSum(dy)],
    };
  }) as (x: tf.Tensor, row: tf.Tensor) => tf.Tensor;
}
