/**
 * The GPT's differentiable building blocks on the tfjs webgpu backend: the
 * same values as gpt.ts's wasm-oriented ops, with gradients that avoid the
 * kernels that made webgpu's backward pass slow (issue 13). Measured per
 * kernel with bench/webgpu_profile.ts on Mesa llvmpipe (B8×T64, before →
 * after in the README); the culprits were:
 *
 *  - 2-D Transpose: tfjs-webgpu transposes matrices with a shared-memory tiled
 *    shader (workgroup barriers), 12–17× slower on llvmpipe than its plain
 *    N-d transpose shader (124–130 against 7–10 ms for [2048, 128]). The
 *    explicit transposes of wasm's workaround B (weight gradients) paid it
 *    on every linear layer. Here matrices are transposed as [1, r, c]
 *    tensors, which selects the plain shader, and weight gradients use the
 *    transposeA flag (as fast as that transpose plus a product, one kernel
 *    fewer).
 *  - The ones-vector matMul that sums bias / LayerNorm / position gradients
 *    over rows (wasm's fastest choice) runs tfjs's reduce-style matMul:
 *    ~40 ms for [2048, 128]. A custom column-sum kernel
 *    (webgpu_kernels.ts) does it in ~5 ms.
 *  - Batched matMul with transposeB (attention scores q·kᵀ in the forward
 *    pass, and the gradients of both attention products): ~5× slower than
 *    an explicit [B, H, T, hd] transpose followed by a plain product. The
 *    attention products get hand-written gradients without that flag.
 *
 * Everything here is plain tfjs ops plus that one kernel, so the module can
 * be checked against the cpu backend (tests/policy/webgpu_test.ts).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import type { Ops } from "./gpt.ts";
import { addRowOp, layerNormOp } from "./row_ops.ts";
import { columnSums } from "./webgpu_kernels.ts";

/** Matrix transpose through the plain N-d shader (see the module comment). */
function t2(x: tf.Tensor): tf.Tensor {
  const [r, c] = x.shape;
  return tf.reshape(tf.transpose(tf.reshape(x, [1, r, c]), [0, 2, 1]), [c, r]);
}

/** Swaps the last two axes of a rank-4 tensor (the plain N-d shader). */
function tLast(x: tf.Tensor): tf.Tensor {
  return tf.transpose(x, [0, 1, 3, 2]);
}

type Args = (tf.Tensor | tf.GradSaveFunc)[];

/**
 * a·b for [B, H, m, k] × [B, H, k, n] without transpose flags in the backward
 * pass: da = dy·bᵀ (explicit transpose), db = aᵀ·dy (transposeA is fast here).
 */
const bmm = tf.customGrad((...args: Args) => {
  const [a, b, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor, [sa, sb]: tf.Tensor[]) => [
      tf.matMul(dy, tLast(sb)),
      tf.matMul(sa, dy, true, false),
    ],
  };
}) as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;

/** x·w + b (2-D, fused bias): dx = dy·wᵀ, dw = xᵀ·dy, db = column sums. */
const linear = tf.customGrad((...args: Args) => {
  const [x, w, b, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  save([x, w]);
  return {
    value: tf.fused.matMul({ a: x, b: w, bias: b }),
    gradFunc: (dy: tf.Tensor, [sx, sw]: tf.Tensor[]) => [
      tf.matMul(dy, t2(sw)),
      tf.matMul(sx, dy, true, false),
      columnSums(dy),
    ],
  };
}) as (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.Tensor;

/** x·w (2-D, no bias). */
const matmul = tf.customGrad((...args: Args) => {
  const [x, w, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  save([x, w]);
  return {
    value: tf.matMul(x, w),
    gradFunc: (dy: tf.Tensor, [sx, sw]: tf.Tensor[]) => [
      tf.matMul(dy, t2(sw)),
      tf.matMul(sx, dy, true, false),
    ],
  };
}) as (x: tf.Tensor, w: tf.Tensor) => tf.Tensor;

/** LayerNorm of [N, d] with gain and bias (row_ops.ts); row sums by the column-sum kernel. */
const layerNorm = layerNormOp(columnSums);

/** x + row for x [N, k], row [k]. */
const addRow = addRowOp(columnSums);

/** oneHot(ids) × table (as in gpt.ts: one matMul; its gradient hotᵀ·dy). */
function embed(ids: tf.Tensor1D, table: tf.Tensor): tf.Tensor {
  const op = tf.customGrad((...args: Args) => {
    const [tbl, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const hot = tf.cast(tf.oneHot(ids, tbl.shape[0]!), "float32");
    save([hot]);
    return {
      value: tf.matMul(hot, tbl),
      gradFunc: (dy: tf.Tensor, [savedHot]: tf.Tensor[]) => [
        tf.matMul(savedHot, dy, true, false),
      ],
    };
  }) as (tbl: tf.Tensor) => tf.Tensor;
  return op(table);
}

/** The webgpu variants of gpt.ts's differentiable ops. */
export const WEBGPU_GRAD_OPS: Ops = {
  linear,
  matmul,
  layerNorm,
  addRow,
  embed,
  scores: (q, k) => bmm(q, tLast(k)),
  mix: bmm,
};
