/**
 * The smoke experiment (the whole RL pipeline at a tiny size) through two worker processes
 * on real PostgreSQL and S3 gives results byte-identical to the local executor: the same
 * entry bytes for every instance and the same metrics in DuckDB.
 */
import assert from "node:assert/strict";
import { Cache } from "../../pipeline/cache.ts";
import { loadExperimentFile } from "../../pipeline/config.ts";
import { execute, type ExecutorBackend } from "../../pipeline/executor.ts";
import { SilentReporter } from "../../pipeline/progress.ts";
import { ResultsStore } from "../../pipeline/store.ts";
import { QueueBackend } from "../../scaleout/backend.ts";
import { registry } from "../../stages/mod.ts";
import { freshDatabase, REPO, spawnWorker, startServices } from "./services.ts";

const SMOKE = `${REPO}experiments/smoke.yaml`;
const TINY = [
  "loop.steps=1",
  "warmstart.steps=4",
  "evaluate-base.problems=2",
  "final-eval.problems=2",
  "evaluate.problems=2",
  "sample.prompts=2",
];
const svc = startServices();

async function runInto(dir: string, backend?: ExecutorBackend) {
  const plan = await loadExperimentFile(SMOKE, registry, TINY);
  const store = await ResultsStore.open(dir);
  try {
    const summary = await execute(plan.points, {
      resultsDir: dir,
      registry: plan.registry,
      registryModule: new URL("../../stages/mod.ts", import.meta.url).href,
      reporter: new SilentReporter(),
      sink: store,
      backend,
    });
    assert.deepEqual(summary.runs.map((r) => r.status), ["done", "done"]);
    const metrics = await store.query(
      `select r.label, m.stage, m.step, m.name, m.value from metrics m join runs r using (run_id)
        order by all`,
    );
    const c = new Cache(`${dir}/cache`);
    const entries: Record<string, unknown> = {};
    for (const d of summary.details) {
      const found = c.lookup(d.key!, false);
      assert.equal(found.status, "hit");
      if (found.status === "hit") {
        entries[`${d.label} ${d.key}`] = {
          output: found.manifest.outputHash,
          files: found.manifest.files,
        };
      }
    }
    return { metrics: metrics.rows, entries };
  } finally {
    await store.close();
  }
}

Deno.test({
  name: "smoke experiment: pgboss with 2 workers is byte-identical to the local executor",
  ignore: svc === null,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const s = svc!;
    const root = Deno.makeTempDirSync();
    try {
      const queueUrl = await freshDatabase(s, `smoke_${Deno.pid}`);
      const cacheUrl = s.cacheUrl(`smoke-${Deno.pid}`);
      const workers = [1, 2].map((i) => spawnWorker(queueUrl, cacheUrl, `${root}/w${i}`));
      let remote;
      try {
        const backend = await QueueBackend.open({
          queueUrl,
          cacheUrl,
          cacheRoot: `${root}/remote/cache`,
          registryModule: new URL("../../stages/mod.ts", import.meta.url).href,
        });
        remote = await runInto(`${root}/remote`, backend);
      } finally {
        await Promise.all(workers.map((w) => w.stop()));
      }
      // Both workers took instances.
      for (const w of workers) {
        assert.match(Deno.readTextFileSync(w.log), /computed /, `worker log ${w.log}`);
      }
      const local = await runInto(`${root}/local`);
      assert.ok(local.metrics.length > 20);
      assert.deepEqual(remote.metrics, local.metrics);
      assert.deepEqual(remote.entries, local.entries);
    } finally {
      s.stop();
    }
  },
});
