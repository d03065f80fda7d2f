/**
 * onnxruntime-node sessions for the policy graphs.
 *
 * Uses the package's synchronous binding (`dist/binding.js`, the object its
 * public InferenceSession wraps in a Promise + setImmediate per call) so the
 * training and sampling functions stay synchronous like their tfjs
 * counterparts. The package version is pinned exactly in package.json.
 * The CPU binaries ship in the npm tarball; its postinstall only fetches
 * CUDA ones and is skipped (.npmrc).
 *
 * @module
 */

import { binding, initOrt } from "onnxruntime-node/binding";
import { Tensor } from "onnxruntime-node";
import { ortThreads } from "./threads.ts";

/** A typed array an ORT tensor can wrap. */
export type TensorData = Float32Array | Int32Array;

/** A tensor fed to or read from a session. */
export interface OrtTensor {
  data: TensorData;
  dims: number[];
}

interface BindingSession {
  loadModel(buffer: ArrayBuffer, offset: number, length: number, options: object): void;
  readonly inputMetadata: { name: string }[];
  readonly outputMetadata: { name: string }[];
  run(
    feeds: Record<string, unknown>,
    fetches: Record<string, null>,
    options: object,
  ): Record<string, { data: TensorData; dims: readonly number[] }>;
  dispose(): void;
}

let initialised = false;

/** One loaded graph. */
export class OrtSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly #session: BindingSession;

  /** Loads serialised ONNX model bytes; `threads`: intra-op threads (0 = one per core). */
  constructor(model: Uint8Array, threads = ortThreads()) {
    if (!initialised) {
      initOrt();
      initialised = true;
    }
    const Session = binding.InferenceSession as unknown as new () => BindingSession;
    this.#session = new Session();
    this.#session.loadModel(model.buffer as ArrayBuffer, model.byteOffset, model.byteLength, {
      executionProviders: [{ name: "cpu" }],
      graphOptimizationLevel: "all",
      executionMode: "sequential",
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      enableCpuMemArena: true,
      logSeverityLevel: 3,
      // Idle pool threads sleep instead of spinning: with spinning, 2 threads
      // made a B32×T64 rlStep 25% slower than 1 on the 2-core VM; without, 15% faster.
      extra: { session: { intra_op: { allow_spinning: "0" } } },
    });
    this.inputNames = this.#session.inputMetadata.map((m) => m.name);
    this.outputNames = this.#session.outputMetadata.map((m) => m.name);
  }

  /**
   * Runs the graph. `feeds` must hold every input; `outputs` picks what to
   * fetch (default: all). Returned arrays belong to the caller.
   */
  run(
    feeds: Record<string, OrtTensor>,
    outputs: readonly string[] = this.outputNames,
  ): Record<string, OrtTensor> {
    const inputs: Record<string, unknown> = {};
    for (const name of this.inputNames) {
      const t = feeds[name];
      if (!t) throw new Error(`ORT session: missing input "${name}"`);
      inputs[name] = new Tensor(t.data instanceof Int32Array ? "int32" : "float32", t.data, t.dims);
    }
    const fetches: Record<string, null> = {};
    for (const name of outputs) fetches[name] = null;
    const out = this.#session.run(inputs, fetches, {});
    const result: Record<string, OrtTensor> = {};
    for (const name of outputs) result[name] = { data: out[name].data, dims: [...out[name].dims] };
    return result;
  }

  /** Frees the native session. */
  dispose(): void {
    this.#session.dispose();
  }
}
