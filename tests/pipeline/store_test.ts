import assert from "node:assert/strict";
import { join } from "node:path";
import { ResultsStore } from "../../pipeline/store.ts";
import { UserError } from "../../pipeline/errors.ts";

async function withStore(
  fn: (store: ResultsStore, dir: string) => Promise<void>,
) {
  const dir = await Deno.makeTempDir();
  const store = await ResultsStore.open(dir);
  try {
    await fn(store, dir);
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const T0 = new Date("2025-01-02T03:04:05.678Z");

Deno.test("runs: upsert and status updates", () =>
  withStore(async (store, dir) => {
    const run = {
      runId: "r1",
      experiment: "exp",
      label: "a=1",
      params: { b: [1, 2], a: { x: "y" } },
      seed: 7,
      status: "running",
      startedAt: T0,
    };
    await store.upsertRun(run);
    await store.upsertRun({ ...run, label: "a=2" }); // replaces, no duplicate
    let r = await store.query("SELECT * FROM runs");
    assert.deepEqual(r.columns, [
      "run_id",
      "experiment",
      "label",
      "params",
      "seed",
      "status",
      "started_at",
      "finished_at",
      "error",
      "point_label",
      "config",
      "config_hash",
      "tags",
      "primary_metric",
    ]);
    assert.deepEqual(r.rows, [[
      "r1",
      "exp",
      "a=2",
      { a: { x: "y" }, b: [1, 2] },
      7,
      "running",
      "2025-01-02T03:04:05.678Z",
      null,
      null,
      "a=2",
      null,
      null,
      [],
      null,
    ]]);
    const done = new Date("2025-01-02T04:00:00Z");
    await store.setRunStatus("r1", "failed", done, "boom");
    r = await store.query("SELECT status, finished_at, error FROM runs");
    assert.deepEqual(r.rows, [["failed", "2025-01-02T04:00:00.000Z", "boom"]]);
    assert.ok(await Deno.stat(join(dir, "runs.duckdb")));
  }));

Deno.test("metrics: 10k rows appended and aggregated; instances appended", () =>
  withStore(async (store) => {
    const rows = [];
    for (let i = 0; i < 10_000; i++) {
      rows.push({
        runId: i % 2 ? "a" : "b",
        step: i % 10 === 0 ? null : i % 100,
        stage: "train",
        name: i % 4 < 2 ? "loss" : "acc",
        value: i,
      });
    }
    await store.appendMetrics(rows);
    const r = await store.query(
      `SELECT run_id, name, count(*) n, sum(value) s, count(step) with_step
       FROM metrics GROUP BY ALL ORDER BY ALL`,
    );
    assert.deepEqual(r.types, [
      "VARCHAR",
      "VARCHAR",
      "BIGINT",
      "DOUBLE",
      "BIGINT",
    ]);
    const expect = new Map<string, [number, number, number]>();
    for (const m of rows) {
      const k = `${m.runId}/${m.name}`;
      const e = expect.get(k) ?? [0, 0, 0];
      expect.set(k, [
        e[0] + 1,
        e[1] + m.value,
        e[2] + (m.step === null ? 0 : 1),
      ]);
    }
    assert.equal(r.rows.length, 4);
    for (const [run, name, n, s, ws] of r.rows) {
      assert.deepEqual([n, s, ws], expect.get(`${run}/${name}`));
    }
    await store.appendInstances([
      {
        runId: "a",
        stage: "s",
        step: null,
        kind: "k",
        key: "h1",
        cached: true,
        seconds: 0.5,
      },
      {
        runId: "a",
        stage: "s",
        step: 3,
        kind: "k",
        key: "h2",
        cached: false,
        seconds: 2,
      },
    ]);
    const ins = await store.query(
      "SELECT step, cached, seconds FROM instances ORDER BY key",
    );
    assert.deepEqual(ins.rows, [[null, true, 0.5], [3, false, 2]]);
  }));

Deno.test("appendRowsFromJsonl: creates, widens and adds columns; clearRun removes one run", () =>
  withStore(async (store, dir) => {
    const f1 = join(dir, "a.jsonl");
    const f2 = join(dir, "b.jsonl");
    await Deno.writeTextFile(
      f1,
      '{"reward":1,"text":"x","step":99}\n{"reward":0,"text":"y\'z"}\n',
    );
    await Deno.writeTextFile(f2, '{"reward":0.5,"text":"w","correct":true}\n');
    assert.equal(
      await store.appendRowsFromJsonl("rollouts", f1, {
        run_id: "r1",
        step: 0,
        stage: "sample",
      }),
      2,
    );
    let r = await store.query("SELECT * FROM rollouts");
    assert.deepEqual(r.columns, ["run_id", "step", "stage", "reward", "text"]);
    assert.deepEqual(r.types, [
      "VARCHAR",
      "INTEGER",
      "VARCHAR",
      "BIGINT",
      "VARCHAR",
    ]);
    assert.deepEqual(r.rows[1], ["r1", 0, "sample", 0, "y'z"]); // extra step wins
    assert.equal(
      await store.appendRowsFromJsonl("rollouts", f2, {
        run_id: "r2",
        step: null,
        stage: "sample",
      }),
      1,
    );
    r = await store.query("SELECT * FROM rollouts ORDER BY run_id, text");
    assert.deepEqual(r.columns, [
      "run_id",
      "step",
      "stage",
      "reward",
      "text",
      "correct",
    ]);
    assert.equal(r.types[3], "DOUBLE"); // widened, 0.5 not rounded
    assert.deepEqual(r.rows.map((x) => [x[0], x[1], x[3], x[5]]), [
      ["r1", 0, 1, null],
      ["r1", 0, 0, null],
      ["r2", null, 0.5, true],
    ]);
    const empty = join(dir, "empty.jsonl");
    await Deno.writeTextFile(empty, "");
    assert.equal(
      await store.appendRowsFromJsonl("rollouts", empty, {
        run_id: "r3",
        step: 1,
        stage: "s",
      }),
      0,
    );

    await store.appendMetrics([
      { runId: "r1", step: 0, stage: "s", name: "m", value: 1 },
      { runId: "r2", step: 0, stage: "s", name: "m", value: 2 },
    ]);
    await store.appendInstances([
      {
        runId: "r1",
        stage: "s",
        step: 0,
        kind: "k",
        key: "x",
        cached: false,
        seconds: 1,
      },
      {
        runId: "r2",
        stage: "s",
        step: 0,
        kind: "k",
        key: "y",
        cached: false,
        seconds: 1,
      },
    ]);
    await store.clearRun("r1");
    for (const t of ["metrics", "instances", "rollouts"]) {
      const c = await store.query(
        `SELECT run_id, count(*) FROM ${t} GROUP BY 1`,
      );
      assert.deepEqual(c.rows, [["r2", 1]], t);
    }
  }));

Deno.test("appendRowsFromJsonl rejects bad and reserved table names", () =>
  withStore(async (store, dir) => {
    const f = join(dir, "a.jsonl");
    await Deno.writeTextFile(f, '{"a":1}\n');
    const extra = { run_id: "r", step: null, stage: "s" };
    for (const t of ["Bad", "x;drop", "1x", "metrics"]) {
      await assert.rejects(store.appendRowsFromJsonl(t, f, extra), UserError);
    }
  }));

Deno.test("query converts values to plain JSON", () =>
  withStore(async (store) => {
    const r = await store.query(
      `SELECT 42::BIGINT small, 9007199254740993::BIGINT big,
      TIMESTAMP '2024-05-06 07:08:09.123' ts, [1, 2, NULL] l, {'a': 1, 'b': ['x']} s,
      1.25::DECIMAL(5,2) d, NULL n, 170141183460469231731687303715884105727::HUGEINT h`,
    );
    assert.deepEqual(r.rows, [[
      42,
      "9007199254740993",
      "2024-05-06T07:08:09.123Z",
      [1, 2, null],
      { a: 1, b: ["x"] },
      1.25,
      null,
      "170141183460469231731687303715884105727",
    ]]);
  }));

Deno.test("read-only open of a missing database is a UserError", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      ResultsStore.open(dir, { readOnly: true }),
      new UserError(
        `no results database at ${join(dir, "runs.duckdb")}; run an experiment first`,
      ),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("stores on one file share an instance; the file is released on close", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const a = await ResultsStore.open(dir);
    const b = await ResultsStore.open(dir);
    await a.appendMetrics([{
      runId: "r",
      step: 1,
      stage: "s",
      name: "m",
      value: 3,
    }]);
    assert.deepEqual((await b.query("SELECT value FROM metrics")).rows, [[3]]);
    await a.close();
    assert.deepEqual((await b.query("SELECT count(*) FROM metrics")).rows, [[
      1,
    ]]);
    await b.close();
    // Another process can now open it read-only.
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../../pipeline/sql_cli.ts", import.meta.url).pathname,
        "--results",
        dir,
        "--csv",
        "SELECT count(*) AS n FROM metrics",
      ],
    }).output();
    assert.equal(new TextDecoder().decode(out.stdout), "n\n1\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a writer killed with SIGKILL mid-append leaves a readable database", async () => {
  const dir = await Deno.makeTempDir();
  const storeUrl = new URL("../../pipeline/store.ts", import.meta.url);
  const writer = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `
      import { ResultsStore } from "${storeUrl}";
      const s = await ResultsStore.open(${JSON.stringify(dir)});
      await s.upsertRun({ runId: "r", experiment: "e", label: "", params: {}, seed: 0,
        status: "running", startedAt: new Date() });
      const batch = Array.from({ length: 1000 }, (_, i) =>
        ({ runId: "r", step: i, stage: "s", name: "m", value: i }));
      await s.appendMetrics(batch);
      console.log("go");
      for (;;) await s.appendMetrics(batch);`,
    ],
    stdout: "piped",
  }).spawn();
  try {
    const reader = writer.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    assert.equal((await reader.read()).value?.trim(), "go");
    reader.releaseLock();
    await new Promise((r) => setTimeout(r, 200));
    writer.kill("SIGKILL");
    await writer.status;
    const store = await ResultsStore.open(dir);
    try {
      const r = await store.query(
        "SELECT status, (SELECT count(*) FROM metrics) FROM runs",
      );
      assert.equal(r.rows[0][0], "running");
      assert.ok((r.rows[0][1] as number) >= 1000);
      await store.clearRun("r");
      assert.deepEqual(
        (await store.query("SELECT count(*) FROM metrics")).rows,
        [[0]],
      );
    } finally {
      await store.close();
    }
  } finally {
    await writer.stdout.cancel().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("live view: sql reads a running writer's committed results from its snapshot", async () => {
  const { sqlMain } = await import("../../pipeline/sql_cli.ts");
  const dir = await Deno.makeTempDir();
  // A real writer process: one run, then a metric row every 100 ms.
  const writer = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `
      import { ResultsStore } from "${new URL("../../pipeline/store.ts", import.meta.url)}";
      const s = await ResultsStore.open(${JSON.stringify(dir)}, { live: true, liveEveryMs: 0 });
      await s.upsertRun({ runId: "r", experiment: "e", label: "", params: {}, seed: 0,
        status: "running", startedAt: new Date() });
      await s.query("SELECT 1"); // the first snapshot, queued after the write, is out
      console.log("open");
      for (let i = 1; i <= 200; i++) {
        await s.appendMetrics([{ runId: "r", step: i, stage: "s", name: "m", value: i }]);
        await new Promise((r) => setTimeout(r, 100));
      }`,
    ],
    stdout: "piped",
  }).spawn();
  try {
    const reader = writer.stdout.pipeThrough(new TextDecoderStream()).getReader();
    assert.equal((await reader.read()).value?.trim(), "open");
    reader.releaseLock();
    const count = async () => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await sqlMain(
        ["--results", dir, "--csv", "SELECT count(*) FROM metrics WHERE run_id = 'r'"],
        { out: (t) => out.push(t), err: (t) => err.push(t) },
      );
      assert.equal(code, 0, err.join("\n"));
      assert.match(
        err.join("\n"),
        /a run is writing .*runs\.duckdb; showing its committed results/,
      );
      return Number(out.join("").trim().split("\n")[1]);
    };
    const waitFor = async (ok: (n: number) => boolean) => {
      const t0 = Date.now();
      while (Date.now() - t0 < 15_000) {
        const n = await count();
        if (ok(n)) return n;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error("the live snapshot did not advance");
    };
    const first = await waitFor((n) => n >= 1);
    const later = await waitFor((n) => n > first);
    assert.ok(later > first && later <= 200);
  } finally {
    writer.kill("SIGKILL");
    await writer.status;
    await writer.stdout.cancel().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("live view: a live writer removes its snapshot on close", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const s = await ResultsStore.open(dir, { live: true, liveEveryMs: 0 });
    await s.upsertRun({
      runId: "r",
      experiment: "e",
      label: "",
      params: {},
      seed: 0,
      status: "running",
      startedAt: T0,
    });
    await s.query("SELECT 1"); // the queued snapshot has run
    assert.ok(Deno.statSync(join(dir, "runs.duckdb.live")).isFile);
    await s.close();
    assert.throws(() => Deno.statSync(join(dir, "runs.duckdb.live")), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
