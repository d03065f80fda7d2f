/** The hand-checked example problem the task tests share: reach 19 with 3 8 5 (3 * 8 - 5). */
import type { Problem } from "../../algorithms/tasks/mod.ts";

/** `reach 19 with 3 8 5 :`, solved by multiply then subtract. */
export const EXAMPLE_PROBLEM: Problem = {
  id: "d1:3.8.5>19",
  difficulty: 1,
  split: "train",
  numbers: [3, 8, 5],
  target: 19,
  strategy: ["multiply", "subtract"],
};
