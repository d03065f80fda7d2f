/**
 * Explicit tfjs backend selection.
 *
 * tfjs picks the registered backend with the highest priority when nothing is
 * chosen, and silently falls back to another one when initialisation fails
 * (`tf.getBackend()` may even keep naming the failed one). So backends are only
 * registered here, on demand (dynamic imports), and every switch is verified.
 * WebGPU is refused on software (fallback) adapters such as Mesa's llvmpipe,
 * which are ~10× slower than wasm (see shared/docs/engine-notes.md §3–4, §7).
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
 * for webgpu when the only adapter is a software fallback or there is none.
 */
export async function useBackend(requested: BackendName): Promise<void> {
  if (!BACKENDS.includes(requested)) {
    throw new Error(
      `Unknown backend "${requested}": expected one of ${BACKENDS.map((b) => `"${b}"`).join(", ")}`,
    );
  }
  onnxActive = false;
  if (requested === "onnx") onnxEngineModule ??= await import("./onnx/engine.ts"); // fails early
  const name: TfBackend = requested === "onnx" ? "wasm" : requested;
  await activateTfBackend(name);
  onnxActive = requested === "onnx";
}

/** Switches tfjs to `name` (a no-op when it is already active) and checks the result. */
async function activateTfBackend(name: TfBackend): Promise<void> {
  // getBackend() alone can name a backend whose initialisation failed.
  if (tf.getBackend() === name && tf.findBackend(name) != null) return;

  if (name === "webgpu") await checkWebGpuAdapter();
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
}

/**
 * Describes the WebGPU adapter that would be used, or throws a clear Error
 * when there is none or only a software fallback (e.g. llvmpipe).
 */
async function checkWebGpuAdapter(): Promise<void> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  const adapter = gpu ? await gpu.requestAdapter({ powerPreference: "high-performance" }) : null;
  if (!adapter) {
    throw new Error(
      'No WebGPU adapter is available (navigator.gpu found no GPU; is libvulkan1 installed?): use the "wasm" backend instead',
    );
  }
  if (adapter.info.isFallbackAdapter) {
    const info = adapter.info;
    const label = info.description || info.device || info.vendor || "unknown";
    throw new Error(
      `The only WebGPU adapter is a software fallback ("${label}"), which is slower than wasm: use the "wasm" backend instead`,
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
