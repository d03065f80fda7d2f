/**
 * A small builder for ONNX graphs: declare inputs, add nodes (each returns
 * its output names), mark outputs, and serialise with `encodeModel`.
 *
 * @module
 */

import {
  type AttrValue,
  DataType,
  type Dim,
  type ElemType,
  encodeModel,
  type InitializerDef,
  type ModelDef,
  type NodeDef,
  type ValueDef,
} from "./proto.ts";

/** Default-domain opset of the policy graphs (LayerNormalization needs 17). */
export const OPSET = 17;

/** Builds one ONNX graph. */
export class GraphBuilder {
  readonly #nodes: NodeDef[] = [];
  readonly #inputs = new Map<string, ValueDef>();
  readonly #outputs: ValueDef[] = [];
  readonly #inits: InitializerDef[] = [];
  readonly #constants = new Map<string, string>();
  #counter = 0;

  /** Declares a graph input (once; later calls return the same name). */
  input(name: string, type: ElemType, dims: Dim[]): string {
    if (!this.#inputs.has(name)) this.#inputs.set(name, { name, type, dims });
    return name;
  }

  /** A float input of the given shape. */
  floatInput(name: string, dims: Dim[]): string {
    return this.input(name, DataType.FLOAT, dims);
  }

  /**
   * Adds a node with `nOut` outputs and returns their names; `names` fixes
   * output names (e.g. graph outputs), otherwise they are generated.
   */
  nodeN(
    op: string,
    inputs: string[],
    nOut: number,
    attrs: Record<string, AttrValue> = {},
    names?: string[],
  ): string[] {
    const id = this.#counter++;
    const outputs = names ?? Array.from({ length: nOut }, (_, i) => `${op}_${id}_${i}`);
    this.#nodes.push({ op, inputs, outputs, name: `${op}_${id}`, attrs });
    return outputs;
  }

  /** Adds a single-output node; `name` fixes its output name. */
  node(op: string, inputs: string[], attrs: Record<string, AttrValue> = {}, name?: string): string {
    return this.nodeN(op, inputs, 1, attrs, name ? [name] : undefined)[0];
  }

  /** An int64 constant (shapes, axes), shared between uses. */
  ints(values: number[]): string {
    const key = `i64:${values.join(",")}`;
    let name = this.#constants.get(key);
    if (!name) {
      name = `const_${this.#constants.size}`;
      this.#inits.push({
        name,
        type: DataType.INT64,
        dims: [values.length],
        data: BigInt64Array.from(values.map(BigInt)),
      });
      this.#constants.set(key, name);
    }
    return name;
  }

  /** A float scalar constant, shared between uses. */
  scalar(value: number): string {
    const key = `f32:${value}`;
    let name = this.#constants.get(key);
    if (!name) {
      name = `const_${this.#constants.size}`;
      this.#inits.push({ name, type: DataType.FLOAT, dims: [], data: Float32Array.of(value) });
      this.#constants.set(key, name);
    }
    return name;
  }

  /** Marks `value` as a graph output named `name` (an Identity when the names differ). */
  output(name: string, value: string, dims: Dim[], type: ElemType = DataType.FLOAT): void {
    if (value !== name) this.node("Identity", [value], {}, name);
    this.#outputs.push({ name, type, dims });
  }

  // Shorthands for the ops the policy graphs use.
  add(a: string, b: string): string {
    return this.node("Add", [a, b]);
  }
  sub(a: string, b: string): string {
    return this.node("Sub", [a, b]);
  }
  mul(a: string, b: string): string {
    return this.node("Mul", [a, b]);
  }
  matmul(a: string, b: string): string {
    return this.node("MatMul", [a, b]);
  }
  /** α·op(a)·op(b) (+ c) with optional transposes (2-D only). */
  gemm(a: string, b: string, c?: string, transA = 0, transB = 0, name?: string): string {
    return this.node("Gemm", c ? [a, b, c] : [a, b], { transA, transB }, name);
  }
  reshape(x: string, shape: number[] | string): string {
    return this.node("Reshape", [x, typeof shape === "string" ? shape : this.ints(shape)]);
  }
  transpose(x: string, perm: number[]): string {
    return this.node("Transpose", [x], { perm });
  }
  /** Sum over `axes` (keepdims 0 unless asked). */
  reduceSum(x: string, axes: number[], keepdims = 0, name?: string): string {
    return this.node("ReduceSum", [x, this.ints(axes)], { keepdims }, name);
  }
  /** Mean over the last axis, kept. */
  meanLast(x: string): string {
    return this.node("ReduceMean", [x], { axes: [-1], keepdims: 1 });
  }

  /** The finished model. */
  build(): ModelDef {
    return {
      nodes: [...this.#nodes],
      inputs: [...this.#inputs.values()],
      outputs: [...this.#outputs],
      initializers: [...this.#inits],
      opset: OPSET,
    };
  }

  /** The serialised model. */
  encode(): Uint8Array {
    return encodeModel(this.build());
  }
}
