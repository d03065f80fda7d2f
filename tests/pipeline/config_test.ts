/**
 * Tests for experiment loading: a valid file, sweep expansion, `--set`,
 * suggestions and a corpus of malformed files under
 * `tests/fixtures/bad_configs/` whose leading comments state the expected
 * problems:
 *
 * - `# expect: [--set:]LINE:COL: message substring` (one line per problem)
 * - `# sets: path=value` (one line per `--set` argument)
 * - `# count: N` (exact number of problems)
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  ConfigError,
  formatProblems,
  loadExperimentFile,
  loadExperimentText,
  type SweepPlan,
} from "../../pipeline/config.ts";
import { editDistance, suggest, suggestFile } from "../../pipeline/suggest.ts";
import { unclosedConstructs } from "../../pipeline/yaml_syntax.ts";
import type { ConfigProblem, JsonObject, StageKind, StageRegistry } from "../../pipeline/types.ts";
import { registry as labRegistry } from "../../stages/mod.ts";

/** A stage kind that does nothing when run. */
function kind(def: Omit<StageKind, "version" | "run" | "doc">): StageKind {
  return { version: 1, doc: def.name, run: () => Promise.resolve(), ...def };
}

/** A toy registry: source, double, sum, accum. */
function toyRegistry(): StageRegistry {
  const kinds = [
    kind({
      name: "source",
      inputs: {},
      params: {
        n: { type: "integer", default: 1, min: 1, doc: "count" },
        label: { type: "string", doc: "a label" },
        mode: {
          type: "enum",
          values: ["fast", "slow"],
          default: "fast",
          doc: "speed",
        },
        weights: { type: "number[]", default: [1], doc: "weights" },
        scale: { type: "number", default: 1, min: 0, max: 10, doc: "scale" },
        verbose: { type: "boolean", default: false, doc: "chatty" },
      },
      check: (p: JsonObject) => p.label === "bad" ? ['label must not be "bad"'] : [],
    }),
    kind({
      name: "double",
      inputs: { x: { doc: "input" } },
      params: { factor: { type: "number", default: 2, doc: "factor" } },
    }),
    kind({
      name: "sum",
      inputs: { a: { doc: "first" }, b: { doc: "second", optional: true } },
      params: {},
    }),
    kind({
      name: "accum",
      inputs: { state: { doc: "state" }, x: { doc: "extra", optional: true } },
      params: {
        lr: { type: "number", default: 0.1, doc: "rate" },
        mode: {
          type: "enum",
          values: ["plain", "fancy"],
          default: "plain",
          doc: "mode",
        },
      },
    }),
  ];
  const byName = new Map(kinds.map((k) => [k.name, k]));
  return {
    get: (name) => byName.get(name),
    names: () => [...byName.keys()].sort(),
  };
}

const registry = toyRegistry();

/** Loads text and returns the ConfigError it throws (fails if none). */
function problemsOf(text: string, sets: string[] = []): ConfigError {
  try {
    loadExperimentText(text, "x.yaml", registry, sets);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

const VALID = `
name: toy
description: a toy experiment
seed: 7
runtime: { backend: cpu }
stages:
  src:
    kind: source
    with: { label: hello, n: 3 }
  dbl:
    kind: double
    needs: { x: src }
    seed: 42
  total:
    kind: sum
    needs: { a: dbl, b: acc }
loop:
  steps: 5
  init: { acc: src }
  keep_every: 2
  stages:
    acc:
      kind: accum
      with: { lr: 0.5 }
      needs: { state: prev.acc, x: dbl }
    side:
      kind: double
      every: 2
      needs: [acc]
`.replace("needs: [acc]", "needs: { x: acc }");

Deno.test("loadExperimentText() resolves a valid file with defaults, needs and loop", () => {
  const plan = loadExperimentText(VALID, "toy.yaml", registry);
  assert.equal(plan.points.length, 1);
  assert.deepEqual(plan.axes, []);
  assert.deepEqual(plan.base, {
    name: "toy",
    description: "a toy experiment",
    summary: null,
    file: "toy.yaml",
    seed: 7,
    runtime: { backend: "cpu" },
    stages: {
      src: {
        name: "src",
        kind: "source",
        params: {
          n: 3,
          label: "hello",
          mode: "fast",
          weights: [1],
          scale: 1,
          verbose: false,
        },
        needs: {},
        seed: null,
        every: 1,
        inLoop: false,
      },
      dbl: {
        name: "dbl",
        kind: "double",
        params: { factor: 2 },
        needs: { x: { stage: "src", when: "same" } },
        seed: 42,
        every: 1,
        inLoop: false,
      },
      total: {
        name: "total",
        kind: "sum",
        params: {},
        needs: {
          a: { stage: "dbl", when: "same" },
          b: { stage: "acc", when: "same" },
        },
        seed: null,
        every: 1,
        inLoop: false,
      },
      acc: {
        name: "acc",
        kind: "accum",
        params: { lr: 0.5, mode: "plain" },
        needs: {
          state: { stage: "acc", when: "prev" },
          x: { stage: "dbl", when: "same" },
        },
        seed: null,
        every: 1,
        inLoop: true,
      },
      side: {
        name: "side",
        kind: "double",
        params: { factor: 2 },
        needs: { x: { stage: "acc", when: "same" } },
        seed: null,
        every: 2,
        inLoop: true,
      },
    },
    loop: { steps: 5, init: { acc: "src" }, keepEvery: 2 },
  });
  const [point] = plan.points;
  assert.deepEqual(point.experiment, plan.base);
  assert.equal(point.label, "seed=7");
  assert.deepEqual(point.overrides, {});
  assert.match(point.runId, /^[0-9a-f]{12}$/);
});

Deno.test("loadExperimentText() reads list-form needs (input name = stage name)", () => {
  const plan = loadExperimentText(
    "name: t\nstages:\n  a: { kind: source, with: { label: a } }\n  s: { kind: sum, needs: [a] }\n",
    "t.yaml",
    registry,
  );
  assert.deepEqual(plan.base.stages.s.needs, {
    a: { stage: "a", when: "same" },
  });
  assert.equal(plan.base.seed, 0);
  assert.equal(plan.base.description, "");
  assert.deepEqual(plan.base.runtime, {});
  assert.equal(plan.base.loop, null);
  const error = problemsOf(
    "name: t\nstages:\n  x: { kind: source, with: { label: a } }\n  s: { kind: sum, needs: [x] }\n",
  );
  // The misspelt input is not also reported missing.
  assert.deepEqual(error.problems.map((p) => p.message), [
    'stages.s.needs[0]: unknown input "x"; did you mean "a"? (inputs of "sum": a, b)',
  ]);
  const far = problemsOf(
    "name: t\nstages:\n  xyz: { kind: source, with: { label: a } }\n  s: { kind: sum, needs: [xyz] }\n",
  );
  assert.deepEqual(far.problems.map((p) => p.message), [
    'stages.s.needs: missing input "a" of kind "sum" (first); wire it, e.g. needs: { a: STAGE }',
    'stages.s.needs[0]: unknown input "xyz" (inputs of "sum": a, b); name the input with a map, e.g. needs: { a: xyz }',
  ]);
});

const SWEEP = `
name: sw
stages:
  src:
    kind: source
    with: { label: a }
  dbl:
    kind: double
    needs: { x: src }
sweep:
  seeds: [0, 1]
  grid:
    src.n: [1, 2, 3]
    src.mode: [fast, slow]
  zip:
    dbl.factor: [1, 2]
    stages.src.with.scale: [0.5, 1.5]
`;

Deno.test("loadExperimentText() expands grid x zip x seeds in file order", () => {
  const plan = loadExperimentText(SWEEP, "sw.yaml", registry);
  assert.equal(plan.points.length, 3 * 2 * 2 * 2);
  assert.deepEqual(plan.axes, [
    "src.n",
    "src.mode",
    "dbl.factor",
    "src.scale",
    "seed",
  ]);
  assert.deepEqual(plan.points.slice(0, 3).map((p) => p.label), [
    "src.n=1 src.mode=fast dbl.factor=1 src.scale=0.5 seed=0",
    "src.n=1 src.mode=fast dbl.factor=1 src.scale=0.5 seed=1",
    "src.n=1 src.mode=fast dbl.factor=2 src.scale=1.5 seed=0",
  ]);
  assert.equal(
    plan.points.at(-1)!.label,
    "src.n=3 src.mode=slow dbl.factor=2 src.scale=1.5 seed=1",
  );
  const last = plan.points.at(-1)!;
  assert.deepEqual(last.overrides, {
    "src.n": 3,
    "src.mode": "slow",
    "dbl.factor": 2,
    "src.scale": 1.5,
    seed: 1,
  });
  assert.equal(last.experiment.seed, 1);
  assert.equal(last.experiment.stages.src.params.n, 3);
  assert.equal(last.experiment.stages.src.params.scale, 1.5);
  assert.equal(last.experiment.stages.dbl.params.factor, 2);
  assert.equal(new Set(plan.points.map((p) => p.runId)).size, 24);
  // The base has no sweep applied.
  assert.equal(plan.base.seed, 0);
  assert.equal(plan.base.stages.src.params.n, 1);
});

Deno.test("loadExperimentText() run ids are stable and identical points are kept once", () => {
  const a = loadExperimentText(SWEEP, "sw.yaml", registry);
  const b = loadExperimentText(
    SWEEP.replace("name: sw", "name: sw\ndescription: other words"),
    "elsewhere/sw.yaml",
    registry,
  );
  assert.deepEqual(a.points.map((p) => p.runId), b.points.map((p) => p.runId));
  const renamed = loadExperimentText(
    SWEEP.replace("name: sw", "name: sw2"),
    "sw.yaml",
    registry,
  );
  assert.notEqual(renamed.points[0].runId, a.points[0].runId);
  // n=1 is the default, so the first two grid values give the same experiment.
  const dup = loadExperimentText(
    "name: d\nstages:\n  src: { kind: source, with: { label: a } }\nsweep:\n  grid: { src.n: [1, 2, 1] }\n",
    "d.yaml",
    registry,
  );
  assert.deepEqual(dup.points.map((p) => p.label), [
    "src.n=1 seed=0",
    "src.n=2 seed=0",
  ]);
  const plain = loadExperimentText(
    "name: d\nstages:\n  src: { kind: source, with: { label: a } }\n",
    "d.yaml",
    registry,
  );
  assert.equal(dup.points[0].runId, plain.points[0].runId);
});

const ABLATION = `
name: ab
stages:
  src: { kind: source, with: { label: a } }
loop:
  steps: 4
  stages:
    acc: { kind: accum, needs: { state: src } }
sweep:
  seeds: [3, 4]
  ablation:
    baseline: { acc.mode: plain, src.n: 2 }
    conditions:
      base: {}
      fancy: { acc.mode: fancy }
      fast: { acc.lr: 0.9, loop.steps: 2 }
`;

Deno.test("loadExperimentText() expands an ablation: baseline plus one change per condition", () => {
  const plan = loadExperimentText(ABLATION, "ab.yaml", registry);
  assert.deepEqual(plan.points.map((p) => p.label), [
    "condition=base seed=3",
    "condition=base seed=4",
    "condition=fancy seed=3",
    "condition=fancy seed=4",
    "condition=fast seed=3",
    "condition=fast seed=4",
  ]);
  assert.deepEqual(plan.axes, [
    "condition",
    "acc.mode",
    "acc.lr",
    "loop.steps",
    "seed",
  ]);
  const fancy = plan.points[2];
  assert.deepEqual(fancy.overrides, {
    condition: "fancy",
    "acc.mode": "fancy",
    "src.n": 2,
    seed: 3,
  });
  assert.equal(fancy.experiment.stages.acc.params.mode, "fancy");
  assert.equal(fancy.experiment.stages.src.params.n, 2);
  const fast = plan.points[4].experiment;
  assert.equal(fast.loop?.steps, 2);
  assert.equal(fast.stages.acc.params.lr, 0.9);
  assert.equal(fast.stages.acc.params.mode, "plain");
  assert.equal(plan.base.stages.src.params.n, 1);
});

Deno.test("loadExperimentText() applies --set: single values everywhere, lists as axes", () => {
  const single = loadExperimentText(SWEEP, "sw.yaml", registry, [
    "src.n=5",
    "runtime.backend=wasm",
  ]);
  assert.equal(single.base.stages.src.params.n, 5);
  assert.deepEqual(single.base.runtime, { backend: "wasm" });
  assert.equal(single.points.length, 2 * 2 * 2, "the src.n axis is replaced");
  assert.ok(single.points.every((p) => p.experiment.stages.src.params.n === 5));
  assert.equal(single.points[0].overrides["src.n"], 5);
  assert.ok(!single.axes.includes("src.n"));

  const multi = loadExperimentText(SWEEP, "sw.yaml", registry, [
    "stages.src.with.n=7,8",
    "seed=0,1,2",
    "dbl.factor=3,4",
    "src.weights=[1, 2],[3]",
  ]);
  assert.equal(multi.points.length, 2 * 2 * 2 * 2 * 3);
  assert.deepEqual(multi.axes, [
    "src.n",
    "src.mode",
    "src.weights",
    "dbl.factor",
    "src.scale",
    "seed",
  ]);
  assert.equal(
    multi.points[0].label,
    "src.n=7 src.mode=fast src.weights=[1,2] dbl.factor=3 src.scale=0.5 seed=0",
  );
  assert.deepEqual(multi.points[0].experiment.stages.src.params.weights, [
    1,
    2,
  ]);

  const seeds = loadExperimentText(
    "name: s\nstages:\n  src: { kind: source, with: { label: a } }\n",
    "s.yaml",
    registry,
    ["seed=0,1", "src.verbose=true", "src.label=hicra"],
  );
  // Single-value sets are in the label, so modified runs do not group with the file's.
  assert.deepEqual(seeds.points.map((p) => p.label), [
    "src.verbose=true src.label=hicra seed=0",
    "src.verbose=true src.label=hicra seed=1",
  ]);
  assert.equal(seeds.base.stages.src.params.verbose, true);
  assert.equal(seeds.base.stages.src.params.label, "hicra");
  assert.deepEqual(seeds.axes, ["seed"]);

  const fixed = loadExperimentText(SWEEP, "sw.yaml", registry, ["seed=9"]);
  assert.equal(fixed.points.length, 12);
  assert.ok(fixed.points.every((p) => p.experiment.seed === 9));
});

Deno.test("loadExperimentText() rejects a zip --set of the wrong length", () => {
  const error = problemsOf(SWEEP, ["dbl.factor=1,2,3"]);
  assert.equal(
    error.message,
    '--set:1:1: sweep.zip: "dbl.factor" has 3 values but "src.scale" has 2; zip lists must have the same length (from --set "dbl.factor=1,2,3" (argument 1))',
  );
});

Deno.test("loadExperimentText() reports malformed --set arguments with their position", () => {
  const text = "name: s\nstages:\n  src: { kind: source, with: { label: a } }\n";
  const error = problemsOf(text, ["=1", "src.n=", "src.n=1,,2", "src.n=[1"]);
  assert.deepEqual(error.problems.map((p) => `${p.file}:${p.line}:${p.col}`), [
    "--set:1:1",
    "--set:1:2",
    "--set:1:3",
    "--set:1:4",
  ]);
  assert.match(
    error.problems[0].message,
    /\(argument 1\): the path before "=" is empty/,
  );
  assert.match(error.problems[1].message, /\(argument 2\): no value after "="/);
  assert.match(
    error.problems[2].message,
    /\(argument 3\): empty value in the list/,
  );
  assert.match(
    error.problems[3].message,
    /\(argument 4\): cannot parse value "\[1"/,
  );
});

Deno.test("suggest() returns the closest candidate within the distance limit", () => {
  assert.equal(editDistance("kidn", "kind"), 1);
  assert.equal(editDistance("sampel", "sample"), 1);
  assert.equal(editDistance("abc", "abc"), 0);
  assert.equal(suggest("kidn", ["kind", "with", "needs"]), "kind");
  assert.equal(suggest("updat", ["sample", "update"]), "update");
  assert.equal(suggest("hicraa", ["grpo", "hicra"]), "hicra");
  assert.equal(suggest("Seed", ["seed"]), "seed");
  assert.equal(suggest("zzzzzz", ["kind", "with"]), undefined);
  assert.equal(suggest("ab", ["xy"]), undefined);
  assert.equal(
    suggest("assign-credit.alfa", ["assign-credit.alpha", "x.y"]),
    "assign-credit.alpha",
  );
});

Deno.test("ConfigError lists every problem as FILE:LINE:COL: message", () => {
  const problems: ConfigProblem[] = [
    { file: "a.yaml", line: 2, col: 3, message: "first" },
    { file: "a.yaml", line: 9, col: 1, message: "second" },
  ];
  assert.equal(
    formatProblems(problems),
    "a.yaml:2:3: first\na.yaml:9:1: second",
  );
  const error = new ConfigError(problems);
  assert.equal(error.message, formatProblems(problems));
  assert.equal(error.name, "ConfigError");
});

Deno.test("loadExperimentFile() reports a missing file as a ConfigError", async () => {
  await assert.rejects(
    () => loadExperimentFile("tests/fixtures/no_such_file.yaml", registry),
    (error: unknown) => error instanceof ConfigError && /file not found/.test(error.message),
  );
});

/** Expectations parsed from a fixture's leading comments. */
interface Expectation {
  sets: string[];
  count: number | undefined;
  problems: { file: string; line: number; col: number; text: string }[];
}

/** Reads `# expect:`, `# sets:` and `# count:` comments. */
function readExpectations(text: string, file: string): Expectation {
  const out: Expectation = { sets: [], count: undefined, problems: [] };
  for (const line of text.split("\n")) {
    if (!line.startsWith("# ")) continue;
    const expect = line.match(/^# expect: (--set:)?(\d+):(\d+): (.+)$/);
    if (expect) {
      out.problems.push({
        file: expect[1] ? "--set" : file,
        line: Number(expect[2]),
        col: Number(expect[3]),
        text: expect[4],
      });
    }
    const sets = line.match(/^# sets: (.+)$/);
    if (sets) out.sets.push(sets[1]);
    const count = line.match(/^# count: (\d+)$/);
    if (count) out.count = Number(count[1]);
  }
  return out;
}

const CORPUS = new URL("../fixtures/bad_configs/", import.meta.url);
const fixtures = [...Deno.readDirSync(CORPUS)]
  .map((e) => e.name)
  .filter((n) => n.endsWith(".yaml"))
  .sort();

Deno.test("bad config corpus has at least 35 cases, each with expectations", () => {
  assert.ok(fixtures.length >= 35, `only ${fixtures.length} fixtures`);
  for (const name of fixtures) {
    const text = Deno.readTextFileSync(new URL(name, CORPUS));
    const exp = readExpectations(text, name);
    assert.ok(exp.problems.length > 0, `${name} has no "# expect:" line`);
  }
});

for (const name of fixtures) {
  Deno.test(`bad config ${name} is rejected with the expected problems`, async () => {
    const path = new URL(name, CORPUS).pathname;
    const text = await Deno.readTextFile(path);
    const exp = readExpectations(text, path);
    let error: unknown;
    let plan: SweepPlan | undefined;
    try {
      plan = await loadExperimentFile(path, registry, exp.sets);
    } catch (e) {
      error = e;
    }
    assert.equal(plan, undefined, `${name} loaded without errors`);
    if (!(error instanceof ConfigError)) throw error;
    const problems: ConfigProblem[] = error.problems;
    const message: string = error.message;
    assert.ok(!message.includes("    at "), `${name}: stack trace in output`);
    assert.equal(message, formatProblems(problems));
    for (const want of exp.problems) {
      const found = problems.find((p) =>
        p.file === want.file && p.line === want.line && p.col === want.col &&
        p.message.includes(want.text)
      );
      assert.ok(
        found,
        `${name}: expected ${want.file}:${want.line}:${want.col}: ${want.text}\ngot:\n${message}`,
      );
    }
    if (exp.count !== undefined) {
      assert.equal(problems.length, exp.count, `${name}:\n${message}`);
    }
  });
}

Deno.test("an ablation without an unchanged condition gets an implicit baseline point", () => {
  const text = ABLATION.replace("      base: {}\n", "");
  const plan = loadExperimentText(text, "ab.yaml", registry);
  assert.deepEqual(plan.points.map((p) => p.label).filter((l) => l.endsWith("seed=3")), [
    "condition=baseline seed=3",
    "condition=fancy seed=3",
    "condition=fast seed=3",
  ]);
  assert.equal(plan.points[0].experiment.stages.src.params.n, 2);
});

// ---------------------------------------------------------------------------
// Held-out corpus (issue 14): malformed experiments over the lab's real stage
// kinds, expectations in tests/fixtures/bad_corpus/expectations.json.

/** One case of the held-out corpus. */
interface HeldOutCase {
  name: string;
  file: string;
  sets: string[];
  cli: boolean;
  count: number;
  /** `[--set:]LINE:COL: message substring`, one per problem. */
  expect: string[];
}

const HELD_OUT = new URL("../fixtures/bad_corpus/", import.meta.url);
const heldOut: HeldOutCase[] = JSON.parse(
  Deno.readTextFileSync(new URL("expectations.json", HELD_OUT)),
).cases;

/** Splits `[--set:]LINE:COL: text` into its parts. */
function parseExpect(line: string, file: string) {
  const m = line.match(/^(--set:)?(\d+):(\d+): (.+)$/);
  if (!m) throw new Error(`bad expectation ${line}`);
  return { file: m[1] ? "--set" : file, line: Number(m[2]), col: Number(m[3]), text: m[4] };
}

/** True when no line of `text` looks like a stack trace or an uncaught error. */
function noStackTrace(text: string): boolean {
  return !/^\s+at |Uncaught|Stack backtrace|\.ts:\d+:\d+\)?$/m.test(text);
}

Deno.test("held-out corpus: at least 60 cases, every schema area, every case distinct", () => {
  assert.ok(heldOut.length >= 60, `only ${heldOut.length} cases`);
  const names = new Set(heldOut.map((c) => c.name));
  assert.equal(names.size, heldOut.length);
  for (const c of heldOut) {
    assert.equal(c.expect.length, c.count, `${c.name}: one expectation per problem`);
    if (c.sets.length === 0) {
      assert.ok(Deno.statSync(new URL(c.file, HELD_OUT)).isFile, c.file);
    }
  }
  // The base file of the --set cases is valid, so each --set case fails for its own reason.
  const base = new URL("base.yaml", HELD_OUT).pathname;
  return loadExperimentFile(base, labRegistry).then((plan) => assert.equal(plan.points.length, 1));
});

for (const c of heldOut) {
  Deno.test(`held-out ${c.name}: every problem at its FILE:LINE:COL`, async () => {
    const path = new URL(c.file, HELD_OUT).pathname;
    let error: unknown;
    try {
      await loadExperimentFile(path, labRegistry, c.sets);
    } catch (e) {
      error = e;
    }
    if (!(error instanceof ConfigError)) throw error ?? new Error(`${c.name} loaded`);
    assert.ok(noStackTrace(error.message), `${c.name}: stack trace\n${error.message}`);
    for (const line of c.expect) {
      const want = parseExpect(line, path);
      assert.ok(
        error.problems.some((p) =>
          p.file === want.file && p.line === want.line && p.col === want.col &&
          p.message.includes(want.text)
        ),
        `${c.name}: expected ${want.file}:${want.line}:${want.col}: ${want.text}\ngot:\n${error.message}`,
      );
    }
    assert.equal(error.problems.length, c.count, `${c.name}:\n${error.message}`);
  });
}

const RUN_CLI = new URL("../../cli/run.ts", import.meta.url).pathname;

/** Runs the real `run` command; returns its exit code and output. */
async function runReal(args: string[]) {
  const results = Deno.makeTempDirSync();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", RUN_CLI, ...args, "--results", results],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  Deno.removeSync(results, { recursive: true });
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

/** Runs `items` through `fn`, `width` at a time (the machine has few cores). */
async function pool<T>(items: T[], width: number, fn: (item: T) => Promise<void>) {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: width }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item);
    }),
  );
}

Deno.test("held-out corpus through the real CLI: exit 2, FILE:LINE:COL lines, no stack trace", async () => {
  const cases = heldOut.filter((c) => c.cli);
  assert.ok(cases.length >= 20);
  await pool(cases, 2, async (c) => {
    const path = new URL(c.file, HELD_OUT).pathname;
    const sets = c.sets.flatMap((s) => ["--set", s]);
    const r = await runReal([path, "--dry-run", ...sets]);
    assert.equal(r.code, 2, `${c.name}: exit code\n${r.stderr}`);
    assert.ok(noStackTrace(r.stderr + r.stdout), `${c.name}: stack trace\n${r.stderr}`);
    for (const line of c.expect) {
      const want = parseExpect(line, path);
      assert.ok(
        r.stderr.includes(`${want.file}:${want.line}:${want.col}: `) &&
          r.stderr.split("\n").some((l) =>
            l.startsWith(`${want.file}:${want.line}:${want.col}: `) && l.includes(want.text)
          ),
        `${c.name}: expected ${line}\ngot:\n${r.stderr}`,
      );
    }
    const plural = c.count === 1 ? "problem" : "problems";
    assert.match(
      r.stderr,
      new RegExp(`error: ${c.count} ${plural} in the experiment; nothing was run`),
    );
  });
});

Deno.test("the real CLI: a missing file, a directory, bad options end with the fix, exit 2", async () => {
  const dir = new URL(".", HELD_OUT).pathname.replace(/\/$/, "");
  const cases: [string[], RegExp][] = [
    [
      [`${dir}/bas.yaml`],
      /bas\.yaml:1:1: .*file not found; expected FILE\.yaml; did you mean .*bad_corpus\/base\.yaml\?/,
    ],
    [
      [`${dir}/base`],
      /file not found; expected FILE\.yaml; did you mean .*bad_corpus\/base\.yaml\?/,
    ],
    [[dir], /it is a directory; expected FILE\.yaml, e\.g\. .*bad_corpus\/base\.yaml/],
    [[`${dir}/base.yaml`, "--force", "updat"], /--force updat: no stage of that name/],
    [[`${dir}/base.yaml`, "--jobs", "0"], /--jobs must be a positive integer, got "0"/],
    [[`${dir}/base.yaml`, "--sets", "x=1"], /unknown option --sets; did you mean --set\?/],
  ];
  await pool(cases, 2, async ([args, want]) => {
    const r = await runReal([...args, "--dry-run"]);
    assert.equal(r.code, 2, `${args.join(" ")}\n${r.stderr}`);
    assert.match(r.stderr, want);
    assert.ok(noStackTrace(r.stderr), r.stderr);
  });
});

Deno.test("suggestFile() finds the file meant: extension added, misspelt, in another folder", () => {
  const dir = Deno.makeTempDirSync();
  Deno.mkdirSync(`${dir}/experiments`);
  for (const f of ["hicra.yaml", "smoke.yaml"]) {
    Deno.writeTextFileSync(`${dir}/experiments/${f}`, "");
  }
  Deno.writeTextFileSync(`${dir}/notes.txt`, "");
  const exts = [".yaml", ".yml"];
  assert.equal(suggestFile(`${dir}/experiments/hicra`, exts), `${dir}/experiments/hicra.yaml`);
  assert.equal(suggestFile(`${dir}/experiments/hicr.yaml`, exts), `${dir}/experiments/hicra.yaml`);
  assert.equal(suggestFile(`${dir}/experiments/smok.yml`, exts), `${dir}/experiments/smoke.yaml`);
  // Not in its own folder: the closest name in a fallback folder.
  assert.equal(
    suggestFile(`${dir}/hicra.yaml`, exts, [`${dir}/experiments`]),
    `${dir}/experiments/hicra.yaml`,
  );
  // A directory: its first matching file.
  assert.equal(suggestFile(`${dir}/experiments`, exts), `${dir}/experiments/hicra.yaml`);
  assert.equal(suggestFile(`${dir}/zzzzzz.yaml`, exts, [`${dir}/experiments`]), undefined);
  assert.equal(suggestFile(`${dir}/notes`, exts), undefined);
});

Deno.test("unclosedConstructs() finds unclosed brackets and quotes, not closed or escaped ones", () => {
  assert.deepEqual(unclosedConstructs("a: { b: [1, 2], c: \"x\\\"y\", d: 'it''s' }\n"), []);
  assert.deepEqual(unclosedConstructs("a: { b: 1\nc: 2\n"), [
    { offset: 3, what: "flow map", close: "}" },
  ]);
  // A list closed by the wrong bracket is still open.
  const list = unclosedConstructs("a: { b: [1, 2 }\n");
  assert.deepEqual(list.at(-1), { offset: 8, what: "flow list", close: "]" });
  assert.deepEqual(unclosedConstructs('a: "x\\"\nb: 1\n'), [
    { offset: 3, what: "quoted string", close: '"' },
  ]);
});
