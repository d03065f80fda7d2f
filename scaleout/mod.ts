/**
 * Scale-out: run sweeps on many machines. Instances travel through a pg-boss queue on
 * PostgreSQL to `deno task worker` processes; entries are shared through an S3 bucket.
 * This layer sits on top of the engine (`pipeline/`), which knows it only as an
 * `ExecutorBackend`.
 *
 * @module
 */
import type { ExecutorBackend } from "../pipeline/executor.ts";
import type { BackendRequest } from "../pipeline/run_cli.ts";
import { QueueBackend } from "./backend.ts";

export { QueueBackend } from "./backend.ts";
export { runWorker, type WorkerOptions } from "./worker.ts";
export { parseCacheUrl, RemoteCache } from "./s3_store.ts";

/** The `--executor` backends this layer adds to `deno task run`. */
export const executors: Record<string, (req: BackendRequest) => Promise<ExecutorBackend>> = {
  pgboss: (req) =>
    QueueBackend.open({
      queueUrl: req.queue!,
      cacheUrl: req.cache,
      cacheRoot: `${req.resultsDir}/cache`,
      registryModule: req.registryModule,
      plugins: req.plugins,
      report: req.report,
    }),
};
