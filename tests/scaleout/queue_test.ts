/** Pure helpers of the queue layer: error messages and portable module names. */
import assert from "node:assert/strict";
import { UserError } from "../../pipeline/errors.ts";
import {
  connectQueue,
  portableModule,
  queueError,
  REPO_ROOT,
  resolveModule,
} from "../../scaleout/queue.ts";

Deno.test("queueError names the URL (password hidden) and the fix for a refused connection", () => {
  const e = new Error("connect ECONNREFUSED 10.0.0.1:5432", {
    cause: Object.assign(new Error("x"), { code: "ECONNREFUSED" }),
  });
  const u = queueError("postgres://bob:secret@10.0.0.1:5432/db", e);
  assert.ok(u instanceof UserError);
  assert.match(
    u.message,
    /^cannot reach the job queue at postgres:\/\/bob:\*\*\*@10\.0\.0\.1:5432\/db/,
  );
  assert.doesNotMatch(u.message, /secret/);
  assert.match(u.message, /scripts\/services\.sh start/);
  assert.equal(queueError("postgres://h/db", new Error("syntax error at or near x")), null);
});

Deno.test("connectQueue refuses a URL that is not PostgreSQL", async () => {
  await assert.rejects(() => connectQueue("http://localhost/x"), /expected a PostgreSQL URL/);
});

Deno.test("module names travel relative to the checkout; only local files are imported", () => {
  const url = new URL("stages/mod.ts", REPO_ROOT).href;
  assert.equal(portableModule(url), "stages/mod.ts");
  assert.equal(resolveModule("stages/mod.ts"), url);
  assert.equal(resolveModule("file:///elsewhere/x.ts"), "file:///elsewhere/x.ts");
  assert.throws(() => resolveModule("https://example.com/x.ts"), /refusing to import/);
  assert.throws(() => resolveModule("../../etc/x.ts"), /refusing to import/);
});
