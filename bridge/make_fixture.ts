/**
 * Writes the checked-in rollout fixture (tests/fixtures/rollouts/) in the three formats the
 * bridge reads, from the testbed's own generator: no third-party text.
 *
 * 4 steps × 8 prompts × 8 samples = 256 rollouts. Each response is a testbed trace (its planning
 * phrases are Strategic Grams of the paper's list) wrapped as a Qwen3 thinking response:
 * `<think>\n… trace …\n</think>\n\nanswer …`. The first strategy choice improves with the step
 * (p = 0.15 + 0.15·step, and so does the switch after a miss), as if RL were working. Reward: 1 when the strict testbed reward holds.
 *
 * The per-token log-probs and entropies of `hicra.jsonl` are SYNTHETIC (seeded draws, higher on
 * the generator's oracle planning tokens, shrinking with the step), there only to exercise the
 * token-level analyses; they come from no model.
 *
 *   deno run -A bridge/make_fixture.ts [--out DIR]
 *
 * @module
 */
import { DuckDBInstance } from "@duckdb/node-api";
import { generateProblems, generateTrace, rewardOf } from "../algorithms/tasks/mod.ts";
import { Rng } from "../algorithms/rng.ts";
import { tokenSpans } from "./align.ts";
import { loadTokenizer } from "./tokenizer.ts";

const STEPS = 4, PROMPTS = 8, SAMPLES = 8, SEED = 11;

/** One generated rollout in all the detail the three formats need. */
interface Made {
  step: number;
  prompt: string;
  response: string;
  ids: number[];
  logprobs: number[];
  entropy: number[];
  reward: number;
  format: number;
  answer: string;
}

const r3 = (x: number) => Math.round(x * 1e3) / 1e3;

/** Generates the rollouts (deterministic). */
export async function makeRollouts(): Promise<Made[]> {
  const tok = await loadTokenizer("qwen3");
  const rng = new Rng(SEED);
  const problems = generateProblems({ seed: SEED, count: STEPS * PROMPTS, split: "id" });
  const out: Made[] = [];
  for (let step = 0; step < STEPS; step++) {
    for (let p = 0; p < PROMPTS; p++) {
      const problem = problems[step * PROMPTS + p];
      for (let s = 0; s < SAMPLES; s++) {
        const tr = generateTrace(problem, rng, {
          pFirstChoiceCorrect: 0.15 + 0.15 * step,
          pExecError: 0.05,
          pSwitchCorrect: 0.2 + 0.15 * step,
        });
        const words = tr.words.slice(tr.promptLength);
        const labels = tr.planning.slice(tr.promptLength);
        const cut = words.lastIndexOf("answer");
        const think = words.slice(0, cut < 0 ? words.length : cut);
        const answer = cut < 0 ? "" : words.slice(cut).join(" ");
        const prefix = "<think>\n";
        const response = `${prefix}${think.join(" ")}\n</think>\n\n${answer}`;
        // Oracle planning characters → tokens (only to shape the synthetic entropies).
        const planChar = new Uint8Array([...response].length);
        let at = [...prefix].length;
        think.forEach((w, i) => {
          if (labels[i]) planChar.fill(1, at, at + [...w].length);
          at += [...w].length + 1;
        });
        const ids = tok.encode(response);
        const sp = tokenSpans(ids, tok);
        if (sp.text !== response) throw new Error("fixture text does not round-trip");
        const decay = 1 - 0.15 * step;
        const entropy: number[] = [], logprobs: number[] = [];
        ids.forEach((_, t) => {
          let plan = false;
          for (let c = sp.charStart[t]; c < sp.charEnd[t]; c++) plan ||= planChar[c] === 1;
          const h = decay * (plan ? 0.6 + 1.2 * rng.float() : 0.3 * rng.float() ** 2);
          entropy.push(r3(h));
          logprobs.push(r3(-h * (0.3 + 0.7 * rng.float()) - 0.001));
        });
        out.push({
          step,
          prompt: `<|im_start|>user\n${tr.words.slice(0, tr.promptLength).join(" ")}<|im_end|>\n` +
            `<|im_start|>assistant\n`,
          response,
          ids,
          logprobs,
          entropy,
          reward: rewardOf(problem, words, "strict") ? 1 : 0,
          format: answer === "" ? 0 : 0.1,
          answer: `${problem.target}`,
        });
      }
    }
  }
  return out;
}

/** Writes the fixture files under `dir`. */
export async function writeFixture(dir: string): Promise<void> {
  const rows = await makeRollouts();
  Deno.mkdirSync(`${dir}/verl`, { recursive: true });
  for (let step = 0; step < STEPS; step++) {
    const lines = rows.filter((r) => r.step === step).map((r) =>
      JSON.stringify({
        input: r.prompt,
        output: r.response,
        gts: r.answer,
        score: r.reward,
        step: r.step,
        acc: r.reward === 1,
      })
    );
    Deno.writeTextFileSync(`${dir}/verl/${step}.jsonl`, lines.join("\n") + "\n");
  }
  Deno.writeTextFileSync(
    `${dir}/hicra.jsonl`,
    rows.map((r) =>
      JSON.stringify({
        step: r.step,
        prompt: r.prompt,
        response: r.response,
        response_ids: r.ids,
        logprobs: r.logprobs,
        entropy: r.entropy,
        reward: r.reward,
        correct: r.reward === 1,
        tokenizer: "qwen3",
      })
    ).join("\n") + "\n",
  );
  // TRL: rewards per function, and GRPO's group-normalised advantage (unbiased std, as TRL).
  const trl = rows.map((r, i) => {
    const g = rows.filter((x) => x.step === r.step && x.prompt === r.prompt);
    const tot = g.map((x) => x.reward + x.format);
    const mean = tot.reduce((a, b) => a + b, 0) / tot.length;
    const sd = Math.sqrt(tot.reduce((a, b) => a + (b - mean) ** 2, 0) / (tot.length - 1));
    return {
      i,
      step: r.step,
      prompt: r.prompt,
      completion: r.response,
      correctness_reward: r.reward,
      format_reward: r.format,
      advantage: r3((r.reward + r.format - mean) / (sd + 1e-4)),
    };
  });
  const tmp = Deno.makeTempFileSync({ suffix: ".json" });
  Deno.writeTextFileSync(tmp, JSON.stringify(trl));
  const db = await DuckDBInstance.create(":memory:", { threads: "1" });
  const con = await db.connect();
  await con.run(
    `COPY (SELECT CAST(step AS BIGINT) AS step, prompt, completion, ` +
      `CAST(correctness_reward AS DOUBLE) AS correctness_reward, ` +
      `CAST(format_reward AS DOUBLE) AS format_reward, CAST(advantage AS DOUBLE) AS advantage ` +
      `FROM read_json('${tmp}') ORDER BY i) TO '${dir}/trl.parquet' (FORMAT parquet)`,
  );
  con.closeSync();
  db.closeSync();
  Deno.removeSync(tmp);
}

if (import.meta.main) {
  const i = Deno.args.indexOf("--out");
  const dir = i >= 0 ? Deno.args[i + 1] : "tests/fixtures/rollouts";
  await writeFixture(dir);
  console.log(`wrote ${dir}/verl/*.jsonl, ${dir}/trl.parquet, ${dir}/hicra.jsonl`);
}
