/**
 * `deno task worker --queue postgres://… [--cache s3://bucket/prefix] [--results DIR]`:
 * a worker process of the scale-out executor. Run any number, on any machine that reaches
 * the queue and the bucket; each takes ready stage instances one at a time until stopped
 * (Ctrl-C / SIGTERM finishes the running instance first).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { UserError } from "../pipeline/errors.ts";
import { runWorker } from "../scaleout/worker.ts";

const USAGE = `Usage: deno task worker --queue postgres://… [--cache s3://BUCKET/PREFIX] [options]

Takes ready stage instances from the job queue (deno task run … --executor pgboss),
runs them exactly as in-process, stores each entry in the shared cache and reports.

Options:
  --queue URL      PostgreSQL URL of the pg-boss job queue (required)
  --cache URL      s3://BUCKET/PREFIX shared cache (?endpoint=http://HOST:PORT or
                   AWS_ENDPOINT_URL for a non-AWS server); without it the worker
                   must share the coordinator's results directory
  --results DIR    local results directory (this worker's cache) [results]
  --quiet          no line per instance
  -h, --help       this text`;

/** Entry point; returns the exit code. */
export async function workerCli(args: string[]): Promise<number> {
  let v;
  try {
    v = parseArgs({
      args,
      options: {
        queue: { type: "string" },
        cache: { type: "string" },
        results: { type: "string", default: "results" },
        quiet: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }).values;
  } catch (e) {
    console.error(`error: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (v.help) {
    console.log(USAGE);
    return 0;
  }
  if (!v.queue) {
    console.error(`error: --queue is required\n\n${USAGE}`);
    return 2;
  }
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const log = v.quiet ? undefined : (line: string) => console.error(`worker ${Deno.pid}: ${line}`);
  try {
    await runWorker({
      queueUrl: v.queue,
      cacheUrl: v.cache,
      resultsDir: v.results!,
      signal: stop.signal,
      log,
    });
    return 0;
  } catch (e) {
    if (e instanceof UserError) {
      console.error(`error: ${e.message}`);
      return 2;
    }
    throw e;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}

if (import.meta.main) Deno.exit(await workerCli(Deno.args));
