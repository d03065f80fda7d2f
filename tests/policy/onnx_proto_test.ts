/**
 * The hand-written ONNX encoder (algorithms/policy/onnx/proto.ts, graph.ts)
 * against onnxruntime itself: a small graph using every attribute kind
 * (int, float, ints, tensor), negative int64 and float
 * initialisers and symbolic dimensions loads and computes what it should.
 *
 * @module
 */
import assert from "node:assert/strict";
import { GraphBuilder } from "../../algorithms/policy/onnx/graph.ts";
import { OrtSession } from "../../algorithms/policy/onnx/runtime.ts";

Deno.test("a graph with every attribute kind round-trips through onnxruntime", () => {
  const g = new GraphBuilder();
  const a = g.floatInput("a", ["K", "M"]); // used transposed
  const b = g.floatInput("b", ["K", "N"]);
  // y = 0.5 · aᵀb + 1 (Gemm: int attr transA, float attr alpha)
  const y = g.node("Gemm", [a, b, g.scalar(1)], { transA: 1, alpha: { float: 0.5 } });
  // Transpose (ints attr), then a sum over the last axis (negative int64 initialiser).
  const sums = g.reduceSum(g.transpose(y, [1, 0]), [-1]);
  // + a constant from a tensor attribute, broadcast over rows.
  const offset = g.node("Constant", [], {
    value: { floatTensor: Float32Array.of(10, 20), dims: [2] },
  });
  g.output("out", g.add(sums, offset), ["N"]);
  const session = new OrtSession(g.encode());
  assert.deepEqual([...session.inputNames], ["a", "b"]);
  assert.deepEqual([...session.outputNames], ["out"]);

  // a: K=2 × M=3, b: K=2 × N=2 (row-major).
  const aData = Float32Array.of(1, 2, 3, 4, 5, 6);
  const bData = Float32Array.of(1, -1, 2, 0.5);
  const { out } = session.run({
    a: { data: aData, dims: [2, 3] },
    b: { data: bData, dims: [2, 2] },
  });
  // y[m][n] = 0.5 Σ_k a[k][m] b[k][n] + 1; out[n] = Σ_m y[m][n] + offset[n].
  const expected = [0, 1].map((n) => {
    let total = 0;
    for (let m = 0; m < 3; m++) {
      let dot = 0;
      for (let k = 0; k < 2; k++) dot += aData[k * 3 + m] * bData[k * 2 + n];
      total += 0.5 * dot + 1;
    }
    return total + [10, 20][n];
  });
  assert.deepEqual(out.dims, [2]);
  assert.deepEqual([...out.data], expected);
  session.dispose();
});

Deno.test("an integer-valued attribute must be written as an integer", () => {
  const g = new GraphBuilder();
  const x = g.floatInput("x", [2]);
  g.output("y", g.node("Transpose", [x], { perm: [0] }), [2]);
  g.node("Gemm", [x, x], { transA: 0.5 });
  assert.throws(() => g.encode(), /attribute transA: 0.5 is not an integer/);
});

Deno.test("a string attribute is encoded (Pad mode reflect)", () => {
  const g = new GraphBuilder();
  const x = g.floatInput("x", [3]);
  g.output("y", g.node("Pad", [x, g.ints([1, 1])], { mode: "reflect" }), [5]);
  const session = new OrtSession(g.encode());
  const { y } = session.run({ x: { data: Float32Array.of(1, 2, 3), dims: [3] } });
  assert.deepEqual([...y.data], [2, 1, 2, 3, 2]);
  session.dispose();
});
