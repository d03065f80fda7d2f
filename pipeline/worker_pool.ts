/**
 * A pool of worker threads that run stage instances in parallel (`--jobs N`).
 * Each worker imports the stage registry module itself; artifacts go to the
 * cache directly, while the results database stays with the main process
 * (DuckDB allows one writer).
 *
 * @module
 */
import type { Manifest } from "./cache.ts";
import type { InstanceHooks, InstanceJob } from "./run_instance.ts";
import { StageError } from "./run_instance.ts";
import type { PluginRef } from "./plugins.ts";

interface Slot {
  worker: Worker;
  busy: boolean;
}

/** Message from a worker. */
type FromWorker =
  | { type: "progress"; done: number; total: number; note?: string }
  | { type: "log"; message: string }
  | { type: "done"; manifest: Manifest }
  | { type: "error"; message: string; stage: string; step: number | null };

/** Fixed-size pool of stage workers. */
export class WorkerPool {
  #slots: Slot[] = [];
  #queue: (() => void)[] = [];

  constructor(size: number, registryModule?: string, plugins: PluginRef[] = []) {
    if (!registryModule) {
      throw new Error("Cannot run jobs in parallel without a registry module");
    }
    for (let i = 0; i < size; i++) {
      const worker = new Worker(new URL("./worker.ts", import.meta.url).href, {
        type: "module",
      });
      worker.postMessage({ type: "init", registryModule, plugins });
      this.#slots.push({ worker, busy: false });
    }
  }

  /** Runs one job on a free worker. */
  async run(job: InstanceJob, kind: string, hooks: InstanceHooks): Promise<Manifest> {
    let slot = this.#slots.find((s) => !s.busy);
    while (!slot) {
      await new Promise<void>((r) => this.#queue.push(r));
      slot = this.#slots.find((s) => !s.busy);
    }
    slot.busy = true;
    try {
      return await new Promise<Manifest>((resolve, reject) => {
        slot!.worker.onmessage = (e: MessageEvent<FromWorker>) => {
          const m = e.data;
          if (m.type === "progress") hooks.progress(m.done, m.total, m.note);
          else if (m.type === "log") hooks.log(m.message);
          else if (m.type === "done") resolve(m.manifest);
          else reject(new StageError(m.stage, m.step, new Error(m.message)));
        };
        slot!.worker.onerror = (e) => {
          e.preventDefault();
          reject(new StageError(job.stage, job.step, new Error(e.message)));
        };
        slot!.worker.postMessage({ type: "run", job, kind });
      });
    } finally {
      slot.busy = false;
      this.#queue.shift()?.();
    }
  }

  /** Stops all workers. */
  close(): void {
    for (const s of this.#slots) s.worker.terminate();
  }
}
