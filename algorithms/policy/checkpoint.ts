/**
 * GPT checkpoints: `config.json` (config, parameter names and shapes, and
 * the optimizer's hyper-parameters when saved) plus `weights.bin`, all
 * weights as little-endian float32 concatenated in `parameterSpecs` order.
 * Optionally `optimizer.bin` holds the Adam moments (all m, then all v, same
 * order) so that a resumed run continues exactly. Saving is deterministic:
 * save → load → save gives identical bytes.
 *
 * @module
 */

import { join } from "node:path";
import { type Gpt, type GptConfig, gptFromArrays, namedParameters, parameterSpecs } from "./gpt.ts";
import { Adam } from "./train.ts";

const FORMAT = "hicra-gpt-checkpoint";
const VERSION = 1;

/** The JSON part of a checkpoint. */
export interface CheckpointManifest {
  format: string;
  version: number;
  config: GptConfig;
  dtype: "float32";
  byteOrder: "little";
  weightsFile: string;
  parameters: { name: string; shape: number[] }[];
  optimizer: {
    type: "adam";
    file: string;
    step: number;
    lr: number;
    beta1: number;
    beta2: number;
    epsilon: number;
    weightDecay: number;
  } | null;
}

function assertLittleEndian(): void {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
    throw new Error("Checkpoints assume a little-endian platform");
  }
}

/** Concatenates float32 arrays into raw bytes. */
function packFloats(arrays: Float32Array[]): Uint8Array {
  const total = arrays.reduce((n, a) => n + a.length, 0);
  const out = new Float32Array(total);
  let offset = 0;
  for (const a of arrays) {
    out.set(a, offset);
    offset += a.length;
  }
  return new Uint8Array(out.buffer);
}

/** Splits raw float32 bytes into arrays of the given sizes. */
function unpackFloats(
  bytes: Uint8Array,
  sizes: number[],
  file: string,
): Float32Array[] {
  const total = sizes.reduce((a, b) => a + b, 0);
  if (bytes.byteLength !== total * 4) {
    throw new Error(
      `Cannot load checkpoint: ${file} has ${bytes.byteLength} bytes, expected ${total * 4}`,
    );
  }
  const all = new Float32Array(bytes.slice().buffer);
  const out: Float32Array[] = [];
  let offset = 0;
  for (const n of sizes) {
    out.push(all.slice(offset, offset + n));
    offset += n;
  }
  return out;
}

/**
 * Writes a checkpoint of `model` (and, when given, the optimizer's state)
 * into `dir` (created if missing; existing files are overwritten).
 */
export async function saveCheckpoint(
  model: Gpt,
  dir: string,
  opts: { optimizer?: Adam } = {},
): Promise<void> {
  assertLittleEndian();
  const params = namedParameters(model);
  // Awaited reads: synchronous ones fail on webgpu under Deno.
  const weights = packFloats(
    await Promise.all(params.map(async ({ variable }) => await variable.data() as Float32Array)),
  );
  let optimizer: CheckpointManifest["optimizer"] = null;
  let optimizerBytes: Uint8Array | null = null;
  if (opts.optimizer) {
    const o = opts.optimizer;
    const state = await o.getState();
    optimizer = {
      type: "adam",
      file: "optimizer.bin",
      step: state.step,
      lr: o.lr,
      beta1: o.beta1,
      beta2: o.beta2,
      epsilon: o.epsilon,
      weightDecay: o.weightDecay,
    };
    optimizerBytes = packFloats([...state.m, ...state.v]);
  }
  const manifest: CheckpointManifest = {
    format: FORMAT,
    version: VERSION,
    config: { ...model.config },
    dtype: "float32",
    byteOrder: "little",
    weightsFile: "weights.bin",
    parameters: params.map(({ name, variable }) => ({
      name,
      shape: variable.shape,
    })),
    optimizer,
  };
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeFile(join(dir, "weights.bin"), weights);
  if (optimizerBytes) {
    await Deno.writeFile(join(dir, "optimizer.bin"), optimizerBytes);
  }
  await Deno.writeTextFile(
    join(dir, "config.json"),
    JSON.stringify(manifest, null, 2) + "\n",
  );
}

/** Reads and checks a checkpoint's manifest. */
export async function readManifest(dir: string): Promise<CheckpointManifest> {
  const path = join(dir, "config.json");
  let manifest: CheckpointManifest;
  try {
    manifest = JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    throw new Error(
      `Cannot load checkpoint "${dir}": ${path}: ${(e as Error).message}`,
    );
  }
  if (manifest.format !== FORMAT || manifest.version !== VERSION) {
    throw new Error(
      `Cannot load checkpoint "${dir}": format ${manifest.format} v${manifest.version}, expected ${FORMAT} v${VERSION}`,
    );
  }
  const specs = parameterSpecs(manifest.config);
  const mismatch = specs.findIndex((s, i) =>
    manifest.parameters[i]?.name !== s.name ||
    manifest.parameters[i].shape.join() !== s.shape.join()
  );
  if (mismatch >= 0 || manifest.parameters.length !== specs.length) {
    throw new Error(
      `Cannot load checkpoint "${dir}": its parameter list does not match its config`,
    );
  }
  return manifest;
}

/** Loads the model saved in `dir` (new variables; the caller disposes them). */
export async function loadCheckpoint(dir: string): Promise<Gpt> {
  assertLittleEndian();
  const manifest = await readManifest(dir);
  const sizes = manifest.parameters.map((p) => p.shape.reduce((a, b) => a * b, 1));
  const bytes = await Deno.readFile(join(dir, manifest.weightsFile));
  return gptFromArrays(
    manifest.config,
    unpackFloats(bytes, sizes, manifest.weightsFile),
  );
}

/**
 * The Adam optimizer saved with the checkpoint in `dir`, its state restored
 * for `model` (which must have the checkpoint's config), or null when the
 * checkpoint has no optimizer state.
 */
export async function loadOptimizer(
  dir: string,
  model: Gpt,
): Promise<Adam | null> {
  const manifest = await readManifest(dir);
  const o = manifest.optimizer;
  if (!o) return null;
  if (
    JSON.stringify(parameterSpecs(model.config)) !==
      JSON.stringify(parameterSpecs(manifest.config))
  ) {
    throw new Error(
      `Cannot load the optimizer of checkpoint "${dir}": the model has a different config`,
    );
  }
  const params = namedParameters(model).map((p) => p.variable);
  const adam = new Adam({
    lr: o.lr,
    beta1: o.beta1,
    beta2: o.beta2,
    epsilon: o.epsilon,
    weightDecay: o.weightDecay,
  });
  const bytes = await Deno.readFile(join(dir, o.file));
  if (bytes.byteLength === 0) {
    adam.setState({ step: o.step, m: [], v: [] }, params);
    return adam;
  }
  const sizes = params.map((p) => p.size);
  const arrays = unpackFloats(bytes, [...sizes, ...sizes], o.file);
  adam.setState({
    step: o.step,
    m: arrays.slice(0, sizes.length),
    v: arrays.slice(sizes.length),
  }, params);
  return adam;
}
