import assert from "node:assert/strict";
import {
  allStrategies,
  chainValues,
  DIFFICULTIES,
  difficultySpec,
  formatPrompt,
  generateProblems,
  MAX_VALUE,
  promptLength,
  splitOf,
} from "../../algorithms/tasks/mod.ts";

Deno.test("generateProblems is deterministic in the seed", () => {
  const a = generateProblems({ seed: 5, count: 50, split: "train" });
  const b = generateProblems({ seed: 5, count: 50, split: "train" });
  const c = generateProblems({ seed: 6, count: 50, split: "train" });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  const again = generateProblems({
    seed: 5,
    count: 4000,
    split: "train",
    distinct: false,
  });
  assert.ok(new Set(again.map((p) => p.id)).size < again.length);
});

Deno.test("train, id and ood draw disjoint instances", () => {
  for (const spec of DIFFICULTIES) {
    const d = spec.level;
    const ids = (split: "train" | "id" | "ood", count: number) =>
      new Set(
        generateProblems({ seed: 1, count, split, difficulty: d }).map((p) => p.id),
      );
    const train = ids("train", 2000);
    const id = ids("id", 500);
    const ood = ids("ood", 500);
    for (const x of id) assert.ok(!train.has(x) && !ood.has(x), x);
    for (const x of ood) assert.ok(!train.has(x), x);
  }
});

Deno.test("every problem has exactly one working strategy and writable values", () => {
  for (const split of ["train", "id", "ood"] as const) {
    for (const spec of DIFFICULTIES) {
      const problems = generateProblems({
        seed: 2,
        count: 300,
        split,
        difficulty: spec.level,
      });
      for (const p of problems) {
        assert.equal(p.split, split);
        assert.equal(splitOf(p.difficulty, p.numbers, p.target), split);
        assert.equal(p.numbers.length, spec.nNumbers);
        const values = chainValues(p.numbers, p.strategy);
        assert.equal(values.at(-1), p.target);
        assert.ok(values.every((v) => v >= 0 && v <= MAX_VALUE));
        const solvers = allStrategies(spec.nNumbers - 1).filter((s) =>
          chainValues(p.numbers, s).at(-1) === p.target
        );
        assert.equal(solvers.length, 1, p.id);
      }
    }
  }
});

Deno.test("solving strategies are roughly uniform", () => {
  const problems = [
    ...generateProblems({ seed: 3, count: 450, split: "train" }),
    ...generateProblems({
      seed: 3,
      count: 1350,
      split: "train",
      distinct: false,
    }),
  ];
  const counts = new Map<string, number>();
  for (const p of problems) {
    const k = p.strategy.join(" ");
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  assert.equal(counts.size, 9);
  for (const [k, n] of counts) assert.ok(n > 120 && n < 280, `${k}: ${n}`);
});

Deno.test("ood problems use larger inputs; train and id stay in range", () => {
  for (const spec of DIFFICULTIES) {
    const hi = spec.inputRange[1];
    for (const split of ["train", "id"] as const) {
      const problems = generateProblems({
        seed: 4,
        count: 300,
        split,
        difficulty: spec.level,
      });
      assert.ok(problems.every((p) => p.numbers.every((n) => n <= hi)));
    }
    const ood = generateProblems({
      seed: 4,
      count: 300,
      split: "ood",
      difficulty: spec.level,
    });
    assert.ok(ood.every((p) => p.numbers.some((n) => n > hi)));
    assert.ok(
      ood.every((p) => p.numbers.every((n) => n <= spec.oodInputRange[1])),
    );
  }
});

Deno.test("prompts of one difficulty have the same length", () => {
  for (const spec of DIFFICULTIES) {
    for (const split of ["train", "id", "ood"] as const) {
      const problems = generateProblems({
        seed: 9,
        count: 200,
        split,
        difficulty: spec.level,
      });
      for (const p of problems) {
        assert.equal(formatPrompt(p).length, promptLength(spec.level));
      }
    }
  }
  assert.deepEqual(
    formatPrompt(generateProblems({ seed: 1, count: 1, split: "id" })[0])
      .slice(0, 1),
    ["reach"],
  );
});

Deno.test("unknown difficulty and exhausted pools fail with clear errors", () => {
  assert.throws(() => difficultySpec(7), /Unknown difficulty 7/);
  assert.throws(
    () => generateProblems({ seed: 0, count: 100_000, split: "id" }),
    /Cannot generate 100000 distinct "id" problems at difficulty 1/,
  );
});
