/**
 * The row tables the lab's stages write into the results database, described
 * for `deno task sql --schema` (the engine's own tables are described in
 * `pipeline/store.ts`). Column types are inferred from the rows, so only the
 * engine's `run_id`, `step` and `stage` columns (in every row table) have one.
 *
 * @module
 */
import type { TableDoc } from "../pipeline/schema.ts";

const where = [
  ["run_id", "VARCHAR", "the run (runs.run_id)"],
  ["step", "INTEGER", "loop step of the stage instance; NULL for top-level stages"],
  ["stage", "VARCHAR", "stage name in the experiment file"],
];

function rowTable(name: string, doc: string, cols: string[][]): TableDoc {
  return {
    name,
    kind: "row table",
    doc,
    columns: [...where, ...cols].map(([n, type, d]) => ({ name: n, type, doc: d })),
  };
}

/** The lab's row tables. */
export const LAB_TABLE_DOCS: TableDoc[] = [
  rowTable("rollouts", "every sampled response of a sample stage (one per prompt × G)", [
    ["rollout", "", "index of the response in the step's batch"],
    ["problem", "", "problem id"],
    ["sample", "", "index within its prompt's group (0..G-1)"],
    ["reward", "", "reward (reward: answer | strict)"],
    ["correct", "", "the answer expression verifies"],
    ["length", "", "response length in tokens"],
    ["first_strategy_correct", "", "the first strategy stated is the one that works"],
    ["backtracks", "", "backtracking phrases in the response"],
    ["exec_steps", "", "arithmetic facts written"],
    ["exec_correct", "", "arithmetic facts that are right"],
    ["text", "", "the response text"],
  ]),
  rowTable("tokens", "every response token of an assign-credit stage (token_rows: true)", [
    ["rollout", "", "rollouts.rollout of the response"],
    ["position", "", "token index in the response"],
    ["token", "", "the token (a word)"],
    ["planning", "", "in the planning mask (Strategic Grams or the chosen method)"],
    ["oracle_planning", "", "the generator's label: inside a planning phrase"],
    ["entropy", "", "next-token entropy when it was sampled (nats)"],
    ["logprob", "", "its log-probability under the sampling policy"],
    ["advantage", "", "the advantage the estimator assigned"],
  ]),
  rowTable("evaluations", "every evaluation sample of an evaluate stage", [
    ["split", "", "id | ood"],
    ["problem", "", "problem id"],
    ["sample", "", "sample index for the problem"],
    ["correct", "", "the answer expression verifies"],
    ["length", "", "response length in tokens"],
    ["first_strategy_correct", "", "the first strategy stated is the one that works"],
    ["text", "", "the response text"],
  ]),
  rowTable("warmstart_loss", "training loss per iteration of a warmstart stage", [
    ["iteration", "", "training iteration"],
    ["loss", "", "cross-entropy loss"],
  ]),
];
