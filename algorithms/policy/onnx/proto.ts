/**
 * A minimal protobuf writer for the subset of ONNX (onnx.proto, IR 8) that
 * the policy graphs need: a model with one graph of nodes, typed inputs and
 * outputs with symbolic dimensions, tensor initialisers and node attributes.
 * Writing the ~10 message types by hand avoids a protobuf dependency; field
 * numbers are those of onnx/onnx.proto.
 *
 * @module
 */

/** ONNX TensorProto.DataType values used here. */
export const DataType = { FLOAT: 1, INT32: 6, INT64: 7 } as const;
/** An element type of a graph input or output. */
export type ElemType = (typeof DataType)[keyof typeof DataType];

/** A dimension: a fixed size or a symbolic name (e.g. "B"). */
export type Dim = number | string;

/**
 * A node attribute value: an integer, `{ float }`, a string, a list of
 * integers, or a float tensor.
 */
export type AttrValue =
  | number
  | { float: number }
  | string
  | number[]
  | { floatTensor: Float32Array; dims: number[] };

/** One graph node. */
export interface NodeDef {
  op: string;
  inputs: string[];
  outputs: string[];
  name: string;
  attrs: Record<string, AttrValue>;
  /** Operator domain ("" = the default ONNX domain, "com.microsoft" = ORT contrib). */
  domain?: string;
}

/** A typed graph input or output. */
export interface ValueDef {
  name: string;
  type: ElemType;
  dims: Dim[];
}

/** A constant tensor of the graph. */
export interface InitializerDef {
  name: string;
  type: ElemType;
  dims: number[];
  data: Float32Array | Int32Array | BigInt64Array;
}

/** A whole ONNX model. */
export interface ModelDef {
  nodes: NodeDef[];
  inputs: ValueDef[];
  outputs: ValueDef[];
  initializers: InitializerDef[];
  /** Default-domain opset version. */
  opset: number;
}

/** Append-only byte buffer with protobuf wire encodings. */
class Writer {
  #buf = new Uint8Array(1024);
  #len = 0;

  #reserve(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
  }

  /** Unsigned varint (also used for non-negative int64 values). */
  varint(value: number | bigint): void {
    let v = BigInt.asUintN(64, BigInt(value));
    this.#reserve(10);
    while (v >= 0x80n) {
      this.#buf[this.#len++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.#buf[this.#len++] = Number(v);
  }

  bytes(data: Uint8Array): void {
    this.#reserve(data.length);
    this.#buf.set(data, this.#len);
    this.#len += data.length;
  }

  /** A varint field. */
  int(field: number, value: number | bigint): void {
    this.varint(field << 3);
    this.varint(value);
  }

  /** A 32-bit float field. */
  float(field: number, value: number): void {
    this.varint((field << 3) | 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.bytes(b);
  }

  /** A length-delimited field (string, bytes or nested message). */
  blob(field: number, data: Uint8Array | string): void {
    const b = typeof data === "string" ? new TextEncoder().encode(data) : data;
    this.varint((field << 3) | 2);
    this.varint(b.length);
    this.bytes(b);
  }

  /** A nested message written by `fill`. */
  message(field: number, fill: (w: Writer) => void): void {
    const w = new Writer();
    fill(w);
    this.blob(field, w.finish());
  }

  finish(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }
}

function tensorBytes(data: InitializerDef["data"]): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

// TensorProto: dims 1, data_type 2, name 8, raw_data 9.
function writeTensor(w: Writer, t: InitializerDef): void {
  for (const d of t.dims) w.int(1, d);
  w.int(2, t.type);
  w.blob(8, t.name);
  w.blob(9, tensorBytes(t.data));
}

// AttributeProto: name 1, f 2, i 3, s 4, t 5, floats 7, ints 8, type 20
// (FLOAT 1, INT 2, STRING 3, TENSOR 4, FLOATS 6, INTS 7).
function writeAttribute(w: Writer, name: string, value: AttrValue): void {
  w.blob(1, name);
  if (typeof value === "number") {
    if (!Number.isInteger(value)) throw new Error(`attribute ${name}: ${value} is not an integer`);
    w.int(3, value);
    w.int(20, 2);
  } else if (typeof value === "string") {
    w.blob(4, value);
    w.int(20, 3);
  } else if ("float" in value) {
    w.float(2, value.float);
    w.int(20, 1);
  } else if (Array.isArray(value)) {
    for (const v of value) w.int(8, v);
    w.int(20, 7);
  } else {
    const { floatTensor, dims } = value as { floatTensor: Float32Array; dims: number[] };
    w.message(5, (t) => writeTensor(t, { name, type: DataType.FLOAT, dims, data: floatTensor }));
    w.int(20, 4);
  }
}

// NodeProto: input 1, output 2, name 3, op_type 4, attribute 5, domain 7.
function writeNode(w: Writer, n: NodeDef): void {
  for (const i of n.inputs) w.blob(1, i);
  for (const o of n.outputs) w.blob(2, o);
  w.blob(3, n.name);
  w.blob(4, n.op);
  for (const [k, v] of Object.entries(n.attrs)) w.message(5, (a) => writeAttribute(a, k, v));
  if (n.domain) w.blob(7, n.domain);
}

// ValueInfoProto: name 1, type 2 → TypeProto.tensor_type 1 → elem_type 1,
// shape 2 → TensorShapeProto.dim 1 → dim_value 1 | dim_param 2.
function writeValueInfo(w: Writer, v: ValueDef): void {
  w.blob(1, v.name);
  w.message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.int(1, v.type);
      tensor.message(2, (shape) => {
        for (const d of v.dims) {
          shape.message(1, (dim) => typeof d === "number" ? dim.int(1, d) : dim.blob(2, d));
        }
      });
    }));
}

/**
 * Serialises a model: ModelProto { ir_version 1 = 8, producer_name 2,
 * graph 7 { node 1, name 2, initializer 5, input 11, output 12 },
 * opset_import 8 (the default domain, plus com.microsoft v1 when a node uses it) }.
 */
export function encodeModel(model: ModelDef): Uint8Array {
  const w = new Writer();
  w.int(1, 8);
  w.blob(2, "hicra-lab");
  w.message(7, (g) => {
    for (const n of model.nodes) g.message(1, (x) => writeNode(x, n));
    g.blob(2, "graph");
    for (const t of model.initializers) g.message(5, (x) => writeTensor(x, t));
    for (const v of model.inputs) g.message(11, (x) => writeValueInfo(x, v));
    for (const v of model.outputs) g.message(12, (x) => writeValueInfo(x, v));
  });
  w.message(8, (o) => o.int(2, model.opset));
  if (model.nodes.some((n) => n.domain === "com.microsoft")) {
    w.message(8, (o) => {
      o.blob(1, "com.microsoft");
      o.int(2, 1);
    });
  }
  return w.finish();
}
