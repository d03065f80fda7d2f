import assert from "node:assert/strict";
import { EXAMPLE_PROBLEM } from "./fixtures.ts";
import { Rng } from "../../algorithms/rng.ts";
import {
  allProblems,
  analyseResponse,
  findFacts,
  generateProblems,
  generateProblems as gen,
  generateTrace,
  type Problem,
  rewardOf,
  splitWords,
} from "../../algorithms/tasks/mod.ts";

const problem: Problem = EXAMPLE_PROBLEM;
const analyse = (text: string) => analyseResponse(problem, splitWords(text));

Deno.test("a right first choice with clean execution", () => {
  assert.deepEqual(
    analyse(
      "let's think of this as then break it down . 3 * 8 = 24 . 24 - 5 = 19 . answer 3 * 8 - 5 <eos>",
    ),
    {
      correct: true,
      firstStrategyCorrect: true,
      nBacktracks: 0,
      execSteps: 2,
      execCorrect: 2,
      parsed: true,
      firstStrategy: "multiply subtract",
      executionSound: true,
    },
  );
});

Deno.test("a wrong first choice recovered after a backtrack, with a slip", () => {
  assert.deepEqual(
    analyse(
      "the plan is to think of this as then work our way . 3 * 8 = 24 . 24 + 5 = 28 . " +
        "but wait , let's backtrack . alternatively , think of this as then break it down . " +
        "3 * 8 = 24 . 24 - 5 = 19 . answer 3 * 8 - 5",
    ),
    {
      correct: true,
      firstStrategyCorrect: false,
      nBacktracks: 1,
      execSteps: 4,
      execCorrect: 3,
      parsed: true,
      firstStrategy: "multiply add",
      executionSound: false, // 24 + 5 = 28 is wrong, even though the answer is right
    },
  );
});

Deno.test("right plan, bad arithmetic, then a wrong switch", () => {
  assert.deepEqual(
    analyse(
      "first need to think of this as then break it down . 3 * 8 = 24 . 24 - 5 = 18 . " +
        "that can't be right . let's reconsider : work our way then work our way . " +
        "3 + 8 = 11 . 11 + 5 = 16 . answer 3 + 8 + 5",
    ),
    {
      correct: false,
      firstStrategyCorrect: true,
      nBacktracks: 1,
      execSteps: 4,
      execCorrect: 3,
      parsed: true,
      firstStrategy: "multiply subtract",
      executionSound: false,
    },
  );
});

Deno.test("degenerate responses", () => {
  assert.deepEqual(analyse("3 * 8 = 24 . answer 3 * 8 -"), {
    correct: false,
    firstStrategyCorrect: null,
    nBacktracks: 0,
    execSteps: 1,
    execCorrect: 1,
    parsed: false,
    firstStrategy: null,
    executionSound: false,
  });
  // A strategy with the wrong number of operations cannot work.
  assert.equal(
    analyse("let's think of this as . answer 3").firstStrategyCorrect,
    false,
  );
  assert.deepEqual(analyse(""), {
    correct: false,
    firstStrategyCorrect: null,
    nBacktracks: 0,
    execSteps: 0,
    execCorrect: 0,
    parsed: false,
    firstStrategy: null,
    executionSound: false,
  });
});

Deno.test("findFacts reads every a op b = c fact", () => {
  const facts = findFacts(splitWords("3 * 8 = 24 . 24 - 5 = 18 . 2 + = 4"));
  assert.deepEqual(facts, [
    { start: 0, correct: true, value: 24 },
    { start: 6, correct: false, value: 18 },
  ]);
});

Deno.test("analysis agrees with the generator's bookkeeping", () => {
  const rng = new Rng(2);
  for (const difficulty of [1, 2]) {
    for (
      const p of generateProblems({
        seed: 2,
        count: 200,
        split: "id",
        difficulty,
      })
    ) {
      const t = generateTrace(p, rng, {
        pFirstChoiceCorrect: 0.5,
        pExecError: 0.2,
        pSwitchCorrect: 0.6,
      });
      const a = analyseResponse(p, t.words.slice(t.promptLength));
      assert.equal(a.correct, t.correct);
      assert.equal(a.firstStrategyCorrect, t.firstStrategyCorrect);
      assert.equal(a.nBacktracks, t.nBacktracks);
      assert.equal(a.execSteps - a.execCorrect, t.execErrors);
      assert.ok(a.parsed);
    }
  }
});

Deno.test("strict reward needs sound execution; answer reward does not", () => {
  const r = (text: string) => [
    rewardOf(problem, splitWords(text), "answer"),
    rewardOf(problem, splitWords(text), "strict"),
  ];
  const clean =
    "let's think of this as then break it down . 3 * 8 = 24 . 24 - 5 = 19 . answer 3 * 8 - 5";
  assert.deepEqual(r(clean), [true, true]);
  // A caught slip is still a wrong computed value.
  assert.deepEqual(
    r("let's think of this as then break it down . 3 * 8 = 25 . wait , no . 3 * 8 = 24 . 24 - 5 = 19 . answer 3 * 8 - 5"),
    [true, false],
  );
  // Right facts, but the last one does not state the target.
  assert.deepEqual(r("let's think of this as then break it down . 3 * 8 = 24 . answer 3 * 8 - 5"), [
    true,
    false,
  ]);
  // No facts at all.
  assert.deepEqual(r("answer 3 * 8 - 5"), [true, false]);
  // Sound execution but a wrong answer earns nothing in either mode.
  assert.deepEqual(
    r("let's think of this as then work our way . 3 * 8 = 24 . 24 + 5 = 29 . answer 3 * 8 + 5"),
    [
      false,
      false,
    ],
  );
});

Deno.test("allProblems enumerates exactly the pools the generator draws from", () => {
  const id = allProblems("id", 1);
  assert.equal(id.length, 824);
  assert.equal(allProblems("train", 1).length, 3364);
  const ids = new Set(id.map((p) => p.id));
  assert.equal(ids.size, id.length);
  for (const p of gen({ seed: 5, count: 300, split: "id" })) assert.ok(ids.has(p.id), p.id);
  assert.ok(id.every((p) => p.split === "id"));
});
