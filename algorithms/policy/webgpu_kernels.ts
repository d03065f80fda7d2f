/**
 * A custom WGSL kernel for the tfjs webgpu backend, used by the policy's
 * hand-written gradients on webgpu (webgpu_ops.ts). It replaces the kernel
 * that dominated the backward pass in the per-kernel profile
 * (bench/webgpu_profile.ts, issue 13):
 *
 *  - `columnSums` (bias, LayerNorm and position-embedding gradients): one
 *    invocation per column walks the rows, so neighbouring invocations read
 *    neighbouring addresses. tfjs has no fast path for this reduction: the
 *    ones-vector matMul (the wasm choice) and `sum(x, 0)` (a Transpose, then
 *    a row reduction) took 40–80 ms for [2048, 128] on llvmpipe, this
 *    kernel 5–7 ms.
 *
 * (A naive aᵀ·b kernel for weight gradients was tried too: exact, but ~4×
 * slower than tfjs's tiled matMul with the transposeA flag, so not kept.)
 *
 * The kernel is registered under its own name for the "webgpu" backend only,
 * at import time, without importing the backend package (that would make
 * tfjs auto-select webgpu): the program object implements the backend's
 * program interface (`runWebGPUProgram`). tests/policy/webgpu_test.ts checks
 * it against the cpu backend.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** The part of tfjs-backend-webgpu's WebGPUBackend the kernels use. */
interface WebGpuBackendLike {
  runWebGPUProgram(
    program: WebGpuProgram,
    inputs: tf.TensorInfo[],
    outputDtype: tf.DataType,
  ): tf.TensorInfo;
}

/** tfjs-backend-webgpu's program interface (the fields it reads). */
interface WebGpuProgram {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  variableNames: string[];
  workgroupSize: [number, number, number];
  /** Adds `uniforms.size` (the output's element count). */
  size: boolean;
  getUserCode(): string;
}

const WORKGROUP = 64;

/** A flat program: one invocation per output element, `main(index)`. */
function flatProgram(
  key: string,
  outputShape: number[],
  variableNames: string[],
  body: string,
): WebGpuProgram {
  const size = outputShape.reduce((a, b) => a * b, 1);
  return {
    outputShape,
    shaderKey: key,
    dispatchLayout: { x: outputShape.map((_, i) => i) },
    dispatch: [Math.ceil(size / WORKGROUP), 1, 1],
    variableNames,
    workgroupSize: [WORKGROUP, 1, 1],
    size: true,
    getUserCode: () => `
      fn main(index : i32) {
        if (index < uniforms.size) {
          ${body}
        }
      }`,
  };
}

/** Kernel name of `columnSums`. */
export const COLUMN_SUMS = "HicraColumnSums";

tf.registerKernel({
  kernelName: COLUMN_SUMS,
  backendName: "webgpu",
  kernelFunc: ({ inputs, backend }) => {
    const x = inputs.x as tf.TensorInfo;
    const program = flatProgram(
      "hicra_column_sums",
      [x.shape[1]],
      ["X"],
      `let rows = uniforms.xShape[0];
          let cols = uniforms.xShape[1];
          var acc = 0.0;
          for (var r = 0; r < rows; r++) {
            acc += X[r * cols + index];
          }
          setOutputAtIndex(index, acc);`,
    );
    return (backend as unknown as WebGpuBackendLike).runWebGPUProgram(program, [x], "float32");
  },
});

/** Column sums [k] of a float32 [N, k] matrix (webgpu only; no gradient). */
export function columnSums(x: tf.Tensor): tf.Tensor1D {
  if (x.rank !== 2) throw new Error(`columnSums: expected a matrix, got shape [${x.shape}]`);
  return tf.engine().runKernel(COLUMN_SUMS, { x }) as tf.Tensor1D;
}
