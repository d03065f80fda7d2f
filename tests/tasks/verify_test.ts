import assert from "node:assert/strict";
import { EXAMPLE_PROBLEM } from "./fixtures.ts";
import { type Problem, verify } from "../../algorithms/tasks/mod.ts";

const problem: Problem = EXAMPLE_PROBLEM;

Deno.test("verify accepts a right expression in any order or bracketing", () => {
  for (
    const text of [
      "answer 3 * 8 - 5",
      "to verify , 19 is 19 . answer 3 * 8 - 5",
      "answer 8 * 3 - 5",
      "answer ( 3 * 8 ) - 5",
      "answer 3 * 8 - 5 <eos>",
      "answer 3 * 8 - 5 <eos> <pad> <pad>",
      "Answer 3*8-5",
    ]
  ) {
    const v = verify(problem, text);
    assert.equal(v.correct, true, text);
  }
  assert.deepEqual(verify(problem, ["answer", "3", "*", "8", "-", "5"]), {
    correct: true,
    answer: "3 * 8 - 5",
  });
});

Deno.test("verify rejects malformed answers", () => {
  for (
    const text of [
      "",
      "3 * 8 - 5",
      "answer",
      "answer 3 * 8 -",
      "answer 3 * 8 - 5 .",
      "answer 3 * 8 - 5 answer 3 * 8 - 5",
      "answer 3 * ( 8 - 5",
      "answer - 3 * 8 + 5",
      "answer 3 8 5",
      "answer 19",
      "answer 3 * 8 <unk> 5",
      "answer 3 * 8 - 5 <eos> 4",
      "answer 03 * 8 - 5",
    ]
  ) {
    const v = verify(problem, text);
    assert.equal(v.correct, false, text);
  }
  assert.equal(verify(problem, "answer 3 * 8 -").answer, null);
});

Deno.test("verify rejects answers that misuse the given numbers", () => {
  for (
    const text of [
      "answer 24 - 5", // intermediate value instead of a number
      "answer 3 * 8 - 5 + 0", // an extra number
      "answer 4 * 6 - 5", // other numbers
      "answer 3 * 8 - 5 - 3 + 3", // a number used twice
      "answer 3 * 8 + 5", // wrong value
    ]
  ) {
    const v = verify(problem, text);
    assert.equal(v.correct, false, text);
    assert.equal(v.answer, text.slice("answer ".length));
  }
});
