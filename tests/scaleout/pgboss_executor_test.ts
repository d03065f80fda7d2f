/**
 * The executor tests that matter for distribution, run on both executors: in-process
 * (`local`) and `pgboss` (the QueueBackend in this process, two real worker processes,
 * real PostgreSQL and a real S3 server). Both must give the same statuses, counts, values
 * and entry bytes.
 */
import assert from "node:assert/strict";
import { Cache } from "../../pipeline/cache.ts";
import { loadExperimentText } from "../../pipeline/config.ts";
import { execute, type ExecuteOptions } from "../../pipeline/executor.ts";
import { SilentReporter } from "../../pipeline/progress.ts";
import { ResultsStore } from "../../pipeline/store.ts";
import { QueueBackend } from "../../scaleout/backend.ts";
import { parseCacheUrl, RemoteCache } from "../../scaleout/s3_store.ts";
import { registry } from "../fixtures/toy_stages.ts";
import {
  freshDatabase,
  type Services,
  spawnWorker,
  startServices,
  tamperRemoteFile,
} from "./services.ts";

const TOY = Deno.readTextFileSync(new URL("../fixtures/toy_loop.yaml", import.meta.url));
const TOY_MODULE = new URL("../fixtures/toy_stages.ts", import.meta.url).href;
const svc = startServices();

function plan(text: string, sets: string[] = []) {
  return loadExperimentText(text, "toy.yaml", registry, sets);
}

type Exec = "local" | "pgboss";

/** One executor set-up: options for each execute() call, and a teardown. */
interface Harness {
  /** The shared cache of the pgboss harness. */
  cacheUrl?: string;
  opts(dir: string, extra?: Partial<ExecuteOptions>): Promise<ExecuteOptions>;
  /**
   * Labels of the instances the workers' toy stages actually executed, in order; null for
   * local (setting TOY_EXEC_LOG in this process would race with other test files).
   */
  executed(): string[] | null;
  close(): Promise<void>;
}

let prefixes = 0;

function harness(exec: Exec, s: Services, queueUrl: string): Harness {
  const base = (dir: string, extra: Partial<ExecuteOptions> = {}): ExecuteOptions => ({
    resultsDir: dir,
    registry,
    reporter: new SilentReporter(),
    ...extra,
  });
  const root = Deno.makeTempDirSync();
  const execLog = `${root}/exec.log`;
  const executed = () => {
    try {
      return Deno.readTextFileSync(execLog).split("\n").filter((l) => l);
    } catch {
      return [];
    }
  };
  if (exec === "local") {
    return {
      opts: (d, e) => Promise.resolve(base(d, e)),
      executed: () => null,
      close: async () => {},
    };
  }
  const cacheUrl = s.cacheUrl(`t${Deno.pid}-${prefixes++}`);
  const workers = [1, 2].map((i) =>
    spawnWorker(queueUrl, cacheUrl, `${root}/w${i}`, { TOY_EXEC_LOG: execLog })
  );
  return {
    cacheUrl,
    executed,
    async opts(dir, extra) {
      const backend = await QueueBackend.open({
        queueUrl,
        cacheUrl,
        cacheRoot: `${dir}/cache`,
        registryModule: TOY_MODULE,
        report: (l) => extra?.reporter?.line(l),
      });
      return base(dir, { ...extra, backend });
    },
    async close() {
      await Promise.all(workers.map((w) => w.stop()));
    },
  };
}

function keyOf(summary: Awaited<ReturnType<typeof execute>>, label: string): string {
  const d = summary.details.find((x) => x.label === label);
  assert.ok(d?.key, `no key for ${label}`);
  return d.key;
}

function valueOf(dir: string, key: string): number {
  const c = new Cache(`${dir}/cache`);
  return JSON.parse(Deno.readTextFileSync(`${c.entryDir(key)}/out/value.json`)).value;
}

/** Every entry's manifest files and output hash, by key (what "byte-identical" means). */
function entryBytes(dir: string, keys: string[]): Record<string, unknown> {
  const c = new Cache(`${dir}/cache`);
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    const found = c.lookup(k);
    assert.equal(found.status, "hit", `entry ${k} in ${dir}`);
    if (found.status === "hit") {
      out[k] = { files: found.manifest.files, output: found.manifest.outputHash };
    }
  }
  return out;
}

Deno.test({
  name: "the executor behaves the same on local and pgboss (2 worker processes)",
  ignore: svc === null,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const s = svc!;
    const queueUrl = await freshDatabase(s, `exec_${Deno.pid}`);
    try {
      const results: Record<string, Record<Exec, unknown>> = {};
      for (const exec of ["local", "pgboss"] as Exec[]) {
        await t.step(`${exec}: unrolls the loop, runs every instance once, then hits`, async () => {
          const h = harness(exec, s, queueUrl);
          try {
            const dir = Deno.makeTempDirSync();
            const first = await execute(plan(TOY).points, await h.opts(dir));
            assert.equal(first.instances, 10);
            assert.equal(first.computed, 10);
            assert.equal(first.failed, 0);
            assert.equal(valueOf(dir, keyOf(first, "acc@5")), 22);
            assert.equal(valueOf(dir, keyOf(first, "probe@2")), 8);
            assert.equal(valueOf(dir, keyOf(first, "final")), 32);
            const second = await execute(plan(TOY).points, await h.opts(dir));
            assert.equal(second.computed, 0);
            assert.equal(second.cached, 10);
            const keys = first.details.map((d) => d.key!).sort();
            (results.loop ??= {} as Record<Exec, unknown>)[exec] = entryBytes(dir, keys);
          } finally {
            await h.close();
          }
        });

        await t.step(
          `${exec}: cuts off early when an upstream rerun yields identical bytes`,
          async () => {
            const h = harness(exec, s, queueUrl);
            try {
              const dir = Deno.makeTempDirSync();
              const text = `name: cutoff
stages:
  a: { kind: source, with: { base: 1 } }
  b: { kind: scale, needs: { x: a }, with: { factor: 0 } }
  c: { kind: report, needs: { a: b } }
`;
              await execute(plan(text).points, await h.opts(dir));
              const again = await execute(plan(text, ["a.base=5"]).points, await h.opts(dir));
              const status = Object.fromEntries(again.details.map((d) => [d.label, d.status]));
              assert.deepEqual(status, { a: "ran", b: "ran", c: "hit" });
            } finally {
              await h.close();
            }
          },
        );

        await t.step(`${exec}: --force reruns the stage and everything downstream`, async () => {
          const h = harness(exec, s, queueUrl);
          try {
            const dir = Deno.makeTempDirSync();
            await execute(plan(TOY).points, await h.opts(dir));
            assert.equal(h.executed()?.length ?? 10, 10);
            const r = await execute(plan(TOY).points, await h.opts(dir, { force: ["probe"] }));
            // Workers finish in any order.
            const ran = r.details.filter((d) => d.status === "ran").map((d) => d.label).sort();
            assert.deepEqual(ran, ["probe@2", "probe@5"]);
            // Really executed again on the workers, though the shared cache holds both.
            const again = h.executed();
            if (again) assert.deepEqual(again.slice(10).sort(), ["probe@2", "probe@5"]);
          } finally {
            await h.close();
          }
        });

        await t.step(`${exec}: a failed point does not stop the others`, async () => {
          const h = harness(exec, s, queueUrl);
          try {
            const dir = Deno.makeTempDirSync();
            const text = TOY + `sweep:\n  grid: { acc.fail_at: [-1, 2] }\n`;
            const r = await execute(plan(text).points, await h.opts(dir));
            assert.deepEqual(r.runs.map((x) => x.status), ["done", "failed"]);
            assert.match(r.runs[1].error!, /acc@2: planned failure at step 2/);
          } finally {
            await h.close();
          }
        });

        await t.step(
          `${exec}: sweep points share instances; DuckDB gets every row once`,
          async () => {
            const h = harness(exec, s, queueUrl);
            const dir = Deno.makeTempDirSync();
            const store = await ResultsStore.open(dir);
            try {
              const text = TOY + `sweep:\n  grid: { probe.factor: [0.5, 2] }\n`;
              const r = await execute(plan(text).points, await h.opts(dir, { sink: store }));
              assert.equal(r.instances, 12);
              assert.equal(r.computed, 12);
              const q = await store.query(
                `select r.label, m.value from metrics m join runs r using (run_id)
                where m.stage = 'acc' and m.step = 5 order by r.label`,
              );
              assert.deepEqual(q.rows.map((x) => x[1]), [22, 22]);
              const m = await store.query(
                `select stage, step, name, value from metrics order by all`,
              );
              const i = await store.query(
                `select count(*), count(distinct (run_id, stage, step)) from instances`,
              );
              (results.duck ??= {} as Record<Exec, unknown>)[exec] = { m: m.rows, i: i.rows };
              assert.deepEqual(i.rows, [[20, 20]]);
            } finally {
              await store.close();
              await h.close();
            }
          },
        );
      }
      await t.step("local and pgboss entries are byte-identical; DuckDB rows equal", () => {
        assert.deepEqual(results.loop.pgboss, results.loop.local);
        assert.deepEqual(results.duck.pgboss, results.duck.local);
      });

      await t.step("pgboss: a corrupt entry in the bucket is reported and recomputed", async () => {
        const h = harness("pgboss", s, queueUrl);
        try {
          const d1 = Deno.makeTempDirSync();
          const first = await execute(plan(TOY).points, await h.opts(d1));
          const key = keyOf(first, "acc@3");
          // Overwrite one file of the entry in the bucket behind the store's back.
          await tamperRemoteFile(h.cacheUrl!, key, "out/value.json", '{"value":999}');
          // A fresh coordinator (empty local cache) takes every entry from the bucket but that one.
          const d2 = Deno.makeTempDirSync();
          const lines: string[] = [];
          const reporter = new SilentReporter();
          reporter.line = (l: string) => void lines.push(l);
          const second = await execute(plan(TOY).points, await h.opts(d2, { reporter }));
          assert.equal(second.failed, 0);
          assert.equal(second.computed, 1);
          assert.equal(second.cached, 9);
          assert.ok(
            lines.some((l) => l.includes("is corrupt") && l.includes("out/value.json")),
            lines.join("\n"),
          );
          assert.equal(valueOf(d2, key), 18);
          // The recomputed entry replaced the corrupt one in the bucket.
          const remote = new RemoteCache(parseCacheUrl(h.cacheUrl!));
          const d3 = Deno.makeTempDirSync();
          const got = await remote.pull(new Cache(`${d3}/cache`), key);
          remote.close();
          assert.equal(got.status, "fetched");
        } finally {
          await h.close();
        }
      });
    } finally {
      s.stop();
    }
  },
});
