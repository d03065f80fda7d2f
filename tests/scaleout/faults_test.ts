/**
 * Faults of the scale-out executor, with real processes, PostgreSQL and S3: a worker killed
 * with -9 mid-instance, a coordinator killed and restarted, unreachable services, and two
 * coordinators submitting overlapping sweeps. Toy stages; each case takes seconds.
 */
import assert from "node:assert/strict";
import { loadExperimentText } from "../../pipeline/config.ts";
import { execute } from "../../pipeline/executor.ts";
import { SilentReporter } from "../../pipeline/progress.ts";
import { ResultsStore } from "../../pipeline/store.ts";
import { QueueBackend } from "../../scaleout/backend.ts";
import { registry } from "../fixtures/toy_stages.ts";
import { freshDatabase, REPO, runToyCli, spawnWorker, startServices, waitFor } from "./services.ts";

const TOY_FILE = `${REPO}tests/fixtures/toy_loop.yaml`;
const TOY = Deno.readTextFileSync(TOY_FILE);
const TOY_MODULE = new URL("../fixtures/toy_stages.ts", import.meta.url).href;
const svc = startServices();

function read(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return "";
  }
}

function lines(path: string): string[] {
  return read(path).split("\n").filter((l) => l);
}

function counts(list: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of list) out[x] = (out[x] ?? 0) + 1;
  return out;
}

/** A toy experiment file with `sets` written in (for subprocess coordinators). */
function toyFile(dir: string, extra = ""): string {
  const path = `${dir}/toy.yaml`;
  Deno.writeTextFileSync(path, TOY + extra);
  return path;
}

Deno.test({
  name: "scale-out faults: killed workers and coordinators, lost services, overlapping sweeps",
  ignore: svc === null,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const s = svc!;
    try {
      await t.step(
        "a worker killed with -9 mid-instance: another reruns it; DuckDB has every row once",
        async () => {
          const queueUrl = await freshDatabase(s, `kill_${Deno.pid}`);
          const cacheUrl = s.cacheUrl(`kill-${Deno.pid}`);
          const root = Deno.makeTempDirSync();
          const execLog = `${root}/exec.log`;
          const env = { TOY_EXEC_LOG: execLog };
          const a = spawnWorker(queueUrl, cacheUrl, `${root}/wa`, env);
          const dir = `${root}/coord`;
          const store = await ResultsStore.open(dir);
          let b: ReturnType<typeof spawnWorker> | null = null;
          try {
            const p = loadExperimentText(TOY, "toy.yaml", registry, [
              "loop.steps=2",
              "acc.sleep_ms=2500",
            ]);
            const backend = await QueueBackend.open({
              queueUrl,
              cacheUrl,
              cacheRoot: `${dir}/cache`,
              registryModule: TOY_MODULE,
            });
            const running = execute(p.points, {
              resultsDir: dir,
              registry,
              reporter: new SilentReporter(),
              sink: store,
              backend,
            });
            let failed: unknown = null;
            running.catch((e) => (failed = e));
            await waitFor(
              () => failed !== null || read(a.log).includes("took acc@0"),
              20000,
              `worker A to take acc@0 (its log: ${read(a.log)})`,
            );
            if (failed) throw failed;
            await a.kill9();
            b = spawnWorker(queueUrl, cacheUrl, `${root}/wb`, env);
            const summary = await running;
            assert.equal(summary.failed, 0);
            assert.deepEqual(summary.runs.map((r) => r.status), ["done"]);
            // Worker B took acc@0 again after A's heartbeat lapsed (a retry: attempt 2).
            assert.match(read(b.log), /took acc@0 \S+ \(attempt 2\)/);
            // acc@0 never finished on A, so it was executed once, by B; nothing ran twice.
            assert.deepEqual(counts(lines(execLog)), {
              init: 1,
              "acc@0": 1,
              "acc@1": 1,
              "probe@1": 1,
              final: 1,
            });
            const rows = await store.query(
              `select count(*), count(distinct (stage, step)) from instances`,
            );
            assert.deepEqual(rows.rows, [[5, 5]]);
            const acc = await store.query(
              `select value from metrics where stage = 'acc' order by step`,
            );
            assert.deepEqual(acc.rows, [[12], [14]]);
          } finally {
            await store.close();
            await a.stop();
            await b?.stop();
          }
        },
      );

      await t.step("the coordinator killed and restarted resumes without recomputing", async () => {
        const queueUrl = await freshDatabase(s, `coord_${Deno.pid}`);
        const cacheUrl = s.cacheUrl(`coord-${Deno.pid}`);
        const root = Deno.makeTempDirSync();
        const execLog = `${root}/exec.log`;
        const w = spawnWorker(queueUrl, cacheUrl, `${root}/w`, { TOY_EXEC_LOG: execLog });
        const file = toyFile(root);
        const args = [
          file,
          "--results",
          `${root}/coord`,
          "--executor",
          "pgboss",
          "--queue",
          queueUrl,
          "--cache",
          cacheUrl,
          "--set",
          "acc.sleep_ms=400",
        ];
        try {
          const child = new Deno.Command(`${REPO}node_modules/.bin/deno`, {
            args: ["run", "-A", `${REPO}tests/scaleout/toy_cli.ts`, ...args],
            cwd: REPO,
            env: { NO_COLOR: "1" },
            stdout: "null",
            stderr: "null",
          }).spawn();
          await waitFor(() => lines(execLog).length >= 3, 30000, "three instances");
          child.kill("SIGKILL");
          await child.status;
          const before = lines(execLog).length;
          const again = await runToyCli(args);
          assert.equal(again.code, 0, again.stderr);
          const executed = lines(execLog);
          // Every instance executed exactly once across both coordinators.
          assert.equal(executed.length, 10, executed.join(","));
          assert.ok(Object.values(counts(executed)).every((c) => c === 1));
          assert.ok(before >= 3);
          assert.match(again.stdout, /10 instance\(s\): \d+ computed, \d+ cached, 0 failed/);
        } finally {
          await w.stop();
        }
      });

      await t.step(
        "unreachable PostgreSQL or bucket: one clear line naming the URL, exit 2",
        async () => {
          const root = Deno.makeTempDirSync();
          const file = toyFile(root);
          const deadPg = "postgres://postgres@127.0.0.1:1/hicra";
          const r1 = await runToyCli([
            file,
            "--results",
            `${root}/a`,
            "--executor",
            "pgboss",
            "--queue",
            deadPg,
          ]);
          assert.equal(r1.code, 2);
          assert.match(
            r1.stderr,
            /error: cannot reach the job queue at postgres:\/\/postgres@127\.0\.0\.1:1\/hicra/,
          );
          assert.match(r1.stderr, /scripts\/services\.sh start/);
          assert.doesNotMatch(r1.stderr, /\n\s+at /);
          const deadS3 = "s3://hicra/x?endpoint=http://127.0.0.1:1";
          const r2 = await runToyCli([
            file,
            "--results",
            `${root}/b`,
            "--executor",
            "pgboss",
            "--queue",
            s.pgUrl,
            "--cache",
            deadS3,
          ]);
          assert.equal(r2.code, 2);
          assert.match(
            r2.stderr,
            /error: cannot reach the cache bucket s3:\/\/hicra\/x \(endpoint http:\/\/127\.0\.0\.1:1\)/,
          );
          assert.doesNotMatch(r2.stderr, /\n\s+at /);
          // The worker says the same.
          const w = spawnWorker(deadPg, null, `${root}/w`);
          const status = await w.child.status;
          await w.stop();
          assert.equal(status.code, 2);
          assert.match(
            read(w.log),
            /error: cannot reach the job queue at postgres:\/\/postgres@127\.0\.0\.1:1\/hicra/,
          );
          assert.doesNotMatch(read(w.log), /\n\s+at /);
        },
      );

      await t.step(
        "two coordinators submitting overlapping sweeps compute shared instances once",
        async () => {
          const queueUrl = await freshDatabase(s, `two_${Deno.pid}`);
          const cacheUrl = s.cacheUrl(`two-${Deno.pid}`);
          const root = Deno.makeTempDirSync();
          const execLog = `${root}/exec.log`;
          const env = { TOY_EXEC_LOG: execLog };
          const ws = [1, 2].map((i) => spawnWorker(queueUrl, cacheUrl, `${root}/w${i}`, env));
          try {
            const common = ["--executor", "pgboss", "--queue", queueUrl, "--cache", cacheUrl];
            const fa = toyFile(
              Deno.makeTempDirSync(),
              `sweep:\n  grid: { probe.factor: [0.5, 2] }\n`,
            );
            const fb = toyFile(
              Deno.makeTempDirSync(),
              `sweep:\n  grid: { probe.factor: [2, 3] }\n`,
            );
            const slow = ["--set", "acc.sleep_ms=150"];
            const [ra, rb] = await Promise.all([
              runToyCli([fa, "--results", `${root}/a`, ...common, ...slow]),
              runToyCli([fb, "--results", `${root}/b`, ...common, ...slow]),
            ]);
            assert.equal(ra.code, 0, ra.stderr);
            assert.equal(rb.code, 0, rb.stderr);
            // init + 6 acc + final are shared by all points, probe@2 and probe@5 differ per
            // factor (0.5, 2, 3): 1 + 6 + 1 + 6 = 14 distinct instances, each executed once.
            const executed = lines(execLog);
            assert.equal(executed.length, 14, executed.join(","));
            const c = counts(executed);
            assert.equal(c.init, 1);
            assert.equal(c["acc@3"], 1);
            assert.equal(c["probe@2"], 3);
            assert.equal(c.final, 1);
          } finally {
            await Promise.all(ws.map((w) => w.stop()));
          }
        },
      );
    } finally {
      s.stop();
    }
  },
});
