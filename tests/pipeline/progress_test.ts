/** Progress lines and the ETA estimate of the plain reporter. */
import assert from "node:assert/strict";
import { PlainReporter } from "../../pipeline/progress.ts";

Deno.test("PlainReporter: a one-off stage does not drive the ETA of per-step stages", () => {
  const lines: string[] = [];
  const rep = new PlainReporter((s) => lines.push(s));
  rep.begin(12, 1);
  rep.plan(new Map([["warmstart", 1], ["sample", 10], ["update", 1]]), 1);
  rep.done("warmstart", false, 100);
  assert.equal(lines.at(-1), "[ 1/12] warmstart ran 1m40s");
  rep.done("sample@0", false, 2);
  // 9 samples at 2 s, and the unseen update at the mean of repeated stages (2 s).
  assert.equal(lines.at(-1), "[ 2/12] sample@0 ran 2.0s · ETA 20s");
  rep.done("sample@1", true, 0);
  assert.equal(lines.at(-1), "[ 3/12] sample@1 cached");
});

Deno.test("PlainReporter: parallel workers divide the ETA; inner progress every 10%", () => {
  const lines: string[] = [];
  const rep = new PlainReporter((s) => lines.push(s));
  rep.begin(5, 1);
  rep.plan(new Map([["sample", 5]]), 2);
  rep.done("sample@0", false, 4);
  assert.equal(lines.at(-1), "[1/5] sample@0 ran 4.0s · ETA 8.0s");
  for (let i = 1; i <= 100; i++) rep.progress("sample@1", i, 100);
  // One line per 10%: at 1% (first), 10%, 20%, …, 100%.
  assert.equal(lines.filter((l) => l.startsWith("  sample@1")).length, 11);
  rep.failed("sample@1", "boom");
  assert.equal(lines.at(-1), "[2/5] sample@1 FAILED: boom");
});
