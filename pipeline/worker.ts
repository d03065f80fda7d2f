/**
 * Worker-thread entry point: imports the stage registry module named by the
 * main thread and runs the instances it is sent.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { runInstance } from "./run_instance.ts";
import { withPlugins } from "./plugins.ts";
import type { StageRegistry } from "./types.ts";

let registry: Promise<StageRegistry> | null = null;

self.onmessage = async (e: MessageEvent) => {
  const msg = e.data;
  if (msg.type === "init") {
    // The experiment's plug-ins register their kinds here too (and whatever their import does).
    registry = import(msg.registryModule).then((m) =>
      msg.plugins?.length ? withPlugins(m.registry, msg.plugins) : m.registry as StageRegistry
    );
    return;
  }
  const { job, kind: kindName } = msg;
  try {
    const kind = (await registry!).get(kindName);
    if (!kind) throw new Error(`Unknown stage kind "${kindName}" in worker`);
    const manifest = await runInstance(job, kind, {
      progress: (done, total, note) => self.postMessage({ type: "progress", done, total, note }),
      log: (message) => self.postMessage({ type: "log", message }),
    });
    self.postMessage({ type: "done", manifest });
  } catch (err) {
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
    self.postMessage({
      type: "error",
      message: cause instanceof Error ? cause.message : String(cause),
      stage: job.stage,
      step: job.step,
    });
  }
};
