/**
 * Advantages out: the file contract the verl and TRL shims read (bridge/FORMAT.md), checked in
 * Deno and, when python3 exists, by the shims' own plain-Python reader.
 */
import assert from "node:assert/strict";
import { DuckDBInstance } from "@duckdb/node-api";
import { advantageRecords, advantages, analysePlanning, tokenRows } from "../../bridge/analysis.ts";
import { writeAdvantages } from "../../bridge/export.ts";
import { readRollouts } from "../../bridge/readers.ts";
import { loadTokenizer } from "../../bridge/tokenizer.ts";
import { DEFAULT_CREDIT_OPTIONS } from "../../algorithms/credit/mod.ts";

const tok = await loadTokenizer("qwen3");
const all = await readRollouts("hicra", "tests/fixtures/rollouts/hicra.jsonl");

function step1(estimator: string) {
  const rows = tokenRows(all, 1, tok, 1);
  const plan = analysePlanning(rows, tok);
  const opts = { ...DEFAULT_CREDIT_OPTIONS, stdScaling: "group" as const };
  const out = advantages(rows, plan.masks, estimator, opts);
  return { rows, plan, records: advantageRecords(rows, plan.masks, out, estimator) };
}

Deno.test("advantages file: one line per rollout keyed by (step, row), HICRA rule on planning tokens", async () => {
  const dir = Deno.makeTempDirSync();
  const { rows, records } = step1("hicra");
  const grpo = (step1("grpo")).records;
  await writeAdvantages(records, `${dir}/a.jsonl`, `${dir}/a.parquet`);
  const lines = Deno.readTextFileSync(`${dir}/a.jsonl`).trimEnd().split("\n").map((l) =>
    JSON.parse(l)
  );
  assert.equal(lines.length, 64);
  assert.deepEqual(Object.keys(lines[0]).sort(), [
    "advantages",
    "estimator",
    "group",
    "planning",
    "reward",
    "row",
    "step",
    "token_ids",
  ]);
  let planningTokens = 0;
  lines.forEach((l, i) => {
    assert.equal(l.step, 1);
    assert.equal(l.row, i);
    assert.deepEqual(l.token_ids, rows[i].ids);
    assert.equal(l.advantages.length, l.token_ids.length);
    assert.equal(l.planning.length, l.token_ids.length);
    l.advantages.forEach((a: number, t: number) => {
      const base = grpo[i].advantages[t];
      // Paper rule: Â + α|Â| on planning tokens, Â elsewhere.
      const want = l.planning[t] ? base + 0.2 * Math.abs(base) : base;
      assert.ok(Math.abs(a - want) < 1e-12, `row ${i} token ${t}: ${a} vs ${want}`);
      if (l.planning[t]) planningTokens++;
    });
  });
  assert.ok(planningTokens > 500, `planning tokens: ${planningTokens}`);
  // The parquet holds the same rows.
  const db = await DuckDBInstance.create(":memory:");
  const con = await db.connect();
  const got = (await con.runAndReadAll(
    `SELECT step, row, token_ids, advantages FROM read_parquet('${dir}/a.parquet') ORDER BY row`,
  )).getRowObjectsJson();
  con.closeSync();
  db.closeSync();
  assert.equal(got.length, 64);
  got.forEach((g, i) => {
    assert.equal(Number(g.row), i);
    assert.deepEqual((g.token_ids as string[]).map(Number), lines[i].token_ids);
    assert.deepEqual((g.advantages as number[]).map(Number), lines[i].advantages);
  });
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("a failed export leaves no file behind", async () => {
  const dir = Deno.makeTempDirSync();
  const { records } = step1("hicra");
  await assert.rejects(() =>
    writeAdvantages(records, `${dir}/a.jsonl`, `${dir}/no/such/a.parquet`)
  );
  assert.deepEqual([...Deno.readDirSync(dir)], []);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("entropy estimators on text-only dumps fail with a clear message", async () => {
  const verl = await readRollouts("verl", "tests/fixtures/rollouts/verl");
  const rows = tokenRows(verl, 0, tok, 1);
  const masks = analysePlanning(rows, tok).masks;
  assert.throws(
    () => advantages(rows, masks, "high-entropy", DEFAULT_CREDIT_OPTIONS),
    /high-entropy needs per-token entropies, and row 0 of step 0 has none/,
  );
});

function python(): boolean {
  try {
    return new Deno.Command("python3", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

Deno.test({
  name: "the shims' Python reader accepts the file and rejects mismatched token ids",
  ignore: !python(),
  fn: async () => {
    const dir = Deno.makeTempDirSync();
    const { records } = step1("hicra");
    await writeAdvantages(records, `${dir}/a.jsonl`);
    const script = `
import json, sys
sys.path.insert(0, "bridge/shims")
from hicra_advantages import load_advantages, advantages_for
import hicra_verl, hicra_trl  # importable without torch / trl
t = load_advantages(sys.argv[1])
ids = [t[(1, r)]["token_ids"] for r in (3, 0)]
adv = advantages_for(t, 1, [3, 0], ids)
w = max(len(i) for i in ids)
assert all(len(a) == w for a in adv)
assert adv[0][:len(ids[0])] == t[(1, 3)]["advantages"]
assert adv[1][len(ids[1]):] == [0.0] * (w - len(ids[1]))
try:
    advantages_for(t, 1, [0], [ids[0]])
    raise SystemExit("mismatch not caught")
except ValueError as e:
    assert "token ids differ" in str(e)
print(json.dumps({"n": len(t), "width": w}))
`;
    const out = new Deno.Command("python3", { args: ["-c", script, `${dir}/a.jsonl`] })
      .outputSync();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const got = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.equal(got.n, 64);
    Deno.writeTextFileSync(
      `${dir}/b.jsonl`,
      '{"step": 0, "row": 0, "token_ids": [1], "advantages": [], "planning": [1]}\n',
    );
    const bad = new Deno.Command("python3", {
      args: [
        "-c",
        'import sys; sys.path.insert(0, "bridge/shims"); from hicra_advantages import load_advantages; load_advantages(sys.argv[1])',
        `${dir}/b.jsonl`,
      ],
    }).outputSync();
    assert.ok(!bad.success);
    assert.match(
      new TextDecoder().decode(bad.stderr),
      /b\.jsonl:1: token_ids, advantages and planning differ in length/,
    );
    Deno.removeSync(dir, { recursive: true });
  },
});
