/**
 * Explicit tfjs backend selection.
 *
 * tfjs picks the registered backend with the highest priority when nothing is
 * chosen, and silently falls back to another one when initialisation fails
 * (`tf.getBackend()` may even keep naming the failed one). So backends are only
 * registered here, on demand (dynamic imports), and every switch is verified.
 * WebGPU is refused on software (fallback) adapters such as Mesa's llvmpipe,
 * which are ~10× slower than wasm (see shared/docs/engine-notes.md §3–4, §7),
 * unless explicitly allowed for profiling and tests (`allowFallbackAdapter`,
 * or the environment variable HICRA_ALLOW_SOFTWARE_GPU=1).
 *
 * "onnx" keeps the model, optimizer and loss in tfjs (on wasm) but runs the
 * network itself — forward, backward and KV-cached decoding — on
 * onnxruntime (./onnx/), several times faster on CPU.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs";

/** The backends the lab supports. */
export type BackendName = "wasm" | "cpu" | "webgpu" | "onnx";

/** All backend names, for validation and help texts. */
export const BACKENDS: readonly BackendName[] = ["wasm", "cpu", "webgpu", "onnx"];

type TfBackend = Exclude<BackendName, "onnx">;

const registered = new Set<TfBackend>(["cpu"]); // the tfjs union registers cpu

/**
 * Environment variable that lets webgpu run on a software (fallback) adapter
 * such as llvmpipe: for profiling kernels and for tests only, never for real
 * work (it is much slower than wasm).
 */
export const ALLOW_SOFTWARE_GPU_ENV = "HICRA_ALLOW_SOFTWARE_GPU";

/** Options of `useBackend`. */
export interface BackendOptions {
  /**
   * webgpu only: accept a software fallback adapter (e.g. Mesa llvmpipe).
   * Default: true when HICRA_ALLOW_SOFTWARE_GPU=1, else false.
   */
  allowFallbackAdapter?: boolean;
}

/** True when HICRA_ALLOW_SOFTWARE_GPU=1 (false, without a prompt, when env access is not granted). */
export function softwareGpuAllowed(): boolean {
  const env = { name: "env", variable: ALLOW_SOFTWARE_GPU_ENV } as const;
  if (Deno.permissions.querySync(env).state !== "granted") return false;
  return Deno.env.get(ALLOW_SOFTWARE_GPU_ENV) === "1";
}

/** The WebGPU adapter navigator.gpu offers, described. */
export interface WebGpuAdapterInfo {
  /** Description, device or vendor name, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)". */
  label: string;
  /** True for a software fallback adapter. */
  fallback: boolean;
}

/** The adapter webgpu would use, or null when there is none. */
export async function webGpuAdapterInfo(): Promise<WebGpuAdapterInfo | null> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  const adapter = gpu ? await gpu.requestAdapter({ powerPreference: "high-performance" }) : null;
  if (!adapter) return null;
  const info = adapter.info;
  return {
    label: info.description || info.device || info.vendor || "unknown",
    fallback: info.isFallbackAdapter,
  };
}

/**
 * False on webgpu, whose synchronous reads (`dataSync`, `arraySync`) fail
 * under Deno (see `explainSyncReads`); code that needs a value while a
 * gradient is being recorded reads it beforehand, asynchronously, there.
 */
export function syncReadsWork(): boolean {
  return tf.getBackend() !== "webgpu";
}

/** The onnxruntime engine, loaded by the first `useBackend("onnx")`. */
type OnnxEngine = typeof import("./onnx/engine.ts");

let onnxEngineModule: OnnxEngine | null = null;
let onnxActive = false;

/** True when the network runs on onnxruntime (backend "onnx"). */
export function usingOnnx(): boolean {
  return onnxActive;
}

/**
 * The onnxruntime engine (./onnx/engine.ts). It is imported only by
 * `useBackend("onnx")`, so the other backends never load the native library.
 */
export function onnxEngine(): OnnxEngine {
  if (!onnxActive || !onnxEngineModule) {
    throw new Error('The onnx engine is not active: call useBackend("onnx") first');
  }
  return onnxEngineModule;
}

/**
 * Activates a tfjs backend, registering it first when needed.
 *
 * Idempotent: calling it again with the active backend is a no-op. Throws when
 * the backend cannot be initialised (tfjs itself would fall back silently), and
 * for webgpu when there is no adapter or only a software fallback (unless
 * `opts.allowFallbackAdapter` or HICRA_ALLOW_SOFTWARE_GPU=1 allows it).
 */
export async function useBackend(
  requested: BackendName,
  opts: BackendOptions = {},
): Promise<void> {
  if (!BACKENDS.includes(requested)) {
    throw new Error(
      `Unknown backend "${requested}": expected one of ${BACKENDS.map((b) => `"${b}"`).join(", ")}`,
    );
  }
  onnxActive = false;
  if (requested === "onnx") onnxEngineModule ??= await import("./onnx/engine.ts"); // fails early
  const name: TfBackend = requested === "onnx" ? "wasm" : requested;
  await activateTfBackend(name, opts);
  onnxActive = requested === "onnx";
}

/** Switches tfjs to `name` (a no-op when it is already active) and checks the result. */
async function activateTfBackend(name: TfBackend, opts: BackendOptions): Promise<void> {
  // getBackend() alone can name a backend whose initialisation failed.
  if (tf.getBackend() === name && tf.findBackend(name) != null) return;

  if (name === "webgpu") {
    await checkWebGpuAdapter(opts.allowFallbackAdapter ?? softwareGpuAllowed());
  }
  if (!registered.has(name)) {
    // Dynamic imports: registering webgpu at module load would make tfjs
    // auto-select it (highest priority), even on a software adapter.
    if (name === "wasm") await import("@tensorflow/tfjs-backend-wasm");
    if (name === "webgpu") await import("@tensorflow/tfjs-backend-webgpu");
    registered.add(name);
  }

  const ok = await tf.setBackend(name);
  if (!ok || tf.getBackend() !== name) {
    throw new Error(
      `Cannot initialise the tfjs "${name}" backend (setBackend returned ${ok}, active backend is "${tf.getBackend()}")`,
    );
  }
  await tf.ready();
  if (name === "cpu") silenceCpuBanner();
  if (name === "webgpu") explainSyncReads();
}

/**
 * tfjs-webgpu reads GPU tensors synchronously (dataSync) by drawing them on
 * an OffscreenCanvas, whose 2d context Deno lacks: the read fails with
 * "Cannot read properties of null (reading 'clearRect')". Tensors still on
 * the CPU read fine. Turns the failure into an error that says what to do.
 */
function explainSyncReads(): void {
  const backend = tf.backend() as unknown as {
    readSync(dataId: unknown): unknown;
    hicraReadSyncExplained?: boolean;
  };
  if (backend.hicraReadSyncExplained) return;
  const readSync = backend.readSync.bind(backend);
  backend.readSync = (dataId: unknown) => {
    try {
      return readSync(dataId);
    } catch (e) {
      throw new Error(
        `The webgpu backend cannot read a GPU tensor synchronously under Deno (dataSync/arraySync need a canvas 2d context; ${
          (e as Error).message
        }): read it with await tensor.data() (the lab's training, sampling and scoring do)`,
      );
    }
  };
  backend.hicraReadSyncExplained = true;
}

/**
 * Throws a clear Error when there is no WebGPU adapter, or only a software
 * fallback (e.g. llvmpipe) and `allowFallback` is false.
 */
async function checkWebGpuAdapter(allowFallback: boolean): Promise<void> {
  const adapter = await webGpuAdapterInfo();
  if (!adapter) {
    throw new Error(
      'No WebGPU adapter is available (navigator.gpu found no GPU; is libvulkan1 installed?): use the "wasm" backend instead',
    );
  }
  if (adapter.fallback && !allowFallback) {
    throw new Error(
      `The only WebGPU adapter is a software fallback ("${adapter.label}"), which is slower than wasm: use the "wasm" backend instead (${ALLOW_SOFTWARE_GPU_ENV}=1 allows it for profiling and tests)`,
    );
  }
}

/**
 * The cpu backend prints an "install tfjs-node" banner (via a warn() that is
 * muted in PROD mode) on its first tensor write; do that write now, muted.
 */
function silenceCpuBanner(): void {
  const prod = tf.env().getBool("PROD");
  tf.env().set("PROD", true);
  try {
    tf.dispose(tf.scalar(0));
  } finally {
    tf.env().set("PROD", prod);
  }
}
