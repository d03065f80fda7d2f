import assert from "node:assert/strict";
import { scopeToExperiment } from "../../pipeline/scope.ts";
import { ResultsStore } from "../../pipeline/store.ts";

Deno.test("scopeToExperiment: queries see one experiment's runs, then all again", async () => {
  const store = await ResultsStore.open(Deno.makeTempDirSync());
  try {
    await store.query(
      `INSERT INTO runs (run_id, experiment, label, seed, status) VALUES
       ('a1', 'main', 'x=1', 0, 'done'), ('b1', 'ablations', 'x=2', 0, 'done')`,
    );
    await store.query(
      `INSERT INTO metrics (run_id, step, stage, name, value) VALUES
       ('a1', 0, 's', 'm', 1), ('b1', 0, 's', 'm', 2), ('b1', 1, 's', 'm', 3)`,
    );
    const count = async () =>
      (await store.query("SELECT count(*) FROM runs")).rows[0][0] + "/" +
      (await store.query("SELECT count(*) FROM metrics")).rows[0][0];
    assert.equal(await count(), "2/3");
    const unscope = await scopeToExperiment(store, "ablations");
    assert.equal(await count(), "1/2");
    // A summary-style join sees only the scoped rows.
    const r = await store.query(
      "SELECT r.experiment, sum(m.value) FROM metrics m JOIN runs r USING (run_id) GROUP BY 1",
    );
    assert.deepEqual(r.rows, [["ablations", 5]]);
    await unscope();
    assert.equal(await count(), "2/3");
  } finally {
    await store.close();
  }
});
