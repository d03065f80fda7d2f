/**
 * Scale-out benchmark (needs PostgreSQL and the S3 test server, started through
 * scripts/services.sh; set BENCH_SCALEOUT=1 to run it, it takes minutes):
 * - queue overhead per instance: a chain of no-op toy instances (each waits for the previous)
 *   through pg-boss and one worker process, minus the same chain in-process; with the
 *   workers on the coordinator's results directory (queue only) and through the bucket;
 * - the smoke sweep on 1, 2 and 4 worker processes: wall time and throughput.
 *
 * @module
 */
import { loadExperimentFile, loadExperimentText } from "../pipeline/config.ts";
import { execute, type ExecutorBackend } from "../pipeline/executor.ts";
import { SilentReporter } from "../pipeline/progress.ts";
import type { StageRegistry, SweepPoint } from "../pipeline/types.ts";
import { QueueBackend } from "../scaleout/backend.ts";
import { registry as labRegistry } from "../stages/mod.ts";
import { registry as toyRegistry } from "../tests/fixtures/toy_stages.ts";
import {
  freshDatabase,
  type Services,
  spawnWorker,
  startServices,
  waitFor,
} from "../tests/scaleout/services.ts";
import type { BenchRow } from "./types.ts";

const TOY_MODULE = new URL("../tests/fixtures/toy_stages.ts", import.meta.url).href;
const LAB_MODULE = new URL("../stages/mod.ts", import.meta.url).href;
const CHAIN = 60;
const SMOKE_SETS = ["loop.steps=2", "warmstart.steps=10"];

async function timed(
  points: SweepPoint[],
  registry: StageRegistry,
  dir: string,
  backend?: ExecutorBackend,
): Promise<{ seconds: number; instances: number }> {
  const t0 = performance.now();
  const s = await execute(points, {
    resultsDir: dir,
    registry,
    reporter: new SilentReporter(),
    backend,
  });
  if (s.failed) throw new Error(`bench run failed: ${s.runs.map((r) => r.error).join("; ")}`);
  return { seconds: (performance.now() - t0) / 1000, instances: s.computed + s.cached };
}

/** Runs `points` through `n` fresh worker processes; returns wall seconds (workers ready first). */
async function throughWorkers(
  svc: Services,
  n: number,
  points: SweepPoint[],
  registry: StageRegistry,
  registryModule: string,
  bucket: boolean,
  tag: string,
) {
  const queueUrl = await freshDatabase(svc, `bench_${tag}_${Deno.pid}`);
  const root = Deno.makeTempDirSync();
  const coord = `${root}/coord`;
  const cacheUrl = bucket ? svc.cacheUrl(`bench-${tag}-${Deno.pid}`) : null;
  const workers = Array.from(
    { length: n },
    (_, i) => spawnWorker(queueUrl, cacheUrl, bucket ? `${root}/w${i}` : coord),
  );
  try {
    for (const w of workers) {
      await waitFor(() => Deno.readTextFileSync(w.log).includes("ready"), 60000, "a worker");
    }
    const backend = await QueueBackend.open({
      queueUrl,
      cacheUrl: cacheUrl ?? undefined,
      cacheRoot: `${coord}/cache`,
      registryModule,
    });
    return await timed(points, registry, coord, backend);
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    Deno.removeSync(root, { recursive: true });
  }
}

/** The scale-out rows (a skip row when the services cannot run or BENCH_SCALEOUT is unset). */
export async function bench(): Promise<BenchRow[]> {
  if (Deno.env.get("BENCH_SCALEOUT") !== "1") {
    console.error(
      "scaleout bench: skipped (set BENCH_SCALEOUT=1; needs postgres and takes minutes)",
    );
    return [];
  }
  const svc = startServices();
  if (!svc) {
    console.error("scaleout bench: skipped (no postgres)");
    return [];
  }
  const rows: BenchRow[] = [];
  try {
    // A chain: every instance waits for the previous one, so the queue's latency adds up.
    const chain = `name: chain
stages:
  init: { kind: source, with: { base: 1 } }
loop:
  steps: ${CHAIN}
  init: { acc: init }
  stages:
    acc: { kind: step, needs: { state: prev.acc }, with: { delta: 1 } }
`;
    const points = loadExperimentText(chain, "chain.yaml", toyRegistry, []).points;
    const local = await timed(points, toyRegistry, Deno.makeTempDirSync());
    const perLocal = (local.seconds * 1000) / local.instances;
    for (const bucket of [false, true]) {
      const r = await throughWorkers(
        svc,
        1,
        points,
        toyRegistry,
        TOY_MODULE,
        bucket,
        `c${+bucket}`,
      );
      const per = (r.seconds * 1000) / r.instances;
      rows.push({
        name: `scale-out overhead per instance, ${
          bucket ? "queue + S3 bucket" : "queue only (shared dir)"
        }`,
        value: per - perLocal,
        unit: "ms",
        target: "< 50 ms",
        note: `${CHAIN + 1}-instance chain, 1 worker: ${per.toFixed(1)} ms/instance vs ${
          perLocal.toFixed(1)
        } in-process`,
      });
    }
    // The smoke sweep (2 points) at 1, 2 and 4 worker processes, through the bucket.
    const smoke = await loadExperimentFile(
      new URL("../experiments/smoke.yaml", import.meta.url).pathname,
      labRegistry,
      SMOKE_SETS,
    );
    const base = await timed(smoke.points, smoke.registry, Deno.makeTempDirSync());
    rows.push({
      name: "smoke sweep, local executor (in-process)",
      value: base.instances / base.seconds,
      unit: "instances/s",
      note: `${base.instances} instances in ${base.seconds.toFixed(1)} s (${SMOKE_SETS.join(" ")})`,
    });
    for (const n of [1, 2, 4]) {
      const r = await throughWorkers(
        svc,
        n,
        smoke.points,
        smoke.registry,
        LAB_MODULE,
        true,
        `s${n}`,
      );
      rows.push({
        name: `smoke sweep, pgboss, ${n} worker process${n > 1 ? "es" : ""}`,
        value: r.instances / r.seconds,
        unit: "instances/s",
        note: `${r.instances} instances in ${
          r.seconds.toFixed(1)
        } s; ${navigator.hardwareConcurrency} cores`,
      });
    }
  } finally {
    svc.stop();
  }
  return rows;
}
